import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { mockClient } from '../test/mockClient';
import { renderWithClient } from '../test/render';
import { TaskEditor } from './TaskEditor';

const task = (version: number, title = 'Pay rent') => ({
  __typename: 'Task',
  id: 't1',
  title,
  notes: '',
  status: 'OPEN',
  priority: 'NONE',
  dueAt: '2030-01-07T08:00:00+00:00',
  completedAt: null,
  seriesId: null,
  version,
  createdAt: '2026-11-28T20:00:00+00:00',
  updatedAt: '2026-11-28T20:00:00+00:00',
  tags: [],
  recurrence: null,
  reminders: [],
});

describe('TaskEditor', () => {
  it('sends expectedVersion and explains a CONFLICT, then overwrites on request', async () => {
    let serverVersion = 2; // someone else saved after we loaded version 1
    let loads = 0;
    const { client, calls } = mockClient((name, vars) => {
      if (name === 'Task') return { data: { task: task(loads++ === 0 ? 1 : serverVersion, 'Pay rent') } };
      if (name === 'UpdateTask') {
        const input = vars.input as { expectedVersion: number; title?: string };
        if (input.expectedVersion !== serverVersion)
          return { errors: [{ message: `expectedVersion: the task is at version ${serverVersion}, not ${input.expectedVersion}`, extensions: { code: 'CONFLICT' } }] };
        serverVersion += 1;
        return { data: { updateTask: task(serverVersion, input.title) } };
      }
      if (name === 'Tags' || name === 'AuditLog') return { data: name === 'Tags' ? { tags: [] } : null };
      return { data: null };
    });
    const user = userEvent.setup();
    renderWithClient(<TaskEditor taskId="t1" />, client);
    const title = await screen.findByLabelText('Title');
    expect(screen.getByLabelText('Due').getAttribute('value') ?? (screen.getByLabelText('Due') as HTMLInputElement).value).toBe('2030-01-07T09:00');
    await user.clear(title);
    await user.type(title, 'Pay rent today');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch('Someone changed this task after you opened it');
    expect(calls.find((c) => c.name === 'UpdateTask')?.variables).toEqual({ id: 't1', input: { title: 'Pay rent today', expectedVersion: 1 } });
    await user.click(screen.getByRole('button', { name: 'Save mine anyway' }));
    await waitFor(() => expect(screen.queryByRole('alert')).toBeNull());
    expect(calls.filter((c) => c.name === 'UpdateTask').at(-1)?.variables).toEqual({ id: 't1', input: { title: 'Pay rent today', expectedVersion: 2 } });
    expect(await screen.findByText('Saved')).toBeTruthy();
  });

  it('puts a BAD_USER_INPUT message on its field', async () => {
    const { client } = mockClient((name) => {
      if (name === 'CreateTask')
        return { errors: [{ message: 'reminders[0].beforeDue: a relative reminder needs a due date', extensions: { code: 'BAD_USER_INPUT' } }] };
      if (name === 'Tags') return { data: { tags: [] } };
      return { data: null };
    });
    const user = userEvent.setup();
    renderWithClient(<TaskEditor taskId="new" />, client);
    await user.type(screen.getByLabelText('Title'), 'Call mum');
    await user.type(screen.getByLabelText('Due'), '2030-01-07T09:00');
    await user.click(screen.getByRole('button', { name: /Add reminder/ }));
    await user.click(screen.getByRole('button', { name: 'Create task' }));
    expect((await screen.findByRole('alert')).textContent).toMatch('Not saved. Reminder 1 (before due): a relative reminder needs a due date');
    expect(screen.getByLabelText('Reminder 1 amount').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('a relative reminder needs a due date')).toBeTruthy();
  });

  it('explains a task that no longer exists', async () => {
    const { client } = mockClient((name) => (name === 'Task' ? { data: { task: null } } : { data: null }));
    renderWithClient(<TaskEditor taskId="gone" />, client);
    expect((await screen.findByRole('alert')).textContent).toMatch('This task no longer exists');
  });
});

describe('TaskEditor and live events', () => {
  it('reloads silently when clean, warns when there are unsaved edits, ignores its own saves', async () => {
    const { emit } = await import('../lib/events');
    let version = 1;
    const { client, calls } = mockClient((name, vars) => {
      if (name === 'Task') return { data: { task: task(version, `Title v${version}`) } };
      if (name === 'UpdateTask') {
        version += 1;
        return { data: { updateTask: task(version, (vars.input as { title: string }).title) } };
      }
      return { data: name === 'Tags' ? { tags: [] } : null };
    });
    const user = userEvent.setup();
    renderWithClient(<TaskEditor taskId="t1" />, client);
    const title = (await screen.findByDisplayValue('Title v1')) as HTMLInputElement;

    // Someone else saved version 2 while the form is clean: just reload.
    version = 2;
    emit({ type: 'tasks-changed', taskId: 't1', task: { ...task(2, 'Title v2') } as never });
    await screen.findByDisplayValue('Title v2');

    // Our own save must not trigger the "changed elsewhere" warning.
    await user.clear(title);
    await user.type(title, 'Mine');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));
    await screen.findByText('Saved');
    expect(screen.queryByText(/changed elsewhere/)).toBeNull();
    expect(calls.filter((c) => c.name === 'UpdateTask').at(-1)?.variables).toMatchObject({ input: { expectedVersion: 2 } });

    // Unsaved edits + a newer version elsewhere: warn instead of overwriting the form.
    await user.type(title, ' (draft)');
    emit({ type: 'tasks-changed', taskId: 't1', task: { ...task(9, 'Theirs') } as never });
    expect((await screen.findByText(/changed elsewhere while you were editing \(now version 9\)/)).textContent).toBeTruthy();
    expect(title.value).toBe('Mine (draft)');
  });
});

describe('TaskEditor recurrence preview', () => {
  it('previews the edited rule from the due date, debounced, and shows a refusal inline', async () => {
    const { client, calls } = mockClient((name, vars) => {
      if (name === 'PreviewRecurrence') {
        if (String(vars.rule).includes('XX')) return { errors: [{ message: 'recurrence.rule: invalid BYDAY value', extensions: { code: 'BAD_USER_INPUT' } }] };
        return vars.rule === 'FREQ=DAILY'
          ? { data: { previewRecurrence: ['2030-01-07T08:00:00+00:00', '2030-01-08T08:00:00+00:00'] } }
          : { data: { previewRecurrence: ['2030-01-07T08:00:00+00:00', '2030-01-14T08:00:00+00:00', '2030-01-21T08:00:00+00:00'] } };
      }
      if (name === 'Tags') return { data: { tags: [] } };
      return { data: null };
    });
    const user = userEvent.setup();
    renderWithClient(<TaskEditor taskId="new" />, client);
    await user.type(await screen.findByLabelText('Due'), '2030-01-07T09:00');
    await user.click(screen.getByLabelText('Repeat this task'));
    await waitFor(() => expect(screen.getByTestId('preview-dates').querySelectorAll('li')).toHaveLength(2));
    expect(calls.find((c) => c.name === 'PreviewRecurrence')?.variables).toEqual({
      rule: 'FREQ=DAILY',
      start: '2030-01-07T09:00:00+01:00',
      timezone: 'Europe/Berlin',
      repeatFrom: 'DUE_DATE',
      limit: 5,
    });
    await user.selectOptions(screen.getByLabelText('Repeats'), 'WEEKLY');
    await waitFor(() => expect(screen.getByTestId('preview-dates').querySelectorAll('li')).toHaveLength(3));
    expect(screen.getByTestId('preview-dates').textContent).toMatch(/Jan 14, 2030/);
    await user.selectOptions(screen.getByLabelText('Repeats'), 'CUSTOM');
    await user.type(screen.getByLabelText('RRULE'), 'FREQ=DAILY;BYDAY=XX');
    expect(await screen.findByText('Repeat rule: invalid BYDAY value')).toBeTruthy();
    // Debounced: only finished rules were asked for, none of the half-typed ones (FREQ=D, FREQ=DAILY;B…).
    const asked = new Set(calls.filter((c) => c.name === 'PreviewRecurrence').map((c) => c.variables.rule));
    expect([...asked].sort()).toEqual(['FREQ=DAILY', 'FREQ=DAILY;BYDAY=XX', 'FREQ=WEEKLY']);
  });
});
