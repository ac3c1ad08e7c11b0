// The task editor's form model and its mapping to and from the API.
import type {
  Channel,
  CreateTaskInput,
  Priority,
  ReminderInput,
  ReminderState,
  TaskDetailFragment,
  UpdateTaskInput,
} from '../gql/graphql';
import { localInputToRfc3339, rfc3339ToLocalInput } from './datetime';
import { defaultDraft, draftToRRule, rruleToDraft, type RecurrenceDraft } from './recurrence';

export type ReminderUnit = 'minutes' | 'hours' | 'days';
export const UNIT_MINUTES: Record<ReminderUnit, number> = { minutes: 1, hours: 60, days: 1440 };

export interface ReminderDraft {
  key: string;
  id?: string;
  mode: 'before' | 'at';
  amount: number;
  unit: ReminderUnit;
  at: string; // datetime-local value in the user's zone
  channels: Channel[];
  state?: ReminderState;
}

export interface TaskForm {
  title: string;
  notes: string;
  priority: Priority;
  tags: string[];
  due: string; // datetime-local value in the user's zone; '' = none
  repeat: boolean;
  recurrence: RecurrenceDraft;
  reminders: ReminderDraft[];
  /** The assignee's user id; '' or absent = nobody (absent in drafts kept before assignees). */
  assigneeId?: string;
}

let keySeq = 0;
export const newKey = () => `r${++keySeq}`;

export function emptyForm(): TaskForm {
  return { title: '', notes: '', priority: 'NONE', tags: [], due: '', repeat: false, recurrence: defaultDraft(), reminders: [] };
}

export function newReminder(hasDue: boolean): ReminderDraft {
  return { key: newKey(), mode: hasDue ? 'before' : 'at', amount: 15, unit: 'minutes', at: '', channels: ['IN_APP'] };
}

/** Largest unit that divides the minutes evenly: 120 → 2 hours, 1440 → 1 day. */
export function splitMinutes(minutes: number): { amount: number; unit: ReminderUnit } {
  if (minutes > 0 && minutes % 1440 === 0) return { amount: minutes / 1440, unit: 'days' };
  if (minutes > 0 && minutes % 60 === 0) return { amount: minutes / 60, unit: 'hours' };
  return { amount: minutes, unit: 'minutes' };
}

export function formFromTask(task: TaskDetailFragment, timeZone: string): TaskForm {
  const rz = task.recurrence?.timezone ?? timeZone;
  return {
    title: task.title,
    notes: task.notes,
    priority: task.priority,
    tags: task.tags.map((t) => t.name),
    assigneeId: task.assignee?.id ?? '',
    due: rfc3339ToLocalInput(task.dueAt, timeZone),
    repeat: task.recurrence !== null,
    recurrence: task.recurrence ? rruleToDraft(task.recurrence.rule, rz, task.recurrence.repeatFrom) : defaultDraft(),
    reminders: task.reminders.map((r) => ({
      key: newKey(),
      id: r.id,
      mode: r.beforeDue !== null ? 'before' : 'at',
      ...splitMinutes(r.beforeDue ?? 15),
      at: rfc3339ToLocalInput(r.remindAt, timeZone),
      channels: [...r.channels],
      state: r.state,
    })),
  };
}

export function reminderToInput(r: ReminderDraft, timeZone: string): ReminderInput {
  if (r.mode === 'before') return { beforeDue: Math.round(r.amount * UNIT_MINUTES[r.unit]), channels: r.channels };
  return { remindAt: localInputToRfc3339(r.at, timeZone), channels: r.channels };
}

/** Problems visible before asking the server, keyed like the server's field paths. */
export function validateForm(form: TaskForm): Record<string, string> {
  const errors: Record<string, string> = {};
  const title = form.title.trim();
  if (!title) errors.title = 'Give the task a title.';
  else if (title.length > 500) errors.title = 'Keep the title to 500 characters or fewer.';
  if (form.notes.length > 20000) errors.notes = 'Notes can be at most 20,000 characters.';
  if (form.tags.length > 20) errors.tags = 'A task can have at most 20 tags.';
  if (form.reminders.length > 10) errors.reminders = 'A task can have at most 10 reminders.';
  form.reminders.forEach((r, i) => {
    if (r.channels.length === 0) errors[`reminders[${i}]`] = 'Choose at least one channel.';
    if (r.mode === 'before') {
      if (!form.due && !form.repeat) errors[`reminders[${i}]`] = 'A reminder before the due date needs a due date.';
      else if (!Number.isFinite(r.amount) || r.amount < 0) errors[`reminders[${i}]`] = 'Enter how long before the due date.';
    } else if (!r.at) errors[`reminders[${i}]`] = 'Choose when to remind you.';
  });
  return errors;
}

function recurrenceInput(form: TaskForm, timeZone: string) {
  return { rule: draftToRRule(form.recurrence, timeZone), repeatFrom: form.recurrence.repeatFrom, timezone: timeZone };
}

export function formToCreateInput(form: TaskForm, timeZone: string): CreateTaskInput {
  const input: CreateTaskInput = { title: form.title.trim(), priority: form.priority };
  if (form.notes) input.notes = form.notes;
  if (form.tags.length) input.tags = form.tags;
  const due = localInputToRfc3339(form.due, timeZone);
  if (due) input.dueAt = due;
  if (form.repeat) input.recurrence = recurrenceInput(form, timeZone);
  if (form.reminders.length) input.reminders = form.reminders.map((r) => reminderToInput(r, timeZone));
  if (form.assigneeId) input.assigneeId = form.assigneeId;
  return input;
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x.toLowerCase() === b[i]?.toLowerCase());

function remindersKey(rs: ReminderDraft[], timeZone: string): string {
  return JSON.stringify(rs.map((r) => reminderToInput(r, timeZone)));
}

/** Only what changed since `initial`, plus `expectedVersion` for optimistic concurrency. */
export function formToUpdateInput(form: TaskForm, initial: TaskForm, timeZone: string, version: number): UpdateTaskInput {
  const input: UpdateTaskInput = { expectedVersion: version };
  if (form.title.trim() !== initial.title.trim()) input.title = form.title.trim();
  if (form.notes !== initial.notes) input.notes = form.notes;
  if (form.priority !== initial.priority) input.priority = form.priority;
  if (!sameList(form.tags, initial.tags)) input.tags = form.tags;
  if (form.due !== initial.due) {
    const due = localInputToRfc3339(form.due, timeZone);
    if (due) input.dueAt = due;
    else input.clearDueAt = true;
  }
  if (!form.repeat && initial.repeat) input.clearRecurrence = true;
  if (form.repeat) {
    const now = recurrenceInput(form, timeZone);
    const before = initial.repeat ? recurrenceInput(initial, timeZone) : null;
    if (!before || before.rule !== now.rule || before.repeatFrom !== now.repeatFrom) input.recurrence = now;
  }
  if ((form.assigneeId ?? '') !== (initial.assigneeId ?? '')) {
    if (form.assigneeId) input.assigneeId = form.assigneeId;
    else input.clearAssignee = true;
  }
  if (remindersKey(form.reminders, timeZone) !== remindersKey(initial.reminders, timeZone)) {
    input.reminders = form.reminders.map((r) => reminderToInput(r, timeZone));
  }
  return input;
}

export function isDirty(form: TaskForm, initial: TaskForm, timeZone: string): boolean {
  return Object.keys(formToUpdateInput(form, initial, timeZone, 0)).length > 1;
}
