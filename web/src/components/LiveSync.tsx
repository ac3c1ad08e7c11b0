import { useEffect } from 'react';
import { useClient } from 'urql';
import { NotificationAddedDocument, TaskEventsDocument } from '../gql/graphql';
import { emit } from '../lib/events';
import { useToast } from './Toast';

/** Keeps the two live subscriptions open for the whole session and fans every event out. */
export function LiveSync() {
  const client = useClient();
  const toast = useToast();

  useEffect(() => {
    const tasks = client.subscription(TaskEventsDocument, {}).subscribe((res) => {
      const ev = res.data?.taskEvents;
      if (!ev) return;
      emit({
        type: 'tasks-changed',
        taskId: ev.taskId,
        deleted: ev.kind === 'DELETED',
        ...(ev.task ? { task: ev.task } : {}),
      });
    });
    const notifications = client.subscription(NotificationAddedDocument, {}).subscribe((res) => {
      const n = res.data?.notifications;
      if (!n) return;
      emit({ type: 'notifications-changed' });
      // Not only reminders are pushed: an assignment or an invitation arrives the same way.
      toast(`New notification: ${n.title}`);
    });
    return () => {
      tasks.unsubscribe();
      notifications.unsubscribe();
    };
  }, [client, toast]);

  return null;
}
