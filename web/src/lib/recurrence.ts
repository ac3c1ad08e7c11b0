// The recurrence builder's model and its RFC 5545 RRULE round trip.
import type { RepeatFrom } from '../gql/graphql';
import { RRule } from 'rrule';
import { dateInZone, localInputToRfc3339, wallPartsAt, wallToInstant } from './datetime';

export const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export const WEEKDAY_LABELS: Record<Weekday, string> = {
  MO: 'Mon',
  TU: 'Tue',
  WE: 'Wed',
  TH: 'Thu',
  FR: 'Fri',
  SA: 'Sat',
  SU: 'Sun',
};
const WORKDAYS: Weekday[] = ['MO', 'TU', 'WE', 'TH', 'FR'];
const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;

export type Preset = 'DAILY' | 'WEEKDAYS' | 'WEEKLY' | 'MONTHLY' | 'YEARLY' | 'CUSTOM';
export const PRESET_LABELS: Record<Preset, string> = {
  DAILY: 'Daily',
  WEEKDAYS: 'Every weekday (Mon–Fri)',
  WEEKLY: 'Weekly on chosen days',
  MONTHLY: 'Monthly',
  YEARLY: 'Yearly',
  CUSTOM: 'Custom rule (RRULE)',
};

export type RecurrenceEnd =
  | { kind: 'never' }
  | { kind: 'count'; count: number }
  | { kind: 'until'; date: string }; // YYYY-MM-DD, last day included, in the rule's zone

/** Which day of the month a MONTHLY rule repeats on. */
export type MonthlyOn =
  | { kind: 'date' } // the due date's day of the month
  | { kind: 'weekday'; nth: Nth; day: Weekday }; // BYDAY=2TU, BYDAY=-1FR

/** 1st to 4th, or -1 for the last one in the month. */
export type Nth = 1 | 2 | 3 | 4 | -1;
export const NTHS: readonly Nth[] = [1, 2, 3, 4, -1];
export const NTH_LABELS: Record<Nth, string> = { 1: '1st', 2: '2nd', 3: '3rd', 4: '4th', [-1]: 'last' } as Record<Nth, string>;
export const WEEKDAY_NAMES: Record<Weekday, string> = {
  MO: 'Monday',
  TU: 'Tuesday',
  WE: 'Wednesday',
  TH: 'Thursday',
  FR: 'Friday',
  SA: 'Saturday',
  SU: 'Sunday',
};

export interface RecurrenceDraft {
  preset: Preset;
  /** For MONTHLY: the due date's day, or the nth weekday. */
  monthly: MonthlyOn;
  /** "HH:mm" the occurrences fall at (BYHOUR/BYMINUTE), or '' for the due date's time. */
  time: string;
  interval: number;
  byDay: Weekday[];
  end: RecurrenceEnd;
  repeatFrom: RepeatFrom;
  /** Raw rule for the CUSTOM preset. */
  custom: string;
}

export function defaultDraft(): RecurrenceDraft {
  return { preset: 'DAILY', monthly: { kind: 'date' }, time: '', interval: 1, byDay: [], end: { kind: 'never' }, repeatFrom: 'DUE_DATE', custom: '' };
}

const FREQ_OF: Record<Exclude<Preset, 'CUSTOM'>, string> = {
  DAILY: 'DAILY',
  WEEKDAYS: 'WEEKLY',
  WEEKLY: 'WEEKLY',
  MONTHLY: 'MONTHLY',
  YEARLY: 'YEARLY',
};

const sortDays = (days: readonly Weekday[]): Weekday[] =>
  WEEKDAYS.filter((d) => days.includes(d));

/** UNTIL for "ends on DATE": the last second of that day in `timeZone`, as UTC (RFC 5545 form). */
export function untilValue(date: string, timeZone: string): string {
  const [y, m, d] = date.split('-').map(Number);
  const ms = wallToInstant({ year: y ?? 1970, month: m ?? 1, day: d ?? 1, hour: 23, minute: 59, second: 59 }, timeZone);
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** "20261231T225959Z" / "20261231T235959" / "20261231" → "YYYY-MM-DD" in `timeZone`. */
export function untilToDate(value: string, timeZone: string): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/.exec(value);
  if (!m) return null;
  if (!m[4] || !m[7]) return `${m[1]}-${m[2]}-${m[3]}`;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return dateInZone(ms, timeZone);
}

/** The builder's state as an RRULE value (no "RRULE:" prefix). */
export function draftToRRule(draft: RecurrenceDraft, timeZone: string): string {
  if (draft.preset === 'CUSTOM') return normalizeCustom(draft.custom);
  const parts = [`FREQ=${FREQ_OF[draft.preset]}`];
  const interval = Math.max(1, Math.floor(draft.interval || 1));
  if (interval > 1) parts.push(`INTERVAL=${interval}`);
  if (draft.preset === 'WEEKDAYS') parts.push(`BYDAY=${WORKDAYS.join(',')}`);
  if (draft.preset === 'WEEKLY' && draft.byDay.length > 0) parts.push(`BYDAY=${sortDays(draft.byDay).join(',')}`);
  if (draft.preset === 'MONTHLY' && draft.monthly.kind === 'weekday') parts.push(`BYDAY=${draft.monthly.nth}${draft.monthly.day}`);
  const time = TIME_RE.exec(draft.time);
  if (time) parts.push(`BYHOUR=${Number(time[1])}`, `BYMINUTE=${Number(time[2])}`);
  if (draft.end.kind === 'count') parts.push(`COUNT=${Math.max(1, Math.floor(draft.end.count || 1))}`);
  if (draft.end.kind === 'until' && draft.end.date) parts.push(`UNTIL=${untilValue(draft.end.date, timeZone)}`);
  return parts.join(';');
}

export function normalizeCustom(rule: string): string {
  return rule
    .trim()
    .replace(/^RRULE:/i, '')
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=');
      return i < 0 ? p.toUpperCase() : `${p.slice(0, i).toUpperCase()}=${p.slice(i + 1).toUpperCase()}`;
    })
    .join(';');
}

/** Parses an RRULE into the builder's state; rules the presets cannot express become CUSTOM. */
export function rruleToDraft(rule: string, timeZone: string, repeatFrom: RepeatFrom = 'DUE_DATE'): RecurrenceDraft {
  const normalized = normalizeCustom(rule);
  const custom: RecurrenceDraft = { ...defaultDraft(), preset: 'CUSTOM', custom: normalized, repeatFrom };
  const fields = new Map<string, string>();
  for (const part of normalized.split(';')) {
    const [k, v] = part.split('=');
    if (!k || v === undefined || fields.has(k)) return custom;
    fields.set(k, v);
  }
  const known = new Set(['FREQ', 'INTERVAL', 'BYDAY', 'COUNT', 'UNTIL', 'WKST', 'BYHOUR', 'BYMINUTE', 'BYSECOND', 'BYSETPOS']);
  for (const k of fields.keys()) if (!known.has(k)) return custom;
  if (fields.has('WKST') && fields.get('WKST') !== 'MO') return custom;

  // A time of day the builder can show: one BYHOUR with one BYMINUTE (and BYSECOND=0 at most).
  let time = '';
  if (fields.has('BYHOUR') || fields.has('BYMINUTE') || fields.has('BYSECOND')) {
    const h = fields.get('BYHOUR') ?? '';
    const m = fields.get('BYMINUTE') ?? '';
    if (!/^\d{1,2}$/.test(h) || !/^\d{1,2}$/.test(m) || Number(h) > 23 || Number(m) > 59) return custom;
    if (fields.has('BYSECOND') && fields.get('BYSECOND') !== '0') return custom;
    time = `${h.padStart(2, '0')}:${m.padStart(2, '0')}`;
  }

  const interval = fields.has('INTERVAL') ? Number(fields.get('INTERVAL')) : 1;
  if (!Number.isInteger(interval) || interval < 1) return custom;

  let end: RecurrenceEnd = { kind: 'never' };
  if (fields.has('COUNT') && fields.has('UNTIL')) return custom;
  if (fields.has('COUNT')) {
    const count = Number(fields.get('COUNT'));
    if (!Number.isInteger(count) || count < 1) return custom;
    end = { kind: 'count', count };
  }
  if (fields.has('UNTIL')) {
    const date = untilToDate(fields.get('UNTIL') ?? '', timeZone);
    if (!date) return custom;
    end = { kind: 'until', date };
  }

  // The nth weekday of the month: BYDAY=2TU, or BYDAY=TU;BYSETPOS=2 (the same dates).
  let monthly: MonthlyOn = { kind: 'date' };
  if (fields.get('FREQ') === 'MONTHLY' && fields.has('BYDAY')) {
    const nthDay = /^([+-]?\d)(MO|TU|WE|TH|FR|SA|SU)$/.exec(fields.get('BYDAY') ?? '');
    const plainDay = /^(MO|TU|WE|TH|FR|SA|SU)$/.exec(fields.get('BYDAY') ?? '');
    const n = nthDay ? Number(nthDay[1]) : plainDay && fields.has('BYSETPOS') ? Number(fields.get('BYSETPOS')) : NaN;
    const day = (nthDay?.[2] ?? plainDay?.[1]) as Weekday | undefined;
    if (!day || !(NTHS as readonly number[]).includes(n) || (nthDay && fields.has('BYSETPOS'))) return custom;
    monthly = { kind: 'weekday', nth: n as Nth, day };
    fields.delete('BYDAY');
    fields.delete('BYSETPOS');
  }
  if (fields.has('BYSETPOS')) return custom;

  let byDay: Weekday[] = [];
  if (fields.has('BYDAY')) {
    const days = (fields.get('BYDAY') ?? '').split(',');
    if (!days.every((d): d is Weekday => (WEEKDAYS as readonly string[]).includes(d))) return custom;
    byDay = sortDays(days as Weekday[]);
  }

  const base = { interval, end, repeatFrom, custom: '', time, monthly: { kind: 'date' } as MonthlyOn };
  switch (fields.get('FREQ')) {
    case 'DAILY':
      return byDay.length ? custom : { ...base, preset: 'DAILY', byDay: [] };
    case 'WEEKLY':
      if (byDay.length === 5 && WORKDAYS.every((d) => byDay.includes(d))) return { ...base, preset: 'WEEKDAYS', byDay: [] };
      return { ...base, preset: 'WEEKLY', byDay };
    case 'MONTHLY':
      return byDay.length ? custom : { ...base, preset: 'MONTHLY', byDay: [], monthly };
    case 'YEARLY':
      return byDay.length ? custom : { ...base, preset: 'YEARLY', byDay: [] };
    default:
      return custom;
  }
}

/** Problems the builder can see before asking the server, keyed by builder field. */
export function validateDraft(draft: RecurrenceDraft): Partial<Record<'interval' | 'count' | 'until' | 'custom' | 'time', string>> {
  const errors: Partial<Record<'interval' | 'count' | 'until' | 'custom' | 'time', string>> = {};
  if (draft.preset === 'CUSTOM') {
    const rule = normalizeCustom(draft.custom);
    if (!/(^|;)FREQ=/.test(rule)) errors.custom = 'The rule needs a FREQ, e.g. FREQ=WEEKLY;BYDAY=MO';
    else if (/FREQ=(SECONDLY|MINUTELY)/.test(rule)) errors.custom = 'Rules more frequent than hourly are not allowed';
    return errors;
  }
  if (!Number.isInteger(draft.interval) || draft.interval < 1 || draft.interval > 999)
    errors.interval = 'Enter a whole number from 1 to 999';
  if (draft.end.kind === 'count' && (!Number.isInteger(draft.end.count) || draft.end.count < 1 || draft.end.count > 10000))
    errors.count = 'Enter a number of occurrences from 1 to 10,000';
  if (draft.end.kind === 'until' && !/^\d{4}-\d{2}-\d{2}$/.test(draft.end.date)) errors.until = 'Choose the last date';
  if (draft.time && !TIME_RE.test(draft.time)) errors.time = 'Enter a time of day such as 09:00, or leave it empty';
  return errors;
}

const UNIT: Record<string, [string, string]> = {
  DAILY: ['day', 'days'],
  WEEKLY: ['week', 'weeks'],
  MONTHLY: ['month', 'months'],
  YEARLY: ['year', 'years'],
};

/** A sentence for screen and screen reader, e.g. "Every 2 weeks on Mon, Wed, 5 times". */
export function describeDraft(draft: RecurrenceDraft): string {
  if (draft.preset === 'CUSTOM') return `Custom rule: ${normalizeCustom(draft.custom) || '(empty)'}`;
  const freq = FREQ_OF[draft.preset];
  const [one, many] = UNIT[freq] ?? ['time', 'times'];
  let text = draft.interval > 1 ? `Every ${draft.interval} ${many}` : `Every ${one}`;
  if (draft.preset === 'WEEKDAYS') text += ' on weekdays';
  if (draft.preset === 'WEEKLY' && draft.byDay.length) text += ` on ${sortDays(draft.byDay).map((d) => WEEKDAY_LABELS[d]).join(', ')}`;
  if (draft.preset === 'MONTHLY' && draft.monthly.kind === 'weekday')
    text += ` on the ${NTH_LABELS[draft.monthly.nth]} ${WEEKDAY_NAMES[draft.monthly.day]}`;
  if (TIME_RE.test(draft.time)) text += ` at ${draft.time}`;
  if (draft.end.kind === 'count') text += `, ${draft.end.count} ${draft.end.count === 1 ? 'time' : 'times'}`;
  if (draft.end.kind === 'until' && draft.end.date) text += `, until ${draft.end.date}`;
  text += draft.repeatFrom === 'COMPLETION' ? ', counted from completion' : '';
  return text;
}

/** Short label for list rows. */
export function describeRule(rule: string, timeZone: string): string {
  const d = rruleToDraft(rule, timeZone);
  return d.preset === 'CUSTOM' ? 'Repeats' : describeDraft(d);
}

export const PREVIEW_LIMIT = 5;

export interface PreviewVariables {
  rule: string;
  start: string | null;
  timezone: string;
  repeatFrom: RepeatFrom;
  limit: number;
}

/**
 * What to send to `previewRecurrence` for the builder's state: the rule as it would be saved,
 * the editor's due date ("YYYY-MM-DDTHH:mm" in `timeZone`) as the start when set, and the zone.
 * Null while the builder itself reports a problem (nothing worth asking the server).
 */
export function previewVariables(draft: RecurrenceDraft, due: string, timeZone: string): PreviewVariables | null {
  if (Object.keys(validateDraft(draft)).length > 0) return null;
  const rule = draftToRRule(draft, timeZone);
  if (!rule) return null;
  return { rule, start: localInputToRfc3339(due, timeZone), timezone: timeZone, repeatFrom: draft.repeatFrom, limit: PREVIEW_LIMIT };
}

/**
 * The rule in words with the time of day it repeats at, e.g. "every weekday at 09:00" or
 * "every month on the 2nd Tuesday at 18:30"; the time comes from the due date in `timeZone`.
 */
export function humanRule(rule: string, dueAt: string | null, timeZone: string): string {
  let text: string;
  try {
    const options = RRule.parseString(normalizeCustom(rule));
    // rrule says BYHOUR for some frequencies only ("every day at 7"): say the words without it
    // and add the time here, the same way for every rule.
    text = new RRule({ ...options, byhour: null, byminute: null, bysecond: null }).toText();
    // The rule's own time of day (one hour and minute) wins over the due date's.
    const hours = [options.byhour ?? []].flat();
    const minutes = [options.byminute ?? 0].flat();
    if (hours.length) {
      if (hours.length > 1 || minutes.length > 1) return text;
      return `${text} at ${String(hours[0]).padStart(2, '0')}:${String(minutes[0]).padStart(2, '0')}`;
    }
  } catch {
    return 'Repeats';
  }
  if (dueAt) {
    const ms = Date.parse(dueAt);
    if (!Number.isNaN(ms)) {
      const w = wallPartsAt(ms, timeZone);
      text += ` at ${String(w.hour).padStart(2, '0')}:${String(w.minute).padStart(2, '0')}`;
    }
  }
  return text;
}
