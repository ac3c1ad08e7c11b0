// Audit entries in sentences ("You changed the due date from Tue 3 Dec to Fri 6 Dec"), in the
// account's time zone. The entry's `changes` is the trail's record in the events' wire spelling
// (contracts/task.py): for an update each changed field with `before` and `after`, for a
// creation or deletion the whole task, for completing and reopening the status.
import { wallPartsAt } from './datetime';
import { humanRule } from './recurrence';

export interface HistoryEntry {
  action: string;
  actor: string;
  at: string;
  changes: unknown;
}

type Json = Record<string, unknown>;

const SERVICES: Record<string, string> = {
  recurrence: 'The recurrence service',
  notifications: 'The notifications service',
  audit: 'The audit service',
  gateway: 'Taskstream',
};

const PRIORITY_WORDS: Record<string, string> = { NONE: 'none', LOW: 'Low', MEDIUM: 'Medium', HIGH: 'High', URGENT: 'Urgent' };

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const quote = (s: string, max = 60) => `“${s.length > max ? `${s.slice(0, max - 1)}…` : s}”`;

/** Who did it: "You", a service in words, or the raw actor (another member's id). */
export function actorName(actor: string, meId: string): string {
  if (actor === meId) return 'You';
  return SERVICES[actor] ?? `Someone else (${actor.slice(0, 8)})`;
}

/**
 * "Tue 3 Dec" (with the year when not this year, with ", 09:00" when `withTime`), as the wall
 * clock in `timeZone` reads the instant.
 */
export function dueLabel(iso: string, timeZone: string, withTime: boolean, now: number = Date.now()): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const sameYear = wallPartsAt(ms, timeZone).year === wallPartsAt(now, timeZone).year;
  const date = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: sameYear ? undefined : 'numeric',
  })
    .format(new Date(ms))
    .replace(',', '');
  if (!withTime) return date;
  const w = wallPartsAt(ms, timeZone);
  return `${date}, ${String(w.hour).padStart(2, '0')}:${String(w.minute).padStart(2, '0')}`;
}

function dueChange(before: string | null, after: string | null, tz: string, now: number): string {
  if (!before && after) return `set the due date to ${dueLabel(after, tz, true, now)}`;
  if (before && !after) return `removed the due date (was ${dueLabel(before, tz, true, now)})`;
  if (!before || !after) return 'changed the due date';
  const b = wallPartsAt(Date.parse(before), tz);
  const a = wallPartsAt(Date.parse(after), tz);
  const sameDay = b.year === a.year && b.month === a.month && b.day === a.day;
  const sameTime = b.hour === a.hour && b.minute === a.minute;
  // Say only what differs: the days when the time stayed, the times when the day stayed.
  const withTime = !sameTime;
  if (sameDay && !sameTime) return `moved the due time from ${dueLabel(before, tz, true, now)} to ${timeOnly(after, tz)}`;
  return `changed the due date from ${dueLabel(before, tz, withTime, now)} to ${dueLabel(after, tz, withTime, now)}`;
}

function timeOnly(iso: string, tz: string): string {
  const w = wallPartsAt(Date.parse(iso), tz);
  return `${String(w.hour).padStart(2, '0')}:${String(w.minute).padStart(2, '0')}`;
}

function ruleWords(rec: unknown, tz: string): string | null {
  if (!isObj(rec)) return null;
  const rule = str(rec.rule);
  return rule ? humanRule(rule, null, tz) : null;
}

function tagsChange(before: unknown, after: unknown): string {
  const b = Array.isArray(before) ? before.map(String) : [];
  const a = Array.isArray(after) ? after.map(String) : [];
  const lower = (xs: string[]) => new Set(xs.map((x) => x.toLowerCase()));
  const bs = lower(b);
  const as = lower(a);
  const added = a.filter((t) => !bs.has(t.toLowerCase()));
  const removed = b.filter((t) => !as.has(t.toLowerCase()));
  const list = (xs: string[]) => xs.map((t) => `#${t}`).join(', ');
  const parts: string[] = [];
  if (added.length) parts.push(`added the ${added.length === 1 ? 'tag' : 'tags'} ${list(added)}`);
  if (removed.length) parts.push(`removed the ${removed.length === 1 ? 'tag' : 'tags'} ${list(removed)}`);
  return parts.join(' and ') || 'changed the tags';
}

function minutesWords(m: number): string {
  if (m > 0 && m % 1440 === 0) return `${m / 1440} ${m === 1440 ? 'day' : 'days'}`;
  if (m > 0 && m % 60 === 0) return `${m / 60} ${m === 60 ? 'hour' : 'hours'}`;
  return `${m} ${m === 1 ? 'minute' : 'minutes'}`;
}

function reminderWhen(r: Json, tz: string, now: number): string {
  const before = typeof r.beforeDue === 'number' ? r.beforeDue : null;
  if (before !== null) return before === 0 ? 'at the due time' : `${minutesWords(before)} before the due time`;
  const at = str(r.remindAt);
  return at ? `at ${dueLabel(at, tz, true, now)}` : '';
}

function remindersChange(before: unknown, after: unknown, tz: string, now: number): string {
  const b = (Array.isArray(before) ? before : []).filter(isObj);
  const a = (Array.isArray(after) ? after : []).filter(isObj);
  const byId = new Map(b.map((r) => [String(r.id), r]));
  const parts: string[] = [];
  for (const r of a) {
    const old = byId.get(String(r.id));
    if (!old) {
      parts.push(`added a reminder ${reminderWhen(r, tz, now)}`.trim());
      continue;
    }
    byId.delete(String(r.id));
    if (old.state !== 'SENT' && r.state === 'SENT') parts.push('sent a reminder');
    else if (r.state === 'FAILED' && old.state !== 'FAILED') parts.push('could not deliver a reminder');
    // A snooze: sent, then scheduled again (a relative reminder stays relative, see the model).
    else if (old.state === 'SENT' && r.state === 'SCHEDULED' && str(r.remindAt))
      parts.push(`snoozed a reminder to ${dueLabel(str(r.remindAt) ?? '', tz, true, now)}`);
    else if (old.remindAt !== r.remindAt || old.beforeDue !== r.beforeDue) {
      // A relative reminder following its due date is said by the due date's own sentence.
      if (typeof r.beforeDue === 'number' && r.beforeDue === old.beforeDue) continue;
      parts.push(`changed a reminder to ${reminderWhen(r, tz, now)}`);
    } else if (old.state !== r.state && r.state === 'CANCELLED') parts.push('cancelled a reminder');
  }
  for (const _ of byId.values()) parts.push('removed a reminder');
  return parts.join(', ');
}

const CHANNEL_WORDS: Record<string, string> = { IN_APP: 'in the app', EMAIL: 'by email', WEBHOOK: 'by webhook', PUSH: 'by browser push' };

function channelWords(channel: unknown): string {
  const words = CHANNEL_WORDS[String(channel)];
  return words ? ` ${words}` : '';
}

function roleWord(role: unknown): string {
  return typeof role === 'string' ? role.toLowerCase() : 'member';
}

function join(parts: string[]): string {
  if (parts.length <= 1) return parts[0] ?? '';
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

/** The sentence for one audit entry, e.g. "You changed the title from “a” to “b”". */
export function describeEntry(entry: HistoryEntry, meId: string, timeZone: string, now: number = Date.now()): string {
  const who = actorName(entry.actor, meId);
  const c = isObj(entry.changes) ? entry.changes : {};
  const task = isObj(c.task) ? c.task : null;
  const title = task ? str(task.title) : null;
  switch (entry.action) {
    case 'task.created': {
      const due = task ? str(task.dueAt) : null;
      const rule = task ? ruleWords(task.recurrence, timeZone) : null;
      let s = `${who} created ${title ? quote(title) : 'the task'}`;
      if (due) s += `, due ${dueLabel(due, timeZone, true, now)}`;
      if (rule) s += `, repeating ${rule}`;
      return s;
    }
    case 'task.deleted':
      return `${who} deleted ${title ? quote(title) : 'the task'}`;
    case 'task.completed':
      return `${who} completed the task`;
    case 'task.reopened':
      return `${who} reopened the task`;
    case 'task.restored':
      return `${who} restored ${title ? quote(title) : 'the task'}`;
    case 'reminder.sent':
      return `${who} sent a reminder`;
    case 'notification.sent':
      return `${who} sent a reminder${channelWords(c.channel)}`;
    case 'notification.failed':
      return `${who} could not deliver a reminder${channelWords(c.channel)}${str(c.error) ? ` (${str(c.error)})` : ''}`;
    case 'tag.renamed': {
      const name = isObj(c.name) ? c.name : {};
      return `${who} renamed the tag #${String(name.before ?? '')} to #${String(name.after ?? '')}`;
    }
    case 'tag.deleted': {
      const name = isObj(c.name) ? c.name : {};
      return `${who} deleted the tag #${String(name.before ?? '')}`;
    }
    case 'webhook.registered':
      return `${who} registered the webhook ${str(c.url) ?? ''}`.trim();
    case 'webhook.deleted':
      return `${who} deleted the webhook ${str(c.url) ?? ''}`.trim();
    case 'project.created':
      return `${who} created the project ${quote(str(c.name) ?? '')}`;
    case 'project.updated':
      return c.archived === true ? `${who} archived the project ${quote(str(c.name) ?? '')}` : `${who} updated the project ${quote(str(c.name) ?? '')}`;
    case 'project.deleted':
      return `${who} deleted the project`;
    case 'project.member.added':
      return `${who} added a member as ${roleWord(c.role)}`;
    case 'project.member.changed':
      return `${who} changed a member's role from ${roleWord(c.previousRole)} to ${roleWord(c.role)}`;
    case 'project.member.removed':
      return `${who} removed a member`;
    case 'project.invitation.created':
      return `${who} invited someone as ${roleWord(c.role)}`;
    case 'project.invitation.answered':
      return `${who} ${c.state === 'ACCEPTED' ? 'accepted' : c.state === 'DECLINED' ? 'declined' : 'answered'} an invitation`;
    case 'project.invitation.revoked':
      return `${who} revoked an invitation`;
    case 'project.section.created':
      return `${who} added the section ${quote(str(c.name) ?? '')}`;
    case 'project.section.renamed':
      return `${who} renamed a section to ${quote(str(c.name) ?? '')}`;
    case 'project.section.deleted': {
      const moved = typeof c.movedTaskCount === 'number' ? c.movedTaskCount : 0;
      const tail = moved ? `, moving ${moved} ${moved === 1 ? 'task' : 'tasks'} out of it` : '';
      return `${who} deleted the section ${quote(str(c.name) ?? '')}${tail}`;
    }
    case 'task.updated': {
      const parts: string[] = [];
      for (const [field, value] of Object.entries(c)) {
        const v = isObj(value) ? value : {};
        const before = v.before ?? null;
        const after = v.after ?? null;
        switch (field) {
          case 'title':
            parts.push(`changed the title from ${quote(String(before ?? ''))} to ${quote(String(after ?? ''))}`);
            break;
          case 'notes':
            parts.push(!before ? 'added notes' : !after ? 'removed the notes' : 'edited the notes');
            break;
          case 'priority':
            parts.push(`changed the priority from ${PRIORITY_WORDS[String(before)] ?? before} to ${PRIORITY_WORDS[String(after)] ?? after}`);
            break;
          case 'tags':
            parts.push(tagsChange(before, after));
            break;
          case 'dueAt':
            parts.push(dueChange(str(before), str(after), timeZone, now));
            break;
          case 'recurrence': {
            const b = ruleWords(before, timeZone);
            const a = ruleWords(after, timeZone);
            if (!b && a) parts.push(`made it repeat ${a}`);
            else if (b && !a) parts.push('stopped it repeating');
            else if (b !== a) parts.push(`changed the repeat from ${b} to ${a}`);
            break;
          }
          case 'reminders': {
            const s = remindersChange(before, after, timeZone, now);
            if (s) parts.push(s);
            break;
          }
          case 'seriesId':
            // Bookkeeping of the recurrence series, said by the recurrence sentence.
            break;
          default:
            parts.push(`changed ${field}`);
        }
      }
      return parts.length ? `${who} ${join(parts)}` : `${who} updated the task`;
    }
    default:
      return `${who}: ${entry.action}`;
  }
}
