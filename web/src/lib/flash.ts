// Which rows just changed (a collaborator's create, edit, move or completion), for a short highlight.
import { useEffect, useRef, useState } from 'react';

export const FLASH_MS = 2500;

interface Versioned {
  id: string;
  version: number;
}

/**
 * The ids that are new or at a higher version than in `previous` (none on a first load), leaving
 * out those at a version our own change produced (`own`: id → the version our mutation returned).
 */
export function changedIds(previous: ReadonlyMap<string, number> | null, tasks: readonly Versioned[], own: ReadonlyMap<string, number> = new Map()): string[] {
  if (!previous) return [];
  return tasks
    .filter((t) => {
      const v = previous.get(t.id);
      const ours = own.get(t.id);
      return (v === undefined || v < t.version) && (ours === undefined || ours < t.version);
    })
    .map((t) => t.id);
}

/** Rows to highlight; `resetKey` changing (another view, other filters) starts afresh. */
export function useFlash(tasks: readonly Versioned[], loading: boolean, resetKey: string, own?: ReadonlyMap<string, number>): ReadonlySet<string> {
  const seen = useRef<{ key: string; versions: Map<string, number> } | null>(null);
  const [flashing, setFlashing] = useState<ReadonlySet<string>>(new Set());
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  useEffect(() => () => timers.current.forEach((t) => clearTimeout(t)), []);
  useEffect(() => {
    if (loading) return;
    const prev = seen.current && seen.current.key === resetKey ? seen.current.versions : null;
    const fresh = changedIds(prev, tasks, own);
    seen.current = { key: resetKey, versions: new Map(tasks.map((t) => [t.id, t.version])) };
    if (fresh.length === 0) return;
    setFlashing((s) => new Set([...s, ...fresh]));
    for (const id of fresh) {
      clearTimeout(timers.current.get(id));
      timers.current.set(
        id,
        setTimeout(() => {
          timers.current.delete(id);
          setFlashing((s) => {
            const next = new Set(s);
            next.delete(id);
            return next;
          });
        }, FLASH_MS),
      );
    }
    // `own` is a ref's map, read when the tasks change.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [tasks, loading, resetKey]);
  return flashing;
}
