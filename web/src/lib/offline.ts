// The service worker (public/sw.js): the offline shell and last data, and Web Push.
import { useSyncExternalStore } from 'react';

/** Registers /sw.js where the browser has service workers (not in jsdom, not in `vite dev`). */
export function registerServiceWorker(): void {
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator) || !import.meta.env.PROD) return;
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js').catch(() => {
      /* no offline shell and no push in this browser: the app works as before */
    });
  });
}

/** Tells the service worker to drop the cached data (on log-out: another account must not see it). */
export function forgetOfflineData(): void {
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return;
  navigator.serviceWorker.controller?.postMessage({ type: 'forget-data' });
}

// One pair of window listeners for every component that asks (a list has hundreds of rows).
const onlineListeners = new Set<() => void>();
function notifyOnline(): void {
  for (const listener of onlineListeners) listener();
}
function subscribeOnline(listener: () => void): () => void {
  if (onlineListeners.size === 0) {
    window.addEventListener('online', notifyOnline);
    window.addEventListener('offline', notifyOnline);
  }
  onlineListeners.add(listener);
  return () => {
    onlineListeners.delete(listener);
    if (onlineListeners.size === 0) {
      window.removeEventListener('online', notifyOnline);
      window.removeEventListener('offline', notifyOnline);
    }
  };
}

/** Whether the browser says it is online, following its online/offline events. */
export function useOnline(): boolean {
  return useSyncExternalStore(
    subscribeOnline,
    () => navigator.onLine,
    () => true,
  );
}

/** Why a control that changes something is unavailable offline (its title and description). */
export const OFFLINE_REASON = 'You’re offline: changes can be made again once you’re back online.';

/** What marks a control that would change something as unavailable while offline. */
export interface OfflineProps {
  'aria-disabled'?: true;
  title?: string;
}

/**
 * Spread on a control that would change something: offline it is aria-disabled (still focusable,
 * so a screen reader finds it and reads the reason, its title) and `blockDisabledControls` stops it.
 */
export function useOfflineProps(): OfflineProps {
  const online = useOnline();
  return online ? {} : { 'aria-disabled': true, title: OFFLINE_REASON };
}

function isDisabledControl(target: EventTarget | null): boolean {
  return target instanceof Element && target.closest('[aria-disabled="true"]') !== null;
}

/**
 * Stops a click on (or a form submitted from) an aria-disabled control before React sees it:
 * aria-disabled, unlike `disabled`, does not stop activation itself. Returns the remover.
 */
export function blockDisabledControls(root: Window = window): () => void {
  const onClick = (e: MouseEvent) => {
    if (!isDisabledControl(e.target)) return;
    e.preventDefault();
    e.stopImmediatePropagation();
  };
  const onSubmit = (e: SubmitEvent) => {
    const from = e.submitter ?? root.document.activeElement;
    if (!isDisabledControl(from)) return;
    e.preventDefault();
    e.stopImmediatePropagation();
  };
  root.addEventListener('click', onClick, true);
  root.addEventListener('submit', onSubmit, true);
  return () => {
    root.removeEventListener('click', onClick, true);
    root.removeEventListener('submit', onSubmit, true);
  };
}

/** What a notification's action asks of the app (from the service worker, or the URL it opened). */
export interface NotificationAction {
  action: 'complete' | 'snooze' | 'open';
  taskId: string | null;
  reminderId: string | null;
}

function parseAction(value: unknown): NotificationAction | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (v.type !== 'notification-action') return null;
  const action = v.action === 'complete' || v.action === 'snooze' ? v.action : 'open';
  const id = (x: unknown) => (typeof x === 'string' && x ? x : null);
  return { action, taskId: id(v.taskId), reminderId: id(v.reminderId) };
}

/** The action in this page's URL (?notification-action=…&task=…&reminder=…), removed from it. */
export function takeActionFromUrl(): NotificationAction | null {
  if (typeof window === 'undefined') return null;
  const params = new URLSearchParams(window.location.search);
  const found = parseAction({
    type: 'notification-action',
    action: params.get('notification-action'),
    taskId: params.get('task'),
    reminderId: params.get('reminder'),
  });
  if (!params.has('notification-action')) return null;
  for (const name of ['notification-action', 'task', 'reminder']) params.delete(name);
  const rest = params.toString();
  window.history.replaceState(null, '', `${window.location.pathname}${rest ? `?${rest}` : ''}${window.location.hash}`);
  return found;
}

/** Calls `handle` for each notification action the service worker posts to this window. */
export function onNotificationAction(handle: (action: NotificationAction) => void): () => void {
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return () => {};
  const listener = (event: MessageEvent) => {
    const action = parseAction(event.data);
    if (action) handle(action);
  };
  navigator.serviceWorker.addEventListener('message', listener);
  return () => navigator.serviceWorker.removeEventListener('message', listener);
}

/** base64url text as the bytes PushManager.subscribe takes for applicationServerKey. */
export function base64UrlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  const raw = atob(padded);
  const bytes = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** Bytes as unpadded base64url (how the API takes a subscription's keys). */
export function bytesToBase64Url(buffer: ArrayBuffer | null): string {
  if (!buffer) return '';
  let raw = '';
  for (const b of new Uint8Array(buffer)) raw += String.fromCharCode(b);
  return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
