import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { emit } from '../lib/events';
import { mockClient } from '../test/mockClient';
import { renderWithClient } from '../test/render';
import { TaskList } from './TaskList';

const node = (i: number) => ({
  __typename: 'Task',
  id: `t${i}`,
  title: `Task ${i}`,
  notes: '',
  status: 'OPEN',
  priority: i === 1 ? 'URGENT' : 'NONE',
  dueAt: null,
  completedAt: null,
  seriesId: null,
  version: 1,
  createdAt: '2026-11-28T20:00:00+00:00',
  updatedAt: '2026-11-28T20:00:00+00:00',
  tags: [],
  recurrence: null,
  reminders: [],
});

function page(from: number, count: number, total: number) {
  const edges = Array.from({ length: count }, (_, k) => ({ __typename: 'TaskEdge', cursor: `c${from + k}`, node: node(from + k) }));
  return {
    tasks: {
      __typename: 'TaskConnection',
      totalCount: total,
      pageInfo: { __typename: 'PageInfo', hasNextPage: from + count - 1 < total, endCursor: `c${from + count - 1}` },
      edges,
    },
  };
}

function setup(total = 70) {
  return mockClient((name, vars) => {
    if (name === 'Tags') return { data: { tags: [{ __typename: 'Tag', id: 'g1', name: 'work', openTaskCount: 2 }] } };
    if (name === 'Tasks') {
      const first = (vars.first as number) ?? 50;
      const from = vars.after ? Number(String(vars.after).slice(1)) + 1 : 1;
      return { data: page(from, Math.max(0, Math.min(first, total - from + 1)), total) };
    }
    return { data: null };
  });
}

const lastTasksCall = (calls: { name: string; variables: Record<string, unknown> }[]) => calls.filter((c) => c.name === 'Tasks').at(-1)!;

describe('TaskList', () => {
  it('shows the total count and loads the next page by cursor', async () => {
    const { client, calls } = setup(70);
    const user = userEvent.setup();
    renderWithClient(<TaskList selectedId={null} />, client);
    expect(await screen.findByText('70 tasks')).toBeTruthy();
    expect(screen.getAllByRole('listitem')).toHaveLength(50);
    expect(lastTasksCall(calls).variables).toMatchObject({ filter: { status: 'OPEN' }, orderBy: null, first: 50, after: null });
    await user.click(screen.getByRole('button', { name: 'Load more (50 of 70)' }));
    await waitFor(() => expect(screen.getAllByRole('listitem')).toHaveLength(70));
    expect(lastTasksCall(calls).variables).toMatchObject({ first: 50, after: 'c50' });
    expect(screen.queryByRole('button', { name: /Load more/ })).toBeNull();
  });

  it('debounces the search box and turns chips into TaskFilter variables', async () => {
    const { client, calls } = setup(3);
    const user = userEvent.setup();
    renderWithClient(<TaskList selectedId={null} />, client);
    await screen.findByText('3 tasks');
    const before = calls.filter((c) => c.name === 'Tasks').length;
    await user.type(screen.getByLabelText('Search tasks'), 'meet');
    // One request for the whole word, not one per key.
    await waitFor(() => expect(lastTasksCall(calls).variables.filter).toEqual({ text: 'meet', status: 'OPEN' }));
    expect(calls.filter((c) => c.name === 'Tasks').length).toBe(before + 1);
    expect(lastTasksCall(calls).variables.orderBy).toEqual([{ field: 'RELEVANCE', direction: 'DESC' }]);

    await user.clear(screen.getByLabelText('Search tasks'));
    await user.click(screen.getByRole('button', { name: 'Urgent' }));
    await user.click(screen.getByRole('radio', { name: 'All' }));
    await user.click(await screen.findByRole('button', { name: '#work' }));
    await user.click(screen.getByRole('button', { name: 'Overdue' }));
    await user.selectOptions(screen.getByLabelText('Recurring'), 'yes');
    await waitFor(() =>
      expect(lastTasksCall(calls).variables.filter).toEqual({ priorities: ['URGENT'], anyTags: ['work'], overdue: true, recurring: true }),
    );
    expect(screen.getByRole('button', { name: 'Urgent' }).getAttribute('aria-pressed')).toBe('true');
    await user.selectOptions(screen.getByLabelText('Sort by'), 'TITLE');
    await waitFor(() => expect(lastTasksCall(calls).variables.orderBy).toEqual([{ field: 'TITLE', direction: 'ASC' }]));
    await user.click(screen.getByRole('button', { name: /Sort direction/ }));
    await waitFor(() => expect(lastTasksCall(calls).variables.orderBy).toEqual([{ field: 'TITLE', direction: 'DESC' }]));
  });

  it('applies a live event at once and refetches the loaded window', async () => {
    const { client, calls } = setup(3);
    renderWithClient(<TaskList selectedId={null} />, client);
    await screen.findByText('Task 2');
    const n = calls.filter((c) => c.name === 'Tasks').length;
    emit({ type: 'tasks-changed', taskId: 't2', task: { ...node(2), title: 'Renamed elsewhere', version: 2 } as never });
    expect(await screen.findByText('Renamed elsewhere')).toBeTruthy();
    emit({ type: 'tasks-changed', taskId: 't3', deleted: true });
    await waitFor(() => expect(screen.queryByText('Task 3')).toBeNull());
    await waitFor(() => expect(calls.filter((c) => c.name === 'Tasks').length).toBe(n + 1));
    // A reconnect refetches too.
    emit({ type: 'resync' });
    await waitFor(() => expect(calls.filter((c) => c.name === 'Tasks').length).toBe(n + 2));
  });
});
