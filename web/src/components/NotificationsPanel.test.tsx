import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { mockClient } from '../test/mockClient';
import { renderWithClient } from '../test/render';
import { NotificationsButton } from './NotificationsPanel';

const note = (id: string, readAt: string | null) => ({
  __typename: 'Notification',
  id,
  taskId: `task-${id}`,
  title: `Reminder ${id}`,
  body: '',
  channel: 'IN_APP',
  createdAt: '2026-12-04T09:00:00Z',
  readAt,
});

function setup() {
  const read = new Set<string>();
  const { client, calls } = mockClient((name, vars) => {
    if (name === 'UnreadCount') return { data: { notifications: { __typename: 'NotificationConnection', totalCount: 2 - read.size } } };
    if (name === 'Notifications')
      return {
        data: {
          notifications: {
            __typename: 'NotificationConnection',
            totalCount: 2,
            pageInfo: { __typename: 'PageInfo', hasNextPage: false, endCursor: null },
            edges: ['n1', 'n2'].map((id) => ({ __typename: 'NotificationEdge', cursor: id, node: note(id, read.has(id) ? '2026-12-04T10:00:00Z' : null) })),
          },
        },
      };
    if (name === 'MarkNotificationRead') {
      read.add(vars.id as string);
      return { data: { markNotificationRead: note(vars.id as string, '2026-12-04T10:00:00Z') } };
    }
    return { data: null };
  });
  renderWithClient(<NotificationsButton />, client);
  return { calls };
}

describe('NotificationsPanel', () => {
  it('opening a reminder’s task marks it read', async () => {
    const { calls } = setup();
    await userEvent.click(await screen.findByRole('button', { name: /^Notifications/ }));
    await userEvent.click(await screen.findByRole('link', { name: 'Reminder n1' }));
    await waitFor(() => expect(calls.filter((c) => c.name === 'MarkNotificationRead').map((c) => c.variables.id)).toEqual(['n1']));
  });

  it('"Mark all read" marks every unread entry', async () => {
    const { calls } = setup();
    await userEvent.click(await screen.findByRole('button', { name: /^Notifications/ }));
    await userEvent.click(await screen.findByRole('button', { name: 'Mark all read' }));
    await waitFor(() => expect(calls.filter((c) => c.name === 'MarkNotificationRead').map((c) => c.variables.id)).toEqual(['n1', 'n2']));
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Mark all read' })).toBeNull());
  });
});
