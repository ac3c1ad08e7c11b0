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
  return [...rest, ev.project];
}

/** The words shown when a project the caller could see is gone for them. */
export function projectNotice(kind: ProjectEventKind, name: string): string | null {
  if (kind === 'DELETED') return `The project “${name}” was deleted; its tasks are gone from your lists.`;
  if (kind === 'MEMBER_REMOVED') return `You were removed from the project “${name}”; its tasks are gone from your lists.`;
  return `You no longer have access to the project “${name}”.`;
}
