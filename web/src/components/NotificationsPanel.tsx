import { useEffect, useId, useRef, useState } from 'react';
import { useClient, useQuery } from 'urql';
import {
  MarkNotificationReadDocument,
  NotificationsDocument,
  SnoozeReminderDocument,
  TaskRemindersDocument,
  UnreadCountDocument,
  type NotificationFieldsFragment,
} from '../gql/graphql';
import { formatDateTime, localizeUtcTimes } from '../lib/datetime';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { useAppEvents } from '../lib/hooks';
import { useOfflineProps } from '../lib/offline';
import { customSnoozeMinutes, firedReminder, SNOOZE_LABELS, snoozeMinutes, type SnoozeChoice } from '../lib/reminders';
import { useMe } from './MeContext';
import { Icon } from './Icon';
import { useToast } from './Toast';
import './NotificationActions.css';

const SNOOZE_CHOICES: SnoozeChoice[] = ['10m', '1h', 'tomorrow'];

/** Bell with unread badge; opens the notifications panel. */
export function NotificationsButton() {
  const ids = useId();
  const [open, setOpen] = useState(false);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const [{ data }, refetch] = useQuery({ query: UnreadCountDocument, requestPolicy: 'cache-and-network' });
  const unread = data?.notifications.totalCount ?? 0;

  useAppEvents((e) => {
    if (e.type === 'notifications-changed' || e.type === 'resync') refetch({ requestPolicy: 'network-only' });
  });

  const close = () => {
    setOpen(false);
    buttonRef.current?.focus();
  };

  return (
    <div className="notifications">
      <button
        ref={buttonRef}
        type="button"
        className="icon-button bell"
        aria-expanded={open}
        aria-controls={`${ids}-panel`}
        aria-label={unread ? `Notifications, ${unread} unread` : 'Notifications'}
        onClick={() => setOpen((o) => !o)}
      >
        <Icon name="bell" size={20} />
        {unread ? (
          <span className="unread-badge" aria-hidden="true" data-testid="unread-badge">
            {unread > 99 ? '99+' : unread}
          </span>
        ) : null}
      </button>
      {open ? <NotificationsPanel id={`${ids}-panel`} onClose={close} /> : null}
    </div>
  );
}

function NotificationsPanel({ id, onClose }: { id: string; onClose: () => void }) {
  const me = useMe();
  const client = useClient();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const panelRef = useRef<HTMLDivElement>(null);
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [{ data, error, fetching }, refetch] = useQuery({
    query: NotificationsDocument,
    variables: { unreadOnly, first: 50 },
    requestPolicy: 'cache-and-network',
  });
  useAppEvents((e) => {
    if (e.type === 'notifications-changed' || e.type === 'resync') refetch({ requestPolicy: 'network-only' });
  });

  useEffect(() => {
    headingRef.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    const onClick = (e: MouseEvent) => {
      const target = e.target as Node;
      if (panelRef.current && !panelRef.current.contains(target) && !(target as Element).closest?.('.bell')) onClose();
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('mousedown', onClick);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('mousedown', onClick);
    };
  }, [onClose]);

  const toast = useToast();
  const [snoozing, setSnoozing] = useState<string | null>(null);
  // The notification whose custom snooze time is being chosen, that time, and what is wrong with it.
  const [customFor, setCustomFor] = useState<string | null>(null);
  const [customAt, setCustomAt] = useState('');
  const [customError, setCustomError] = useState<string | null>(null);

  function snoozeUntilChosen(n: NotificationFieldsFragment) {
    const minutes = customSnoozeMinutes(customAt, me.timezone);
    if (typeof minutes !== 'number') {
      setCustomError(minutes.error);
      return;
    }
    setCustomError(null);
    setCustomFor(null);
    void snooze(n, minutes);
  }

  // A notification names its task, not its reminder: the one snoozed is the task's reminder
  // sent closest to the notification. Snoozing it is acting on the notification: it is read.
  async function snooze(n: NotificationFieldsFragment, minutes: number) {
    if (!n.taskId) return;
    setSnoozing(n.id);
    try {
      const res = await client.query(TaskRemindersDocument, { id: n.taskId }, { requestPolicy: 'network-only' }).toPromise();
      const task = res.data?.task;
      if (!task) {
        toast(res.error ? (describeError(res.error, 'task')?.message ?? 'Could not snooze.') : 'This task no longer exists, so there is nothing to snooze.', 'error');
        return;
      }
      if (task.status !== 'OPEN') {
        toast(`“${task.title}” is done; reopen it to be reminded again.`, 'error');
        return;
      }
      const reminder = firedReminder(task.reminders, n.createdAt);
      if (!reminder) {
        toast(`This reminder of “${task.title}” was already rescheduled or removed; open the task to change it.`, 'error');
        return;
      }
      const done = await client.mutation(SnoozeReminderDocument, { id: reminder.id, minutes }).toPromise();
      const snoozed = done.data?.snoozeReminder;
      if (!snoozed) {
        toast(describeError(done.error, 'task')?.message ?? 'Could not snooze.', 'error');
        return;
      }
      if (!n.readAt) await client.mutation(MarkNotificationReadDocument, { id: n.id }).toPromise();
      toast(`Snoozed “${task.title}” until ${formatDateTime(snoozed.remindAt, me.timezone)}`);
      emit({ type: 'notifications-changed' });
      emit({ type: 'tasks-changed', taskId: task.id });
    } finally {
      setSnoozing(null);
    }
  }

  async function markRead(nid: string) {
    await client.mutation(MarkNotificationReadDocument, { id: nid }).toPromise();
    emit({ type: 'notifications-changed' });
  }

  const items = data?.notifications.edges.map((e) => e.node) ?? [];
  const unreadItems = items.filter((n) => !n.readAt);
  const [markingAll, setMarkingAll] = useState(false);
  const offline = useOfflineProps();

  // No bulk mutation in the API: one call per loaded unread entry (at most the 50 shown).
  async function markAllRead() {
    setMarkingAll(true);
    for (const n of unreadItems) await client.mutation(MarkNotificationReadDocument, { id: n.id }).toPromise();
    setMarkingAll(false);
    emit({ type: 'notifications-changed' });
    headingRef.current?.focus();
  }
  return (
    <div id={id} ref={panelRef} className="notifications-panel" role="region" aria-labelledby={`${id}-heading`}>
      <div className="panel-header">
        <h2 id={`${id}-heading`} ref={headingRef} tabIndex={-1}>
          Notifications
        </h2>
        <label className="check small">
          <input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.target.checked)} /> Unread only
        </label>
        {unreadItems.length ? (
          <button type="button" className="link-button" disabled={markingAll} onClick={() => void markAllRead()} {...offline}>
            Mark all read
          </button>
        ) : null}
        <button type="button" className="icon-button" aria-label="Close notifications" onClick={onClose}>
          ×
        </button>
      </div>
      {error ? <p className="field-error">{describeError(error)?.message}</p> : null}
      {fetching && !data ? <p className="hint">Loading…</p> : null}
      {data && items.length === 0 ? (
        <p className="empty-state small">{unreadOnly ? 'No unread notifications.' : 'You’re all caught up. Reminders you set appear here.'}</p>
      ) : null}
      <ul className="notification-list">
        {items.map((n) => (
          <li key={n.id} className={n.readAt ? 'read' : 'unread'}>
            <div className="n-title">
              {n.taskId ? (
                // Opening the task is reading the reminder.
                <a href={`#/tasks/${n.taskId}`} onClick={() => (n.readAt ? undefined : void markRead(n.id))}>
                  {n.title}
                </a>
              ) : (
                n.title
              )}
            </div>
            {n.body ? <div className="n-body">{localizeUtcTimes(n.body, me.timezone)}</div> : null}
            <div className="n-meta">
              <time dateTime={n.createdAt}>{formatDateTime(n.createdAt, me.timezone)}</time>
              {!n.readAt ? (
                <button type="button" className="link-button" onClick={() => void markRead(n.id)} {...offline}>
                  Mark as read
                </button>
              ) : null}
            </div>
            {n.taskId ? (
              <div className="n-actions" role="group" aria-label={`Snooze “${n.title}”`}>
                <span className="n-actions-label" aria-hidden="true">
                  Snooze:
                </span>
                {SNOOZE_CHOICES.map((c) => (
                  <button
                    key={c}
                    type="button"
                    className="ghost small"
                    disabled={snoozing === n.id}
                    aria-label={`Snooze ${SNOOZE_LABELS[c]}`}
                    onClick={() => void snooze(n, snoozeMinutes(c, me.timezone))}
                    {...offline}
                  >
                    {SNOOZE_LABELS[c]}
                  </button>
                ))}
                <button
                  type="button"
                  className="ghost small"
                  disabled={snoozing === n.id}
                  aria-expanded={customFor === n.id}
                  aria-label="Snooze Custom…"
                  {...offline}
                  onClick={() => {
                    setCustomFor(customFor === n.id ? null : n.id);
                    setCustomAt('');
                    setCustomError(null);
                  }}
                >
                  Custom…
                </button>
              </div>
            ) : null}
            {n.taskId && customFor === n.id ? (
              <form
                className="n-custom-snooze"
                noValidate
                onSubmit={(e) => {
                  e.preventDefault();
                  snoozeUntilChosen(n);
                }}
              >
                <label htmlFor={`${id}-${n.id}-until`}>Snooze until</label>
                <input
                  id={`${id}-${n.id}-until`}
                  type="datetime-local"
                  value={customAt}
                  onChange={(e) => setCustomAt(e.target.value)}
                  aria-invalid={customError ? true : undefined}
                  aria-describedby={customError ? `${id}-${n.id}-until-error` : undefined}
                />
                <button type="submit" className="small primary" disabled={snoozing === n.id} {...offline}>
                  Snooze
                </button>
                {customError ? (
                  <p id={`${id}-${n.id}-until-error`} className="field-error" role="alert">
                    {customError}
                  </p>
                ) : null}
              </form>
            ) : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
