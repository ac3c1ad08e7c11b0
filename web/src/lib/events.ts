// A tiny in-page bus: "tasks changed" (after our own mutations, live events, reconnects)
// and "notifications changed", so views refetch without knowing each other.
import type { TaskListItemFragment } from '../gql/graphql';

export type AppEvent =
  | { type: 'tasks-changed'; taskId?: string; deleted?: boolean; task?: TaskListItemFragment }
  | { type: 'notifications-changed' }
  | { type: 'tags-changed' }
  | { type: 'resync' }
  | { type: 'sections-changed'; projectId: string }
  | { type: 'saved-filters-changed' }
  | { type: 'shortcut'; name: ShortcutName };

export type ShortcutName = 'quick-add' | 'search' | 'next' | 'previous' | 'complete' | 'edit' | 'delete' | 'close' | 'undo';

type Listener = (e: AppEvent) => void;
const listeners = new Set<Listener>();

export function emit(e: AppEvent): void {
  for (const l of [...listeners]) l(e);
}

export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}
