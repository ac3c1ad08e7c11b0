// Pure project-event logic (kept apart from React so it is unit-tested directly).
import type { ProjectEventKind, ProjectFieldsFragment } from '../gql/graphql';

export interface ProjectEventLike {
  kind: ProjectEventKind;
  projectId: string;
  project: ProjectFieldsFragment | null;
}

/** The project list after one event: the project as the caller sees it now, or gone when null. */
export function applyProjectEvent(list: readonly ProjectFieldsFragment[], ev: ProjectEventLike): ProjectFieldsFragment[] {
  const rest = list.filter((p) => p.id !== ev.projectId);
  if (!ev.project) {
    // INVITED without a project is an invitation to the caller: nothing of theirs changes.
    return ev.kind === 'INVITED' ? [...list] : rest;
  }
  const old = list.find((p) => p.id === ev.projectId);
  // Events and refetches race; never go back to an older version.
  if (old && old.version > ev.project.version) return [...list];
  // The list is in the caller's own order (the server's): a known project keeps its place, a
  // new one comes last until the next read says where it goes.
  const project = ev.project;
  return old ? list.map((p) => (p.id === project.id ? project : p)) : [...rest, project];
}

/** The list with the project moved as moveProject places it: after `afterId`, else before `beforeId`, else last. */
export function moveInList<T extends { id: string }>(list: readonly T[], id: string, afterId: string | null, beforeId: string | null): T[] {
  const moving = list.find((p) => p.id === id);
  if (!moving) return [...list];
  const rest = list.filter((p) => p.id !== id);
  const anchor = afterId ?? beforeId;
  const at = anchor === null ? -1 : rest.findIndex((p) => p.id === anchor);
  const index = at < 0 ? rest.length : afterId !== null ? at + 1 : at;
  return [...rest.slice(0, index), moving, ...rest.slice(index)];
}

/** The words shown when a project the caller could see is gone for them. */
export function projectNotice(kind: ProjectEventKind, name: string): string | null {
  if (kind === 'DELETED') return `The project “${name}” was deleted; its tasks are gone from your lists.`;
  if (kind === 'MEMBER_REMOVED') return `You were removed from the project “${name}”; its tasks are gone from your lists.`;
  return `You no longer have access to the project “${name}”.`;
}
