// The list's filter chips and sort menu → `tasks(filter, orderBy)` variables.
import type { Priority, SortDirection, TaskFilter, TaskOrder, TaskSortField } from '../gql/graphql';
import { formatRfc3339, startOfDay } from './datetime';

export type StatusChoice = 'OPEN' | 'DONE' | 'ALL';
export type DueWindow = 'any' | 'today' | 'next7' | 'next30' | 'custom';
export type RecurringChoice = 'any' | 'yes' | 'no';
export type SortChoice = TaskSortField | 'DEFAULT';

export const PRIORITIES: readonly Priority[] = ['URGENT', 'HIGH', 'MEDIUM', 'LOW', 'NONE'];
export const PRIORITY_LABELS: Record<Priority, string> = {
  URGENT: 'Urgent',
  HIGH: 'High',
  MEDIUM: 'Medium',
  LOW: 'Low',
  NONE: 'None',
};

export const SORT_LABELS: Record<SortChoice, string> = {
  DEFAULT: 'Default (due date)',
  DUE_AT: 'Due date',
  PRIORITY: 'Priority',
  CREATED_AT: 'Created',
  UPDATED_AT: 'Last updated',
  TITLE: 'Title',
  RELEVANCE: 'Best match',
  MANUAL: 'Manual order',
};

export interface FilterState {
  text: string;
  status: StatusChoice;
  priorities: Priority[];
  tags: string[];
  tagMode: 'any' | 'all';
  due: DueWindow;
  /** YYYY-MM-DD, both inclusive, in the user's zone; for due = 'custom'. */
  dueFrom: string;
  dueTo: string;
  overdue: boolean;
  recurring: RecurringChoice;
  sort: SortChoice;
  direction: SortDirection;
}

export function defaultFilters(): FilterState {
  return {
    text: '',
    status: 'OPEN',
    priorities: [],
    tags: [],
    tagMode: 'any',
    due: 'any',
    dueFrom: '',
    dueTo: '',
    overdue: false,
    recurring: 'any',
    sort: 'DEFAULT',
    direction: 'ASC',
  };
}

function dayStart(date: string, timeZone: string, addDays = 0): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const noonUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 12);
  return formatRfc3339(startOfDay(noonUtc, timeZone, addDays), timeZone);
}

export interface TaskListVariables {
  filter: TaskFilter | null;
  orderBy: TaskOrder[] | null;
}

/** Builds the query variables; `now` and `timeZone` anchor the due windows. */
export function filtersToVariables(f: FilterState, timeZone: string, now: number = Date.now()): TaskListVariables {
  const filter: TaskFilter = {};
  const text = f.text.trim();
  if (text) filter.text = text;
  if (f.status !== 'ALL') filter.status = f.status;
  if (f.priorities.length) filter.priorities = PRIORITIES.filter((p) => f.priorities.includes(p));
  if (f.tags.length) {
    if (f.tagMode === 'all') filter.allTags = [...f.tags];
    else filter.anyTags = [...f.tags];
  }
  if (f.due === 'today' || f.due === 'next7' || f.due === 'next30') {
    const days = f.due === 'today' ? 1 : f.due === 'next7' ? 7 : 30;
    filter.dueFrom = formatRfc3339(startOfDay(now, timeZone), timeZone);
    filter.dueTo = formatRfc3339(startOfDay(now, timeZone, days) - 1000, timeZone);
  } else if (f.due === 'custom') {
    const from = f.dueFrom ? dayStart(f.dueFrom, timeZone) : null;
    const toNext = f.dueTo ? dayStart(f.dueTo, timeZone, 1) : null;
    if (from) filter.dueFrom = from;
    if (toNext) filter.dueTo = formatRfc3339(Date.parse(toNext) - 1000, timeZone);
  }
  if (f.overdue) filter.overdue = true;
  if (f.recurring !== 'any') filter.recurring = f.recurring === 'yes';

  let orderBy: TaskOrder[] | null = null;
  if (f.sort !== 'DEFAULT' && !(f.sort === 'RELEVANCE' && !text)) {
    orderBy = [{ field: f.sort, direction: f.direction }];
  }
  return { filter: Object.keys(filter).length ? filter : null, orderBy };
}

/** How many chips differ from the defaults (for the "Filters (3)" button on small screens). */
export function activeFilterCount(f: FilterState): number {
  const d = defaultFilters();
  let n = 0;
  if (f.status !== d.status) n++;
  if (f.priorities.length) n++;
  if (f.tags.length) n++;
  if (f.due !== 'any') n++;
  if (f.overdue) n++;
  if (f.recurring !== 'any') n++;
  return n;
}
