import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { useQuery } from 'urql';
import { TagsDocument } from '../gql/graphql';
import { getConnectionState, subscribeConnectionState } from './connection';
import { subscribe, type AppEvent } from './events';

export function useDebounced<T>(value: T, delayMs: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(value), delayMs);
    return () => clearTimeout(t);
  }, [value, delayMs]);
  return debounced;
}

export function useConnectionState() {
  return useSyncExternalStore(subscribeConnectionState, getConnectionState, getConnectionState);
}

/** Calls the latest `handler` for every app event. */
export function useAppEvents(handler: (e: AppEvent) => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => subscribe((e) => ref.current(e)), []);
}

/** Current location hash route, e.g. "#/tasks/abc" → ["tasks", "abc"]. */
export function useHashRoute(): string[] {
  const read = () =>
    window.location.hash
      .replace(/^#\/?/, '')
      .split('/')
      .filter(Boolean)
      .map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function navigate(path: string): void {
  const target = `#${path.startsWith('/') ? path : `/${path}`}`;
  if (window.location.hash !== target) window.location.hash = target;
}

/** The user's tags, refetched whenever tasks or tags change anywhere. */
export function useTags() {
  const [result, refetch] = useQuery({ query: TagsDocument, requestPolicy: 'cache-and-network' });
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  useAppEvents((e) => {
    if (e.type === 'tags-changed' || e.type === 'resync' || e.type === 'tasks-changed') {
      clearTimeout(timer.current);
      timer.current = setTimeout(() => refetch({ requestPolicy: 'network-only' }), 300);
    }
  });
  return [result, refetch] as const;
}
