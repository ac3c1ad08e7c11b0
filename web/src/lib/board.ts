// Sections, manual order and moves, without React: the board and the sectioned list group the
// project's top-level tasks by section and turn a drop (or a key) into moveTask's arguments.

/** A section as the API gives it (position is a fractional index, compared by code point). */
export interface SectionLike {
  id: string;
  name: string;
  position: string;
}

/** A task as the board needs it. */
export interface BoardTaskLike {
  id: string;
  position: string;
  section: { id: string } | null;
}

/** The column key of the tasks without a section. */
export const NO_SECTION = '__none__';

export interface Group<T, S extends SectionLike = SectionLike> {
  /** NO_SECTION or a section's id. */
  key: string;
  section: S | null;
  tasks: T[];
}

/** Code-point order (the API's order of fractional indexes), not the locale's. */
export function byPosition(a: { position: string }, b: { position: string }): number {
  return a.position < b.position ? -1 : a.position > b.position ? 1 : 0;
}

/** The tasks without a section first, then one group per section in section order; tasks in manual order. */
export function groupBySection<T extends BoardTaskLike, S extends SectionLike>(tasks: readonly T[], sections: readonly S[]): Group<T, S>[] {
  const ordered = [...sections].sort(byPosition);
  const groups = new Map<string, Group<T, S>>([[NO_SECTION, { key: NO_SECTION, section: null, tasks: [] }]]);
  for (const s of ordered) groups.set(s.id, { key: s.id, section: s, tasks: [] });
  for (const t of [...tasks].sort(byPosition)) {
    // A task whose section is not (yet) known shows with the unsectioned ones, never lost.
    (groups.get(t.section?.id ?? NO_SECTION) ?? groups.get(NO_SECTION)!).tasks.push(t);
  }
  return [...groups.values()];
}

export interface Placement {
  afterId: string | null;
  beforeId: string | null;
}

/**
 * Where a task dropped at `index` of `targetIds` goes: the ids around it once it is taken out of
 * the list (when it was there). index counts in the list without the task.
 */
export function placementAt(targetIds: readonly string[], activeId: string, index: number): Placement {
  const rest = targetIds.filter((id) => id !== activeId);
  const i = Math.max(0, Math.min(index, rest.length));
  return { afterId: rest[i - 1] ?? null, beforeId: rest[i] ?? null };
}

/** The placement of a task one step up (-1) or down (+1) in its list; null at an end. */
export function stepPlacement(ids: readonly string[], id: string, step: -1 | 1): Placement | null {
  const from = ids.indexOf(id);
  if (from < 0) return null;
  const to = from + step;
  if (to < 0 || to >= ids.length) return null;
  return placementAt(ids, id, to);
}

/** The task a row indents under (Tab): its previous sibling; null for the first. */
export function indentParent(ids: readonly string[], id: string): string | null {
  const i = ids.indexOf(id);
  return i > 0 ? ids[i - 1]! : null;
}

/** "2/5" for a task's subtasks, or null when it has none. */
export function progress(subtasks: readonly { status: string }[]): string | null {
  if (subtasks.length === 0) return null;
  return `${subtasks.filter((s) => s.status === 'DONE').length}/${subtasks.length}`;
}

export type BoardLayout = 'flat' | 'list' | 'board';
const LAYOUT_KEY = 'taskstream.projectLayout.';

/** The layout last chosen for a project ("flat" unless one was chosen). */
export function loadLayout(projectId: string): BoardLayout {
  try {
    const v = localStorage.getItem(LAYOUT_KEY + projectId);
    if (v === 'list' || v === 'board' || v === 'flat') return v;
  } catch {
    /* storage unavailable: the default */
  }
  return 'flat';
}

/** Keeps the layout chosen for a project. */
export function saveLayout(projectId: string, layout: BoardLayout): void {
  try {
    localStorage.setItem(LAYOUT_KEY + projectId, layout);
  } catch {
    /* storage unavailable: not kept */
  }
}

/** A task at any level of a project's tree, as the sectioned list needs it. */
export interface TreeTaskLike {
  id: string;
  position: string;
  parent: { id: string } | null;
}

/** Nesting the API allows: a top-level task is level 1, its subtasks' subtasks' subtasks level 4. */
export const MAX_LEVELS = 4;

/** Each task's direct subtasks in manual order, from one flat read of a project's subtasks. */
export function childrenByParent<T extends TreeTaskLike>(subtasks: readonly T[]): Map<string, T[]> {
  const children = new Map<string, T[]>();
  for (const t of [...subtasks].sort(byPosition)) {
    if (!t.parent) continue;
    const list = children.get(t.parent.id);
    if (list) list.push(t);
    else children.set(t.parent.id, [t]);
  }
  return children;
}

/** Whether `id` is `ancestorId` or lies under it in the tree (a task cannot go under itself). */
export function isWithin(id: string, ancestorId: string, parentOf: ReadonlyMap<string, string | null>): boolean {
  for (let at: string | null | undefined = id, hops = 0; at && hops <= MAX_LEVELS; at = parentOf.get(at), hops += 1) {
    if (at === ancestorId) return true;
  }
  return false;
}

/**
 * Where Alt+← takes a subtask: one level up, right after its parent; to the top level when the
 * parent is a top-level task.
 */
export function outdentMove(parentId: string, grandparentId: string | null): { parentId?: string; toTopLevel?: true; afterId: string } {
  return grandparentId ? { parentId: grandparentId, afterId: parentId } : { toTopLevel: true, afterId: parentId };
}

/** The drop zone id of a task's "make it a subtask" target (its own id is its place in a list). */
export const NEST_PREFIX = 'nest:';
