import { describe, expect, it } from 'vitest';
import type { TaskDetailFragment } from '../gql/graphql';
import { backoffDelay } from './connection';
import { emptyForm, formFromTask, formToCreateInput, formToUpdateInput, isDirty, splitMinutes, validateForm, type TaskForm } from './taskForm';

const TZ = 'Europe/Berlin';

const task: TaskDetailFragment = {
  __typename: 'Task',
  id: 't1',
  title: 'Water the plants',
  notes: '',
  status: 'OPEN',
  priority: 'HIGH',
  dueAt: '2030-01-07T08:00:00+00:00',
  completedAt: null,
  seriesId: 's1',
  version: 3,
  createdAt: '2026-11-28T20:00:00+00:00',
  updatedAt: '2026-11-28T20:00:00+00:00',
  project: null,
  assignee: null,
  tags: [{ __typename: 'Tag', id: 'g1', name: 'home' }],
  recurrence: {
    __typename: 'Recurrence',
    rule: 'FREQ=WEEKLY;COUNT=5;BYDAY=MO,TH',
    repeatFrom: 'DUE_DATE',
    timezone: TZ,
    skipped: [],
    upcoming: [],
  },
  reminders: [
    { __typename: 'Reminder', id: 'r1', remindAt: '2030-01-07T06:00:00+00:00', beforeDue: 120, channels: ['IN_APP', 'EMAIL'], state: 'SCHEDULED', sentAt: null },
    { __typename: 'Reminder', id: 'r2', remindAt: '2030-01-06T17:00:00+00:00', beforeDue: null, channels: ['WEBHOOK'], state: 'SCHEDULED', sentAt: null },
  ],
};

describe('task form ↔ API', () => {
  it('loads a task into the form in the user’s zone', () => {
    const f = formFromTask(task, TZ);
    expect(f.due).toBe('2030-01-07T09:00');
    expect(f.repeat).toBe(true);
    expect(f.recurrence).toMatchObject({ preset: 'WEEKLY', byDay: ['MO', 'TH'], end: { kind: 'count', count: 5 } });
    expect(f.reminders.map(({ mode, amount, unit, at, channels }) => ({ mode, amount, unit, at, channels }))).toEqual([
      { mode: 'before', amount: 2, unit: 'hours', at: '2030-01-07T07:00', channels: ['IN_APP', 'EMAIL'] },
      { mode: 'at', amount: 15, unit: 'minutes', at: '2030-01-06T18:00', channels: ['WEBHOOK'] },
    ]);
  });

  it('builds CreateTaskInput with only what was filled in', () => {
    const f: TaskForm = { ...emptyForm(), title: '  Pay rent ' };
    expect(formToCreateInput(f, TZ)).toEqual({ title: 'Pay rent', priority: 'NONE' });
    const full = formToCreateInput({ ...formFromTask(task, TZ), title: 'Copy' }, TZ);
    expect(full).toEqual({
      title: 'Copy',
      priority: 'HIGH',
      tags: ['home'],
      dueAt: '2030-01-07T09:00:00+01:00',
      recurrence: { rule: 'FREQ=WEEKLY;BYDAY=MO,TH;COUNT=5', repeatFrom: 'DUE_DATE', timezone: TZ },
      reminders: [
        { beforeDue: 120, channels: ['IN_APP', 'EMAIL'] },
        { remindAt: '2030-01-06T18:00:00+01:00', channels: ['WEBHOOK'] },
      ],
    });
  });

  it('sends only changed fields, always with expectedVersion', () => {
    const initial = formFromTask(task, TZ);
    expect(formToUpdateInput(initial, initial, TZ, 3)).toEqual({ expectedVersion: 3 });
    expect(isDirty(initial, initial, TZ)).toBe(false);
    expect(formToUpdateInput({ ...initial, title: 'Water all plants' }, initial, TZ, 3)).toEqual({ title: 'Water all plants', expectedVersion: 3 });
    expect(formToUpdateInput({ ...initial, tags: ['HOME'] }, initial, TZ, 3)).toEqual({ expectedVersion: 3 });
    expect(formToUpdateInput({ ...initial, tags: ['home', 'garden'] }, initial, TZ, 3)).toEqual({ tags: ['home', 'garden'], expectedVersion: 3 });
    expect(formToUpdateInput({ ...initial, due: '' }, initial, TZ, 3)).toEqual({ clearDueAt: true, expectedVersion: 3 });
    expect(formToUpdateInput({ ...initial, repeat: false }, initial, TZ, 3)).toEqual({ clearRecurrence: true, expectedVersion: 3 });
    expect(formToUpdateInput({ ...initial, recurrence: { ...initial.recurrence, repeatFrom: 'COMPLETION' } }, initial, TZ, 3)).toEqual({
      recurrence: { rule: 'FREQ=WEEKLY;BYDAY=MO,TH;COUNT=5', repeatFrom: 'COMPLETION', timezone: TZ },
      expectedVersion: 3,
    });
    const fewer = { ...initial, reminders: initial.reminders.slice(1) };
    expect(formToUpdateInput(fewer, initial, TZ, 3)).toEqual({
      reminders: [{ remindAt: '2030-01-06T18:00:00+01:00', channels: ['WEBHOOK'] }],
      expectedVersion: 3,
    });
  });

  it('assigns, reassigns and unassigns only when the assignee changed', () => {
    const initial = formFromTask({ ...task, assignee: { __typename: 'PublicUser', id: 'u1', email: 'ada@example.test' } }, TZ);
    expect(initial.assigneeId).toBe('u1');
    expect(formToUpdateInput(initial, initial, TZ, 7)).toEqual({ expectedVersion: 7 });
    expect(formToUpdateInput({ ...initial, assigneeId: 'u2' }, initial, TZ, 7)).toEqual({ expectedVersion: 7, assigneeId: 'u2' });
    expect(formToUpdateInput({ ...initial, assigneeId: '' }, initial, TZ, 7)).toEqual({ expectedVersion: 7, clearAssignee: true });
    // A draft kept before assignees existed has no assigneeId: nothing changes.
    const { assigneeId: _dropped, ...old } = formFromTask(task, TZ);
    void _dropped;
    expect(isDirty(old, formFromTask(task, TZ), TZ)).toBe(false);
    expect(formToCreateInput({ ...emptyForm(), title: 'x', assigneeId: 'u3' }, TZ)).toMatchObject({ title: 'x', assigneeId: 'u3' });
    expect(formToCreateInput({ ...emptyForm(), title: 'x' }, TZ)).not.toHaveProperty('assigneeId');
  });

  it('validates before asking the server', () => {
    expect(validateForm({ ...emptyForm(), title: '   ' }).title).toBeDefined();
    expect(validateForm({ ...emptyForm(), title: 'x'.repeat(501) }).title).toMatch(/500/);
    const relNoDue = { ...emptyForm(), title: 'x', reminders: [{ key: 'k', mode: 'before' as const, amount: 5, unit: 'minutes' as const, at: '', channels: ['IN_APP' as const] }] };
    expect(validateForm(relNoDue)['reminders[0]']).toMatch(/needs a due date/);
    expect(validateForm({ ...relNoDue, repeat: true })).toEqual({});
    expect(validateForm({ ...relNoDue, due: '2030-01-01T09:00', reminders: [{ ...relNoDue.reminders[0]!, channels: [] }] })['reminders[0]']).toMatch(/channel/);
  });

  it('splits minutes into the largest even unit', () => {
    expect(splitMinutes(30)).toEqual({ amount: 30, unit: 'minutes' });
    expect(splitMinutes(180)).toEqual({ amount: 3, unit: 'hours' });
    expect(splitMinutes(2880)).toEqual({ amount: 2, unit: 'days' });
    expect(splitMinutes(0)).toEqual({ amount: 0, unit: 'minutes' });
  });
});

describe('reconnect backoff', () => {
  it('grows exponentially with jitter and is capped', () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(30, () => 1)).toBe(30000);
    expect(backoffDelay(30, () => 0)).toBe(15000);
  });
});
