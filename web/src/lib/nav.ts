// The sidebar's fixed entries and the routes of the task views ("scopes"). The sidebar renders
// NAV_ENTRIES in order, so adding a view is one line here (plus its route in Session).
import { createContext, useContext } from 'react';
import type { ProjectRole, TaskFilter } from '../gql/graphql';
import { formatRfc3339, startOfDay } from './datetime';

export type NavIcon = 'inbox' | 'today' | 'upcoming' | 'calendar' | 'list' | 'assigned';

export interface NavEntry {
  /** First segment of the hash route, e.g. "inbox" for #/inbox. */
  id: string;
  label: string;
  icon: NavIcon;
}

export const NAV_ENTRIES: readonly NavEntry[] = [
  { id: 'tasks', label: 'All tasks', icon: 'list' },
  { id: 'inbox', label: 'Inbox', icon: 'inbox' },
  { id: 'today', label: 'Today', icon: 'today' },
  { id: 'upcoming', label: 'Upcoming', icon: 'upcoming' },
  { id: 'assigned', label: 'Assigned to me', icon: 'assigned' },
];

/** Days shown under Upcoming, tomorrow included. */
export const UPCOMING_DAYS = 7;

export type Scope =
  | { kind: 'tasks' }
  | { kind: 'inbox' }
  | { kind: 'today' }
  | { kind: 'upcoming' }
  | { kind: 'assigned' }
  | { kind: 'project'; projectId: string }
  | { kind: 'filter'; filterId: string };

export interface ParsedRoute {
  /** The view whose task list is shown; null for other pages (settings, ...). */
  scope: Scope | null;
  /** The task open in the editor ("new" for a new one). */
  taskId: string | null;
}

const LIST_SCOPES = new Set(['tasks', 'inbox', 'today', 'upcoming', 'assigned']);

/** ["projects", "p1", "t1"] → project p1 with task t1 open; ["today"] → Today. */
export function parseRoute(route: readonly string[]): ParsedRoute {
  const [head, a, b] = route;
  if (head && LIST_SCOPES.has(head)) return { scope: { kind: head as 'tasks' }, taskId: a ?? null };
  if (head === 'projects' && a) return { scope: { kind: 'project', projectId: a }, taskId: b ?? null };
  if (head === 'filters' && a) return { scope: { kind: 'filter', filterId: a }, taskId: b ?? null };
  return { scope: null, taskId: null };
}

/** The route prefix of a scope: the list is at basePath, a task at basePath/<id>. */
export function basePath(scope: Scope): string {
  if (scope.kind === 'project') return `/projects/${encodeURIComponent(scope.projectId)}`;
  if (scope.kind === 'filter') return `/filters/${encodeURIComponent(scope.filterId)}`;
  return `/${scope.kind}`;
}

/** What a scope adds to the list's filter (it wins over the filter chips). */
export function scopeFilter(scope: Scope, timeZone: string, now: number = Date.now()): TaskFilter {
  switch (scope.kind) {
    case 'inbox':
      return { inbox: true };
    case 'today':
      // Overdue tasks belong to today's work, so no lower bound.
      return { dueTo: formatRfc3339(startOfDay(now, timeZone, 1) - 1000, timeZone) };
    case 'upcoming':
      return {
        dueFrom: formatRfc3339(startOfDay(now, timeZone, 1), timeZone),
        dueTo: formatRfc3339(startOfDay(now, timeZone, 1 + UPCOMING_DAYS) - 1000, timeZone),
      };
    case 'assigned':
      return { assignedToMe: true };
    case 'project':
      return { projectId: scope.projectId };
    default:
      return {};
  }
}

/** The current list view, for the editor: where "back" goes and where a new task is created. */
export interface ListView {
  basePath: string;
  projectId: string | null;
}
export const ListViewContext = createContext<ListView>({ basePath: '/tasks', projectId: null });
export function useListView(): ListView {
  return useContext(ListViewContext);
}

/** OWNER and EDITOR change a project's tasks; VIEWER only reads. */
export function canEditTasks(role: ProjectRole | null | undefined): boolean {
  return role !== 'VIEWER';
}

/** Only an OWNER changes settings, members and invitations. */
export function canManage(role: ProjectRole | null | undefined): boolean {
  return role === 'OWNER';
}

export const ROLE_LABELS: Record<ProjectRole, string> = { OWNER: 'Owner', EDITOR: 'Editor', VIEWER: 'Viewer' };
export const ROLE_HELP: Record<ProjectRole, string> = {
  OWNER: 'everything, including members and settings',
  EDITOR: 'adds, edits and completes tasks',
  VIEWER: 'reads only',
};

/** Project colours offered by the colour picker (the API takes any #rrggbb). */
export const PROJECT_COLORS: readonly { value: string; name: string }[] = [
  { value: '#d9480f', name: 'Orange' },
  { value: '#c92a2a', name: 'Red' },
  { value: '#a61e4d', name: 'Raspberry' },
  { value: '#7048e8', name: 'Violet' },
  { value: '#3b5bdb', name: 'Blue' },
  { value: '#1098ad', name: 'Teal' },
  { value: '#2b8a3e', name: 'Green' },
  { value: '#868e96', name: 'Grey' },
];
export const PROJECT_NAME_MAX = 100;

/** Checks a project name the way the server does (1 to 100 characters after trimming). */
export function projectNameError(name: string): string | null {
  const n = name.trim().length;
  if (n === 0) return 'Name: enter a name.';
  if (n > PROJECT_NAME_MAX) return `Name: at most ${PROJECT_NAME_MAX} characters (now ${n}).`;
  return null;
}

/** Initials for a member's avatar: "ada.lovelace@x" → "AL". */
export function initials(email: string): string {
  const local = email.split('@')[0] ?? email;
  const parts = local.split(/[._\-+]+/).filter(Boolean);
  const letters = parts.length >= 2 ? `${parts[0]![0]}${parts[1]![0]}` : local.slice(0, 2);
  return letters.toUpperCase();
}
