// Live-connection state shown in the UI ("Reconnecting…") and the backoff policy.
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting';

type Listener = () => void;
let state: ConnectionState = 'idle';
const listeners = new Set<Listener>();

export function getConnectionState(): ConnectionState {
  return state;
}

export function setConnectionState(next: ConnectionState): void {
  if (next === state) return;
  state = next;
  for (const l of [...listeners]) l();
}

export function subscribeConnectionState(listener: Listener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** Exponential backoff with jitter: ~0.5 s, 1 s, 2 s, … capped at 30 s. */
export function backoffDelay(retries: number, random: () => number = Math.random): number {
  const base = Math.min(30000, 500 * 2 ** Math.max(0, retries));
  return Math.round(base / 2 + (random() * base) / 2);
}
