// Dragging a task onto a project in the sidebar: the board runs the drag (its DndContext does not
// reach the sidebar), finds the project link under the pointer, and says which one it is over so
// the sidebar can show it. A tiny store rather than a context: the two share no React parent.
import { useSyncExternalStore } from 'react';

let current: string | null = null;
const listeners = new Set<() => void>();

/** The sidebar project a dragged task is over (null: none). */
export function setProjectDropTarget(projectId: string | null): void {
  if (projectId === current) return;
  current = projectId;
  for (const l of [...listeners]) l();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** The project id a dragged task is over in the sidebar, for its highlight. */
export function useProjectDropTarget(): string | null {
  return useSyncExternalStore(subscribe, () => current, () => null);
}

/** The id of the sidebar project link at a point of the viewport, or null. */
export function sidebarProjectAt(x: number, y: number): string | null {
  for (const el of document.elementsFromPoint(x, y)) {
    const link = el.closest<HTMLElement>('#sidebar [data-project-id]');
    if (link) return link.dataset.projectId ?? null;
  }
  return null;
}
