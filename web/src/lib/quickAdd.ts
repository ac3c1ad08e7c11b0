// Quick add: one line of text → a task. Dates and times come from chrono-node, repeats from
// rrule's text parser; tags (#word) and priority (p1–p4, !urgent…) are simple tokens. Every
// date is read as a wall clock in the user's zone (never the browser's).
import * as chrono from 'chrono-node';
import { RRule, Weekday as RWeekday, type Options as RRuleOptions } from 'rrule';
import type { Priority } from '../gql/graphql';
import { formatRfc3339, wallPartsAt, wallToInstant, type WallParts } from './datetime';

export type SpanKind = 'date' | 'tag' | 'priority' | 'repeat';

export interface QuickAddSpan {
  start: number;
  end: number;
  kind: SpanKind;
  text: string;
}

export interface QuickAddResult {
  /** What is left of the text once the understood parts are taken out. */
  title: string;
  /** RFC 3339 with the zone's offset, or null. */
  dueAt: string | null;
  tags: string[];
  priority: Priority;
  /** RRULE value without "RRULE:" (time of day comes from dueAt), or null. */
  rule: string | null;
  spans: QuickAddSpan[];
}

export const QUICK_ADD_MAX = 1000;
export const TITLE_MAX = 500;
export const TAGS_MAX = 20;
/** A date given without a time is due by the end of that day. */
export const DEFAULT_TIME = { hour: 23, minute: 59 } as const;

const PRIORITY_WORDS: Record<string, Priority> = {
  p1: 'URGENT',
  p2: 'HIGH',
  p3: 'MEDIUM',
  p4: 'LOW',
  '!urgent': 'URGENT',
  '!high': 'HIGH',
  '!medium': 'MEDIUM',
  '!low': 'LOW',
};

const TAG_RE = /(^|\s)#([\p{L}\p{N}_-]{1,50})(?=\s|$)/gu;
const PRIORITY_RE = /(^|\s)(p[1-4]|!urgent|!high|!medium|!low)(?=\s|$)/giu;
const EVERY_RE = /(^|\s)every(?=\s)/giu;
const AT_TIME_RE = /^\s+at\s+(\d{1,2})(?::(\d{2}))?(?:\s*(am|pm))?(?=\s|$)/iu;
// rrule's phrases are short ("every month on the 2nd tue"): look at no more words than this.
const MAX_REPEAT_WORDS = 9;

/** Replaces [start, end) with spaces so later parsers keep the same offsets. */
function mask(text: string, start: number, end: number): string {
  return text.slice(0, start) + ' '.repeat(end - start) + text.slice(end);
}

function tryRule(phrase: string): string | null {
  try {
    const options = RRule.parseText(phrase);
    if (!options || options.freq === undefined) return null;
    // The time of day lives in dueAt; the rule repeats at that time.
    const { byhour: _h, byminute: _m, ...rest } = options;
    void _h;
    void _m;
    return new RRule(rest as Partial<RRuleOptions>).toString().replace(/^RRULE:/, '');
  } catch {
    return null;
  }
}

/** Canonical part order so equal rules compare equal ("FREQ" first, as the server writes it). */
function canonicalRule(rule: string): string {
  const order = ['FREQ', 'INTERVAL', 'BYMONTH', 'BYMONTHDAY', 'BYDAY', 'COUNT', 'UNTIL'];
  const parts = rule.split(';').filter(Boolean);
  const rank = (p: string) => {
    const i = order.indexOf(p.split('=')[0] ?? '');
    return i < 0 ? order.length : i;
  };
  // "+2TU" and "2TU" mean the same; the server writes the shorter.
  return parts
    .map((p) => (p.startsWith('BYDAY=') ? p.replace(/\+/g, '') : p))
    .sort((a, b) => rank(a) - rank(b))
    .join(';');
}

interface RepeatMatch {
  start: number;
  end: number;
  rule: string;
  time: { hour: number; minute: number } | null;
}

function to24h(hour: number, minute: number, meridiem: string | undefined): { hour: number; minute: number } | null {
  let h = hour;
  if (meridiem) {
    if (h < 1 || h > 12) return null;
    const pm = meridiem.toLowerCase() === 'pm';
    h = (h % 12) + (pm ? 12 : 0);
  }
  if (h > 23 || minute > 59) return null;
  return { hour: h, minute };
}

/** Finds "every …" phrases rrule understands; the shortest word span giving the full meaning. */
function findRepeat(text: string): RepeatMatch | null {
  for (const m of text.matchAll(EVERY_RE)) {
    const start = (m.index ?? 0) + (m[1]?.length ?? 0);
    const rest = text.slice(start);
    const words: { end: number; word: string }[] = [];
    for (const w of rest.matchAll(/\S+/g)) {
      words.push({ end: (w.index ?? 0) + w[0].length, word: w[0] });
      if (words.length > MAX_REPEAT_WORDS) break;
    }
    // "at 9" is ours (rrule drops the minutes): stop the phrase before it.
    const atIndex = words.findIndex((w, i) => i > 0 && w.word.toLowerCase() === 'at');
    const usable = atIndex > 0 ? words.slice(0, atIndex) : words;
    const rules = usable.map((w) => tryRule(rest.slice(0, w.end)));
    let best = -1;
    for (let i = rules.length - 1; i >= 0; i--) if (rules[i]) { best = i; break; }
    if (best < 0) continue;
    const full = rules[best] as string;
    // rrule ignores trailing words, so the phrase ends at the first prefix meaning the same.
    let first = best;
    for (let i = 0; i <= best; i++) if (rules[i] === full) { first = i; break; }
    let end = start + (usable[first]?.end ?? 0);
    let time: RepeatMatch['time'] = null;
    const at = AT_TIME_RE.exec(text.slice(end));
    if (at) {
      time = to24h(Number(at[1]), Number(at[2] ?? 0), at[3]);
      if (time) end += at[0].length;
    }
    return { start, end, rule: canonicalRule(full), time };
  }
  return null;
}

/** The reference Date whose browser-local reading is the user's wall clock now. */
function localReference(now: number, timeZone: string): Date {
  const w = wallPartsAt(now, timeZone);
  return new Date(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
}

const WEEKDAY_INDEX = [RRule.MO, RRule.TU, RRule.WE, RRule.TH, RRule.FR, RRule.SA, RRule.SU];

/** First occurrence of `rule` at `time` (wall clock in `timeZone`) at or after now. */
export function firstOccurrence(rule: string, time: { hour: number; minute: number }, timeZone: string, now: number): number | null {
  const w = wallPartsAt(now, timeZone);
  // rrule computes in "floating" UTC: wall clocks written as UTC instants.
  const floatingNow = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, 0);
  const dtstart = new Date(Date.UTC(w.year, w.month - 1, w.day, time.hour, time.minute, 0));
  let options: Partial<RRuleOptions>;
  try {
    options = RRule.parseString(rule);
  } catch {
    return null;
  }
  // The series starts on the next matching day: an INTERVAL counts from there, not from today.
  const { interval: _i, count: _c, ...first } = options;
  void _i;
  void _c;
  const r = new RRule({ ...first, dtstart, wkst: WEEKDAY_INDEX[0] as RWeekday });
  const next = r.after(new Date(floatingNow), true);
  if (!next) return null;
  const parts: WallParts = {
    year: next.getUTCFullYear(),
    month: next.getUTCMonth() + 1,
    day: next.getUTCDate(),
    hour: next.getUTCHours(),
    minute: next.getUTCMinutes(),
    second: 0,
  };
  return wallToInstant(parts, timeZone);
}

/** Reads a quick-add line; `now` and `timeZone` fix what "today" means. */
export function parseQuickAdd(input: string, timeZone: string, now: number = Date.now()): QuickAddResult {
  const text = input.slice(0, QUICK_ADD_MAX);
  const spans: QuickAddSpan[] = [];
  let work = text;

  const tags: string[] = [];
  for (const m of text.matchAll(TAG_RE)) {
    const start = (m.index ?? 0) + (m[1]?.length ?? 0);
    const name = m[2] ?? '';
    const end = start + 1 + name.length;
    if (tags.length < TAGS_MAX && !tags.some((t) => t.toLowerCase() === name.toLowerCase())) tags.push(name);
    spans.push({ start, end, kind: 'tag', text: text.slice(start, end) });
    work = mask(work, start, end);
  }

  let priority: Priority = 'NONE';
  for (const m of work.matchAll(PRIORITY_RE)) {
    const start = (m.index ?? 0) + (m[1]?.length ?? 0);
    const word = (m[2] ?? '').toLowerCase();
    const end = start + word.length;
    // The first one counts; a later one is still taken out of the title.
    if (priority === 'NONE') priority = PRIORITY_WORDS[word] ?? 'NONE';
    spans.push({ start, end, kind: 'priority', text: text.slice(start, end) });
    work = mask(work, start, end);
  }

  const repeat = findRepeat(work);
  if (repeat) {
    spans.push({ start: repeat.start, end: repeat.end, kind: 'repeat', text: text.slice(repeat.start, repeat.end) });
    work = mask(work, repeat.start, repeat.end);
  }

  let dueAt: string | null = null;
  const ref = localReference(now, timeZone);
  const found = chrono.parse(work, ref, { forwardDate: true })[0];
  let time = repeat?.time ?? null;
  if (found) {
    const s = found.start;
    let start = found.index;
    // "at noon", "on fri", "by dec 24": the little word belongs to the date.
    const lead = /(^|\s)(at|on|by|due)\s+$/i.exec(work.slice(0, start));
    if (lead) start = lead.index + (lead[1]?.length ?? 0);
    const end = found.index + found.text.length;
    spans.push({ start, end, kind: 'date', text: text.slice(start, end) });
    work = mask(work, start, end);
    if (s.isCertain('hour')) time = { hour: s.get('hour') ?? 0, minute: s.get('minute') ?? 0 };
    const t = time ?? DEFAULT_TIME;
    const wall: WallParts = {
      year: s.get('year') ?? 1970,
      month: s.get('month') ?? 1,
      day: s.get('day') ?? 1,
      hour: t.hour,
      minute: t.minute,
      second: 0,
    };
    let ms = wallToInstant(wall, timeZone);
    // "5pm" alone, typed at 18:00, means tomorrow's 5 pm.
    if (ms < now && !s.isCertain('day') && !s.isCertain('weekday') && s.isCertain('hour')) {
      const next = new Date(Date.UTC(wall.year, wall.month - 1, wall.day + 1));
      ms = wallToInstant(
        { ...wall, year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() },
        timeZone,
      );
    }
    dueAt = formatRfc3339(ms, timeZone);
  } else if (repeat) {
    const ms = firstOccurrence(repeat.rule, time ?? DEFAULT_TIME, timeZone, now);
    if (ms !== null) dueAt = formatRfc3339(ms, timeZone);
  }

  spans.sort((a, b) => a.start - b.start);
  const title = work.replace(/\s+/g, ' ').trim();
  return { title, dueAt, tags, priority, rule: repeat?.rule ?? null, spans };
}

/** Problems that stop a quick add from being saved, with what is allowed. */
export function quickAddError(result: QuickAddResult): string | null {
  if (!result.title) return 'Type what the task is, e.g. “Call mum tomorrow 5pm #home p2”.';
  if (result.title.length > TITLE_MAX) return `Keep the title to ${TITLE_MAX} characters or fewer.`;
  return null;
}
