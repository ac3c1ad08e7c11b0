import { useEffect, useId, useRef, useState } from 'react';
import { useClient, useQuery } from 'urql';
import { MarkNotificationReadDocument, NotificationsDocument, UnreadCountDocument } from '../gql/graphql';
import { formatDateTime, localizeUtcTimes } from '../lib/datetime';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { useAppEvents } from '../lib/hooks';
import { useMe } from './MeContext';
import { Icon } from './Icon';

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

  async function markRead(nid: string) {
    await client.mutation(MarkNotificationReadDocument, { id: nid }).toPromise();
    emit({ type: 'notifications-changed' });
  }

  const items = data?.notifications.edges.map((e) => e.node) ?? [];
  const unreadItems = items.filter((n) => !n.readAt);
  const [markingAll, setMarkingAll] = useState(false);

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
          <button type="button" className="link-button" disabled={markingAll} onClick={() => void markAllRead()}>
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
                <button type="button" className="link-button" onClick={() => void markRead(n.id)}>
                  Mark as read
                </button>
              ) : null}
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}
