// Wall-clock <-> instant conversions in an IANA time zone, without a date library.
// `<input type="datetime-local">` values ("YYYY-MM-DDTHH:mm") are read and shown in the
// user's zone (`me.timezone`), never the browser's.

export interface WallParts {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    partsFormatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock reading in `timeZone` at instant `ms`. */
export function wallPartsAt(ms: number, timeZone: string): WallParts {
  const out: Record<string, number> = {};
  for (const p of partsFormatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return {
    year: out.year ?? 1970,
    month: out.month ?? 1,
    day: out.day ?? 1,
    hour: (out.hour ?? 0) % 24,
    minute: out.minute ?? 0,
    second: out.second ?? 0,
  };
}

/** Offset of `timeZone` from UTC at instant `ms`, in minutes (Berlin in winter: +60). */
export function offsetMinutesAt(ms: number, timeZone: string): number {
  const w = wallPartsAt(ms, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

/**
 * The instant at which the wall clock in `timeZone` reads `w`. In a DST gap the time is
 * moved forward by the gap (02:30 → 03:30); in an overlap the earlier instant is chosen.
 */
export function wallToInstant(w: WallParts, timeZone: string): number {
  const guess = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  const before = offsetMinutesAt(guess - 43200000, timeZone);
  const after = offsetMinutesAt(guess + 43200000, timeZone);
  const matches = (t: number) => {
    const back = wallPartsAt(t, timeZone);
    return back.day === w.day && back.hour === w.hour && back.minute === w.minute;
  };
  const candidates = [guess - before * 60000, guess - after * 60000].filter(matches).sort((a, b) => a - b);
  return candidates[0] ?? guess - before * 60000;
}

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');

/** RFC 3339 with the zone's offset at that instant, e.g. 2026-12-01T09:00:00+01:00. */
export function formatRfc3339(ms: number, timeZone: string): string {
  const w = wallPartsAt(ms, timeZone);
  const off = offsetMinutesAt(ms, timeZone);
  const sign = off < 0 ? '-' : '+';
  return (
    `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}` +
    `${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`
  );
}

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** "YYYY-MM-DDTHH:mm" in `timeZone` → RFC 3339 string, or null when empty/invalid. */
export function localInputToRfc3339(value: string, timeZone: string): string | null {
  const m = LOCAL_RE.exec(value.trim());
  if (!m) return null;
  const w: WallParts = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: Number(m[6] ?? 0),
  };
  return formatRfc3339(wallToInstant(w, timeZone), timeZone);
}

/** RFC 3339 instant → "YYYY-MM-DDTHH:mm" as the wall clock in `timeZone` reads it. */
export function rfc3339ToLocalInput(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  const w = wallPartsAt(ms, timeZone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

/** "YYYY-MM-DD" of the instant in `timeZone`. */
export function dateInZone(ms: number, timeZone: string): string {
  const w = wallPartsAt(ms, timeZone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
}

/** Midnight starting the day `addDays` after the day containing `ms`, in `timeZone`. */
export function startOfDay(ms: number, timeZone: string, addDays = 0): number {
  const w = wallPartsAt(ms, timeZone);
  const d = new Date(Date.UTC(w.year, w.month - 1, w.day + addDays));
  return wallToInstant(
    { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0, second: 0 },
    timeZone,
  );
}

/** Human-friendly date-time in the user's zone, e.g. "Mon, 30 Nov, 21:37". */
export function formatDateTime(iso: string, timeZone: string, opts: { withYear?: boolean } = {}): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Intl.DateTimeFormat(undefined, {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: opts.withYear ? 'numeric' : undefined,
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(ms));
}

/** Days within which a date reads as "in 3 days"; further ones read as the date itself. */
export const NEAR_DAYS = 6;

/**
 * "today", "tomorrow", "in 3 days", "2 days ago" relative to now, by calendar days in
 * `timeZone`; further away the date itself ("Thu 14 Jan", with the year when it is not this one).
 */
export function relativeDay(iso: string, timeZone: string, now: number = Date.now()): string {
  const ms = Date.parse(iso);
  const days = Math.round((startOfDay(ms, timeZone) - startOfDay(now, timeZone)) / 86400000);
  if (days === 0) return 'today';
  if (days === 1) return 'tomorrow';
  if (days === -1) return 'yesterday';
  if (Math.abs(days) <= NEAR_DAYS) return days > 0 ? `in ${days} days` : `${-days} days ago`;
  const sameYear = wallPartsAt(ms, timeZone).year === wallPartsAt(now, timeZone).year;
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: sameYear ? undefined : 'numeric',
  }).format(new Date(ms)).replace(',', '');
}

/** The browser's zone, used as the default at sign-up. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

const UTC_STAMP = /\b(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(?::\d{2})? UTC\b/g;

/**
 * Server-written texts (e.g. a reminder's body "Due at 2026-11-28 22:51 UTC") name times in
 * UTC; show them in the user's zone like every other time in the app.
 */
export function localizeUtcTimes(text: string, timeZone: string): string {
  return text.replace(UTC_STAMP, (whole, date: string, time: string) => {
    const ms = Date.parse(`${date}T${time}:00Z`);
    return Number.isNaN(ms) ? whole : formatDateTime(new Date(ms).toISOString(), timeZone, { withYear: true });
  });
}

/** IANA zone names to offer, sorted, always including `current` (and UTC). */
export function timeZoneNames(current: string): string[] {
  let names: string[] = [];
  try {
    names = Intl.supportedValuesOf('timeZone');
  } catch {
    names = [];
  }
  const set = new Set(names);
  set.add('UTC');
  if (current) set.add(current);
  return [...set].sort((a, b) => a.localeCompare(b));
}
