// Reminder helpers for the editor and the notifications panel: which reminders being set are
// already in the past (the editor asks before saving them: they would fire at once), how many
// minutes a snooze choice means (the API snoozes by minutes from now), and which of a task's
// reminders a notification came from (a notification names its task, not its reminder).
import type { ReminderState } from '../gql/graphql';
import { localInputToRfc3339, wallPartsAt, wallToInstant } from './datetime';
import { reminderToInput, UNIT_MINUTES, type TaskForm } from './taskForm';

/** The snooze choices the panel offers. */
export type SnoozeChoice = '10m' | '1h' | 'tomorrow';
export const SNOOZE_LABELS: Record<SnoozeChoice, string> = { '10m': '10 min', '1h': '1 hour', tomorrow: 'Tomorrow 9:00' };
/** The furthest a snooze may go (the API's limit: 30 days). */
export const SNOOZE_MAX_MINUTES = 30 * 24 * 60;
/** The hour "tomorrow morning" means, on the account's wall clock. */
export const MORNING_HOUR = 9;

/**
 * Minutes from `now` to the choice: "tomorrow" is 09:00 of the next day in `timeZone`, rounded
 * up to a whole minute so the reminder never fires before 09:00.
 */
export function snoozeMinutes(choice: SnoozeChoice, timeZone: string, now: number = Date.now()): number {
  if (choice === '10m') return 10;
  if (choice === '1h') return 60;
  const w = wallPartsAt(now, timeZone);
  const next = new Date(Date.UTC(w.year, w.month - 1, w.day + 1));
  const target = wallToInstant(
    { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate(), hour: MORNING_HOUR, minute: 0, second: 0 },
    timeZone,
  );
  return Math.max(1, Math.ceil((target - now) / 60000));
}

interface SentReminder {
  id: string;
  state: ReminderState;
  sentAt: string | null;
}

/** The reminder a notification sent at `createdAt` came from: the SENT one sent closest to it. */
export function firedReminder<R extends SentReminder>(reminders: readonly R[], createdAt: string): R | null {
  const at = Date.parse(createdAt);
  let best: R | null = null;
  let bestGap = Number.POSITIVE_INFINITY;
  for (const r of reminders) {
    if (r.state !== 'SENT' || !r.sentAt) continue;
    const gap = Math.abs(Date.parse(r.sentAt) - at);
    if (gap < bestGap) {
      best = r;
      bestGap = gap;
    }
  }
  return best;
}

/** When a reminder of the form would fire (ms), or null when it cannot be told (no due date). */
export function fireTime(form: TaskForm, index: number, timeZone: string): number | null {
  const r = form.reminders[index];
  if (!r) return null;
  if (r.mode === 'at') {
    const iso = localInputToRfc3339(r.at, timeZone);
    return iso ? Date.parse(iso) : null;
  }
  const due = localInputToRfc3339(form.due, timeZone);
  if (!due || !Number.isFinite(r.amount)) return null;
  return Date.parse(due) - r.amount * UNIT_MINUTES[r.unit] * 60000;
}

/**
 * Indexes of the reminders being set (new, or changed since `initial`, or whose due date
 * moved) that would fire before `now`. Reminders already saved and untouched are left alone.
 */
export function pastReminders(form: TaskForm, initial: TaskForm | null, timeZone: string, now: number = Date.now()): number[] {
  const kept = new Set<string>();
  if (initial) {
    for (let i = 0; i < initial.reminders.length; i++) {
      const r = initial.reminders[i];
      if (r) kept.add(JSON.stringify([reminderToInput(r, timeZone), fireTime(initial, i, timeZone)]));
    }
  }
  const out: number[] = [];
  form.reminders.forEach((r, i) => {
    if (r.state === 'SENT') return;
    const at = fireTime(form, i, timeZone);
    if (at === null || at >= now) return;
    if (kept.has(JSON.stringify([reminderToInput(r, timeZone), at]))) return;
    out.push(i);
  });
  return out;
}

/**
 * Minutes from `now` to a custom snooze time (a datetime-local value on the account's wall clock
 * in `timeZone`), rounded up so it never fires early; or what is wrong with it.
 */
export function customSnoozeMinutes(value: string, timeZone: string, now: number = Date.now()): number | { error: string } {
  const iso = value ? localInputToRfc3339(value, timeZone) : null;
  if (!iso) return { error: 'Choose a date and time.' };
  const minutes = Math.ceil((Date.parse(iso) - now) / 60000);
  if (minutes < 1) return { error: 'Choose a time in the future.' };
  if (minutes > SNOOZE_MAX_MINUTES) return { error: 'Choose a time within the next 30 days.' };
  return minutes;
}
