// Calendar arithmetic on day keys ("YYYY-MM-DD" as the wall clock in the user's zone reads
// them). Days are counted on the proleptic Gregorian calendar through Date.UTC, so a DST
// change in the user's zone never makes a day disappear or repeat.
import { dateInZone, formatRfc3339, wallPartsAt, wallToInstant } from './datetime';

export type DayKey = string;

const KEY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function keyToUtc(key: DayKey): Date {
  const m = KEY_RE.exec(key);
  if (!m) throw new Error(`not a day key: ${key}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

function utcToKey(d: Date): DayKey {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** The day `n` days after `key` (before, when negative). */
export function addDays(key: DayKey, n: number): DayKey {
  const d = keyToUtc(key);
  d.setUTCDate(d.getUTCDate() + n);
  return utcToKey(d);
}

/** 0 = Monday … 6 = Sunday (weeks start on Monday, as ISO 8601 has them). */
export function weekdayIndex(key: DayKey): number {
  return (keyToUtc(key).getUTCDay() + 6) % 7;
}

/** The Monday of the week containing `key`. */
export function startOfWeek(key: DayKey): DayKey {
  return addDays(key, -weekdayIndex(key));
}

/** The seven days of the week containing `key`, Monday first. */
export function weekDays(key: DayKey): DayKey[] {
  const first = startOfWeek(key);
  return Array.from({ length: 7 }, (_, i) => addDays(first, i));
}

/** Whole weeks (Monday to Sunday) covering every day of the month: 4 to 6 rows of 7. */
export function monthGrid(year: number, month: number): DayKey[][] {
  const first = `${pad(year, 4)}-${pad(month)}-01`;
  const last = addDays(`${pad(month === 12 ? year + 1 : year, 4)}-${pad(month === 12 ? 1 : month + 1)}-01`, -1);
  const weeks: DayKey[][] = [];
  for (let start = startOfWeek(first); start <= last; start = addDays(start, 7)) weeks.push(weekDays(start));
  return weeks;
}

/** The year and month (1-12) of a day key. */
export function monthOf(key: DayKey): { year: number; month: number } {
  const d = keyToUtc(key);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1 };
}

/** The first day of the month `n` months after the month of `key`. */
export function addMonths(key: DayKey, n: number): DayKey {
  const { year, month } = monthOf(key);
  const index = year * 12 + (month - 1) + n;
  return `${pad(Math.floor(index / 12), 4)}-${pad((index % 12) + 1)}-01`;
}

/** Today's day key in `timeZone`. */
export function todayKey(timeZone: string, now: number = Date.now()): DayKey {
  return dateInZone(now, timeZone);
}

/** The day key of an instant in `timeZone`. */
export function dayKeyOf(iso: string, timeZone: string): DayKey {
  return dateInZone(Date.parse(iso), timeZone);
}

function midnight(key: DayKey, timeZone: string): number {
  const d = keyToUtc(key);
  return wallToInstant(
    { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0, second: 0 },
    timeZone,
  );
}

/** The instants bounding the days `first`..`last` in `timeZone`: [first 00:00, last 23:59:59]. */
export function dayRange(first: DayKey, last: DayKey, timeZone: string): { from: string; to: string } {
  const end = midnight(addDays(last, 1), timeZone) - 1000;
  return { from: formatRfc3339(midnight(first, timeZone), timeZone), to: formatRfc3339(end, timeZone) };
}

/**
 * The due date moved to another day at the same wall-clock time in `timeZone` (a task due
 * Tue 09:00 dropped on Fri is due Fri 09:00, whatever DST does in between).
 */
export function moveToDay(dueIso: string, day: DayKey, timeZone: string): string {
  const w = wallPartsAt(Date.parse(dueIso), timeZone);
  const d = keyToUtc(day);
  const ms = wallToInstant(
    { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: w.hour, minute: w.minute, second: w.second },
    timeZone,
  );
  return formatRfc3339(ms, timeZone);
}

/** Items grouped by the day (in `timeZone`) of the instant `at` picks, each day's in time order. */
export function groupByDay<T>(items: readonly T[], at: (item: T) => string, timeZone: string): Map<DayKey, T[]> {
  const out = new Map<DayKey, T[]>();
  const sorted = [...items].sort((a, b) => Date.parse(at(a)) - Date.parse(at(b)));
  for (const item of sorted) {
    const key = dayKeyOf(at(item), timeZone);
    const list = out.get(key);
    if (list) list.push(item);
    else out.set(key, [item]);
  }
  return out;
}

/** "December 2026". */
export function monthTitle(year: number, month: number): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', month: 'long', year: 'numeric' }).format(
    new Date(Date.UTC(year, month - 1, 1)),
  );
}

/** "Fri 4 Dec" (with the year when `withYear`). */
export function dayLabel(key: DayKey, opts: { withYear?: boolean; long?: boolean } = {}): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'UTC',
    weekday: opts.long ? 'long' : 'short',
    day: 'numeric',
    month: opts.long ? 'long' : 'short',
    year: opts.withYear ? 'numeric' : undefined,
  })
    .format(keyToUtc(key))
    .replace(',', '');
}

/** "09:00" as the wall clock in `timeZone` reads the instant. */
export function timeLabel(iso: string, timeZone: string): string {
  const w = wallPartsAt(Date.parse(iso), timeZone);
  return `${pad(w.hour)}:${pad(w.minute)}`;
}
