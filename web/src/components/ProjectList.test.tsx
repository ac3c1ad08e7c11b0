// The task list inside a project (issue 18): scope filter, quick add into the project,
// nothing that changes tasks offered to a viewer, and the highlight of a collaborator's change.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { emit } from '../lib/events';
import { mockClient } from '../test/mockClient';
import { renderWithClient } from '../test/render';
import { TaskList, type ListScope } from './TaskList';

const node = (i: number, role: 'OWNER' | 'EDITOR' | 'VIEWER' = 'EDITOR', version = 1) => ({
  __typename: 'Task',
  id: `t${i}`,
  title: `Task ${i}`,
  notes: '',
  status: 'OPEN',
  priority: 'NONE',
  dueAt: null,
  completedAt: null,
  seriesId: null,
  version,
  createdAt: '2026-11-28T20:00:00+00:00',
  updatedAt: '2026-11-28T20:00:00+00:00',
  tags: [],
  recurrence: null,
  reminders: [],
  project: { __typename: 'Project', id: 'p1', name: 'Launch', color: '#1098ad', myRole: role },
});

function setup(role: 'OWNER' | 'EDITOR' | 'VIEWER', titles: () => number[] = () => [1, 2]) {
  return mockClient((name, vars) => {
    if (name === 'Tags') return { data: { tags: [] } };
    if (name === 'Tasks') {
      const nodes = titles().map((i) => node(i, role));
      return {
        data: {
          tasks: {
            __typename: 'TaskConnection',
            totalCount: nodes.length,
            pageInfo: { __typename: 'PageInfo', hasNextPage: false, endCursor: null },
            edges: nodes.map((n) => ({ __typename: 'TaskEdge', cursor: n.id, node: n })),
          },
        },
      };
    }
    if (name === 'CreateTask') {
      const input = vars.input as { title: string };
      return { data: { createTask: { ...node(9, role), title: input.title, reminders: [] } } };
    }
    return { data: null };
  });
}

const scope = (canAdd: boolean): ListScope => ({ title: 'Launch', basePath: '/projects/p1', filter: { projectId: 'p1' }, projectId: 'p1', canAdd });

describe('TaskList in a project', () => {
  it('asks for the project’s tasks, links rows under the project and quick-adds into it', async () => {
    const { client, calls } = setup('EDITOR');
    renderWithClient(<TaskList selectedId={null} scope={scope(true)} />, client);
    await screen.findByText('Task 1');
    expect(calls.filter((c) => c.name === 'Tasks').at(-1)?.variables.filter).toEqual({ status: 'OPEN', projectId: 'p1' });
    expect(screen.getByRole('link', { name: 'Task 1' }).getAttribute('href')).toBe('#/projects/p1/t1');
    expect(screen.getByRole('link', { name: /New task/ }).getAttribute('href')).toBe('#/projects/p1/new');
    // Inside its project a row does not repeat the project's name.
    expect(screen.queryByRole('link', { name: 'Launch' })).toBeNull();
    const field = screen.getByRole('textbox', { name: 'Quick add' });
    await userEvent.type(field, 'Book the venue{Enter}');
    await waitFor(() => expect(calls.find((c) => c.name === 'CreateTask')?.variables.input).toMatchObject({ title: 'Book the venue', projectId: 'p1' }));
  });

  it('offers a viewer no checkbox, quick add or new task, and says the row is view only', async () => {
    const { client } = setup('VIEWER');
    renderWithClient(<TaskList selectedId={null} scope={scope(false)} />, client);
    const row = (await screen.findByText('Task 1')).closest('li')!;
    expect(within(row).queryByRole('checkbox')).toBeNull();
    expect(within(row).getByText('View only')).toBeTruthy();
    expect(screen.queryByRole('textbox', { name: 'Quick add' })).toBeNull();
    expect(screen.queryByRole('link', { name: /New task/ })).toBeNull();
    // The keyboard's complete and delete do nothing for a viewer's task either.
    within(row).getByRole('link', { name: 'Task 1' }).focus();
    emit({ type: 'shortcut', name: 'delete' });
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('highlights a task a collaborator adds or edits, not the ones that were there', async () => {
    let ids = [1, 2];
    const { client } = setup('EDITOR', () => ids);
    renderWithClient(<TaskList selectedId={null} scope={scope(true)} />, client);
    await screen.findByText('Task 2');
    expect(document.querySelectorAll('[data-flash]')).toHaveLength(0);
    ids = [1, 2, 3];
    emit({ type: 'tasks-changed', taskId: 't3' });
    await screen.findByText('Task 3');
    await waitFor(() => expect([...document.querySelectorAll('[data-flash]')].map((e) => e.getAttribute('data-task-id'))).toEqual(['t3']));
    emit({ type: 'tasks-changed', taskId: 't1', task: { ...node(1, 'EDITOR', 2), title: 'Task 1 edited' } as never });
    await screen.findByText('Task 1 edited');
    await waitFor(() => expect(document.querySelector('[data-task-id="t1"]')?.hasAttribute('data-flash')).toBe(true));
  });
});
