// Web Push: the settings toggle that subscribes this browser, and the actions of a pushed
// reminder's notification (Complete, Snooze), which the service worker hands to this window.
import { useEffect, useId, useState } from 'react';
import { useClient, useQuery } from 'urql';
import { CompleteTaskDocument, PushSetupDocument, SnoozeReminderDocument, SubscribePushDocument, UnsubscribePushDocument } from '../gql/graphql';
import { describeError } from '../lib/errors';
import { navigate } from '../lib/hooks';
import { base64UrlToBytes, bytesToBase64Url, onNotificationAction, takeActionFromUrl, type NotificationAction } from '../lib/offline';
import { useToast } from './Toast';
import { useOfflineProps } from '../lib/offline';

const SNOOZE_MINUTES = 10;

/** This browser's push subscription, when it has a service worker and push at all. */
async function currentSubscription(): Promise<PushSubscription | null> {
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) return null;
  const registration = await navigator.serviceWorker.getRegistration();
  return (await registration?.pushManager.getSubscription()) ?? null;
}

export function PushSettings() {
  const ids = useId();
  const client = useClient();
  const toast = useToast();
  const [{ data }, refetch] = useQuery({ query: PushSetupDocument, requestPolicy: 'cache-and-network' });
  const [endpoint, setEndpoint] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const offline = useOfflineProps();
  const supported = typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  const publicKey = data?.pushSetup.publicKey ?? null;
  const known = new Set(data?.pushSetup.subscriptions.map((s) => s.endpoint) ?? []);
  const on = endpoint !== null && known.has(endpoint);

  useEffect(() => {
    void currentSubscription().then((s) => setEndpoint(s?.endpoint ?? null), () => setEndpoint(null));
  }, []);

  async function turnOn() {
    if (!publicKey) return;
    if ((await Notification.requestPermission()) !== 'granted') {
      setProblem('Notifications are blocked for this site: allow them in the browser’s site settings first.');
      return;
    }
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(publicKey) });
    const res = await client
      .mutation(SubscribePushDocument, {
        endpoint: subscription.endpoint,
        p256dh: bytesToBase64Url(subscription.getKey('p256dh')),
        auth: bytesToBase64Url(subscription.getKey('auth')),
      })
      .toPromise();
    if (!res.data) {
      await subscription.unsubscribe();
      setProblem(describeError(res.error)?.message ?? 'Could not turn push on.');
      return;
    }
    setEndpoint(subscription.endpoint);
    toast('Reminders on the Browser push channel now reach this browser, even with Taskstream closed.');
  }

  async function turnOff() {
    const subscription = await currentSubscription();
    if (subscription) {
      await client.mutation(UnsubscribePushDocument, { endpoint: subscription.endpoint }).toPromise();
      await subscription.unsubscribe();
    }
    setEndpoint(null);
    toast('Push is off for this browser.');
  }

  async function toggle() {
    setProblem(null);
    setBusy(true);
    try {
      await (on ? turnOff() : turnOn());
    } catch (error) {
      setProblem(`This browser could not subscribe to push: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      setBusy(false);
      refetch({ requestPolicy: 'network-only' });
    }
  }

  const count = data?.pushSetup.subscriptions.length ?? 0;
  return (
    <section className="card" aria-labelledby={`${ids}-heading`}>
      <h2 id={`${ids}-heading`}>Browser push</h2>
      <p className="hint">
        Reminders sent on the Browser push channel arrive as system notifications, with Complete and Snooze, even when no Taskstream tab is open.
      </p>
      {!supported ? (
        <p className="muted">This browser does not support push notifications.</p>
      ) : data && !publicKey ? (
        <p className="muted">Push is turned off on this server.</p>
      ) : (
        <label className="check" htmlFor={`${ids}-toggle`}>
          <input id={`${ids}-toggle`} type="checkbox" checked={on} disabled={busy || !data} onChange={() => void toggle()} {...offline} />
          Push reminders to this browser
        </label>
      )}
      {problem ? (
        <p className="field-error" role="alert">
          {problem}
        </p>
      ) : null}
      {count ? <p className="hint">{count === 1 ? '1 browser receives your push reminders.' : `${count} browsers receive your push reminders.`}</p> : null}
    </section>
  );
}

/** Carries out what a pushed reminder's notification asked (Complete, Snooze 10 min). */
export function NotificationActionHandler() {
  const client = useClient();
  const toast = useToast();
  useEffect(() => {
    async function handle(request: NotificationAction) {
      if (request.action === 'complete' && request.taskId) {
        const res = await client.mutation(CompleteTaskDocument, { id: request.taskId }).toPromise();
        const task = res.data?.completeTask;
        toast(task ? `Completed “${task.title}”` : (describeError(res.error, 'task')?.message ?? 'Could not complete the task.'), task ? 'info' : 'error');
      } else if (request.action === 'snooze' && request.reminderId) {
        const res = await client.mutation(SnoozeReminderDocument, { id: request.reminderId, minutes: SNOOZE_MINUTES }).toPromise();
        toast(res.data ? `Snoozed for ${SNOOZE_MINUTES} minutes` : (describeError(res.error, 'task')?.message ?? 'Could not snooze.'), res.data ? 'info' : 'error');
      } else if (request.taskId) {
        navigate(`/tasks/${request.taskId}`);
      }
    }
    const fromUrl = takeActionFromUrl();
    if (fromUrl) void handle(fromUrl);
    return onNotificationAction((a) => void handle(a));
  }, [client, toast]);
  return null;
}
