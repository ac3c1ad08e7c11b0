import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useClient } from 'urql';
import { CompleteTaskDocument, DeleteTaskDocument, ReopenTaskDocument, type TaskFilter, type TaskListItemFragment, type TaskOrder } from '../gql/graphql';
import { restoreDeleted } from '../lib/restore';
import { SaveFilterButton } from './SavedFilters';
import { formatDateTime, relativeDay } from '../lib/datetime';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { activeFilterCount, defaultFilters, filtersToVariables, PRIORITY_LABELS, type FilterState } from '../lib/filters';
import { navigate, useAppEvents, useDebounced } from '../lib/hooks';
import { useFlash } from '../lib/flash';
import { canEditTasks } from '../lib/nav';
import { useOfflineProps } from '../lib/offline';
import { AssigneeAvatar } from './AssigneeAvatar';
import { humanRule } from '../lib/recurrence';
import { useTaskList } from '../lib/useTaskList';
import { ConfirmDialog } from './ConfirmDialog';
import { FilterBar } from './FilterBar';
import { useMe } from './MeContext';
import { QuickAdd } from './QuickAdd';
import { useToast } from './Toast';
import { Icon } from './Icon';

// `q` pressed on another screen: focus the quick-add field once the list is shown.
let quickAddOnMount = false;
export function focusQuickAddOnMount(): void {
  quickAddOnMount = true;
}

const FILTERS_KEY = 'taskstream.filters';

/** Which tasks the list shows (a sidebar view or a project) and what it offers. */
export interface ListScope {
  title: string;
  /** Route of the list; a task opens at basePath/<id>. */
  basePath: string;
  /** Merged over the filter chips'. */
  filter: TaskFilter;
  /** Quick add and "New task" create the task here. */
  projectId: string | null;
  /** false for a project the caller only views: nothing that changes tasks is offered. */
  canAdd: boolean;
  /** Replaces the sort chip's order (a saved filter's). */
  orderBy?: TaskOrder[] | null;
  /** Shown under the title (the project's members and actions). */
  header?: ReactNode;
}

export const ALL_TASKS: ListScope = { title: 'Tasks', basePath: '/tasks', filter: {}, projectId: null, canAdd: true };

function loadFilters(): FilterState {
  try {
    const raw = sessionStorage.getItem(FILTERS_KEY);
    if (raw) return { ...defaultFilters(), ...(JSON.parse(raw) as Partial<FilterState>) };
  } catch {
    /* ignore */
  }
  return defaultFilters();
}

export function TaskList({ selectedId, scope = ALL_TASKS }: { selectedId: string | null; scope?: ListScope }) {
  const me = useMe();
  const client = useClient();
  const toast = useToast();
  const [filters, setFilters] = useState<FilterState>(loadFilters);
  useEffect(() => {
    try {
      sessionStorage.setItem(FILTERS_KEY, JSON.stringify(filters));
    } catch {
      /* ignore */
    }
  }, [filters]);

  // Typing is debounced; chips apply at once.
  const debouncedText = useDebounced(filters.text, 300);
  const scopeKey = JSON.stringify(scope.filter);
  const vars = useMemo(
    () => {
      const v0 = filtersToVariables({ ...filters, text: debouncedText }, me.timezone);
      const v = scope.orderBy ? { ...v0, orderBy: scope.orderBy } : v0;
      return Object.keys(scope.filter).length ? { ...v, filter: { ...v.filter, ...scope.filter } } : v;
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [JSON.stringify({ ...filters, text: debouncedText }), me.timezone, scopeKey, JSON.stringify(scope.orderBy ?? null)],
  );
  const list = useTaskList(vars);
  const flashing = useFlash(list.tasks, list.loading, JSON.stringify(vars));
  const base = scope.basePath;
  const rootRef = useRef<HTMLDivElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  const quickAddRef = useRef<HTMLInputElement>(null);
  const [pendingDelete, setPendingDelete] = useState<TaskListItemFragment | null>(null);
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  // The row the keyboard is on (kept when its row goes away, so focus lands on a neighbour).
  const cursor = useRef<{ id: string; index: number } | null>(null);

  useEffect(() => {
    if (quickAddOnMount) {
      quickAddOnMount = false;
      quickAddRef.current?.focus();
    }
  }, []);

  // Infinite scroll: load the next page when the sentinel nears the viewport.
  const sentinel = useRef<HTMLDivElement>(null);
  const { loadMore } = list;
  useEffect(() => {
    const el = sentinel.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void loadMore();
    }, { rootMargin: '400px' });
    io.observe(el);
    return () => io.disconnect();
  }, [loadMore, list.tasks.length]);

  const rowLink = (id: string) =>
    listRef.current?.querySelector<HTMLAnchorElement>(`li[data-task-id="${CSS.escape(id)}"] a.task-title`) ?? null;
  const focusRow = useCallback((id: string): boolean => {
    const el = rowLink(id);
    el?.focus();
    return !!el;
  }, []);
  const focusIndex = (index: number) => {
    const links = listRef.current?.querySelectorAll<HTMLAnchorElement>('a.task-title');
    if (!links || links.length === 0) return;
    links[Math.max(0, Math.min(index, links.length - 1))]?.focus();
  };

  /** The task the keyboard acts on: the focused row, else the last one, else the open one. */
  function currentTask(): TaskListItemFragment | null {
    const li = (document.activeElement as HTMLElement | null)?.closest?.('li[data-task-id]');
    const id = li?.getAttribute('data-task-id') ?? cursor.current?.id ?? selectedId;
    return list.tasks.find((t) => t.id === id) ?? null;
  }

  // Focus is never dropped: when the focused row leaves the list (completed under a filter
  // that hides done tasks, deleted, moved away), its neighbour takes it.
  useEffect(() => {
    const c = cursor.current;
    if (!c || (document.activeElement && document.activeElement !== document.body)) return;
    if (!focusRow(c.id)) focusIndex(c.index);
  }, [list.tasks, focusRow]);

  // Closing the editor returns focus to the task it showed.
  const prevSelected = useRef(selectedId);
  useEffect(() => {
    const prev = prevSelected.current;
    prevSelected.current = selectedId;
    if (prev && prev !== 'new' && !selectedId) {
      const active = document.activeElement;
      if (!active || active === document.body || !rootRef.current?.contains(active)) {
        if (!focusRow(prev)) quickAddRef.current?.focus();
      }
    } else if (prev === 'new' && !selectedId) {
      const active = document.activeElement;
      if (!active || active === document.body) quickAddRef.current?.focus();
    }
  }, [selectedId, focusRow]);

  const setDone = useCallback(
    async (task: TaskListItemFragment, done: boolean, undoable: boolean): Promise<void> => {
      setBusy((b) => new Set(b).add(task.id));
      list.patch({ ...task, status: done ? 'DONE' : 'OPEN' });
      const res = done
        ? await client.mutation(CompleteTaskDocument, { id: task.id }).toPromise()
        : await client.mutation(ReopenTaskDocument, { id: task.id }).toPromise();
      setBusy((b) => {
        const next = new Set(b);
        next.delete(task.id);
        return next;
      });
      if (res.error) {
        list.patch(task);
        toast(describeError(res.error, 'task')?.message ?? 'Could not update the task.', 'error');
      } else {
        const updated = res.data && ('completeTask' in res.data ? res.data.completeTask : res.data.reopenTask);
        const text = done ? `Completed “${task.title}”` : `Reopened “${task.title}”`;
        if (undoable && updated) {
          toast(text, 'info', {
            undo: async () => {
              await setDone({ ...task, status: updated.status, version: updated.version }, !done, false);
              focusRow(task.id);
            },
          });
        } else toast(text);
      }
      emit({ type: 'tasks-changed', taskId: task.id });
    },
    [client, list, toast, focusRow],
  );

  async function deleteTask(task: TaskListItemFragment) {
    const index = list.tasks.findIndex((t) => t.id === task.id);
    const res = await client.mutation(DeleteTaskDocument, { id: task.id }).toPromise();
    if (res.error) {
      toast(describeError(res.error, 'task')?.message ?? 'Could not delete the task.', 'error');
      focusRow(task.id);
      return;
    }
    list.remove(task.id);
    cursor.current = { id: task.id, index: Math.max(0, index) };
    emit({ type: 'tasks-changed', taskId: task.id, deleted: true });
    emit({ type: 'tags-changed' });
    // Undo brings the same task back (restoreTask: same id, subtasks, reminders) while the
    // toast shows; other windows see it come back live.
    toast(`Deleted “${task.title}”`, 'info', {
      undo: async () => {
        const restored = await restoreDeleted(client, task.id);
        if ('error' in restored) {
          toast(restored.error, 'error');
          return;
        }
        emit({ type: 'tasks-changed', taskId: task.id, task: restored.task });
        emit({ type: 'tags-changed' });
        setTimeout(() => focusRow(task.id), 0);
      },
    });
    if (selectedId === task.id) navigate(base);
    setTimeout(() => focusIndex(index), 0);
  }

  useAppEvents((e) => {
    if (e.type !== 'shortcut') return;
    const current = currentTask();
    const index = current ? list.tasks.findIndex((t) => t.id === current.id) : -1;
    switch (e.name) {
      case 'quick-add':
        quickAddRef.current?.focus();
        break;
      case 'search':
        rootRef.current?.querySelector<HTMLInputElement>('input[type=search]')?.focus();
        break;
      case 'next':
      case 'previous': {
        if (list.tasks.length === 0) break;
        const step = e.name === 'next' ? 1 : -1;
        const target = index < 0 ? (step > 0 ? 0 : list.tasks.length - 1) : index + step;
        focusIndex(target);
        if (e.name === 'next' && target >= list.tasks.length - 1) void loadMore();
        break;
      }
      case 'complete':
        if (current && !busy.has(current.id) && canEditTasks(current.project?.myRole)) void setDone(current, current.status !== 'DONE', true);
        break;
      case 'edit':
        if (current) navigate(`${base}/${encodeURIComponent(current.id)}`);
        break;
      case 'delete':
        if (current && canEditTasks(current.project?.myRole)) setPendingDelete(current);
        break;
      case 'close':
        if (selectedId) navigate(base);
        break;
      default:
        break;
    }
  });

  const searching = debouncedText.trim().length > 0;
  const countText =
    list.totalCount === null
      ? ''
      : `${list.totalCount} ${list.totalCount === 1 ? 'task' : 'tasks'}${searching ? ` matching “${debouncedText.trim()}”` : ''}`;

  const offline = useOfflineProps();
  return (
    <div className="task-list" ref={rootRef}>
      <div className="list-header">
        <h1 id="tasks-heading">{scope.title}</h1>
        {scope.canAdd ? (
          <a className="button primary" href={`#${base}/new`} aria-keyshortcuts="n" {...offline}>
            <Icon name="plus" /> New task
          </a>
        ) : null}
      </div>
      {scope.header}
      {scope.canAdd ? <QuickAdd ref={quickAddRef} projectId={scope.projectId} /> : null}
      <FilterBar value={filters} onChange={setFilters} />
      {/* Offered once there is something to save: a search or a chip. */}
      {searching || activeFilterCount(filters) > 0 ? <SaveFilterButton filter={vars.filter ?? {}} orderBy={vars.orderBy ?? null} /> : null}
      <p className="list-count" aria-live="polite" data-testid="task-count">
        {countText}
      </p>
      {list.error ? (
        <div className="banner banner-error" role="alert">
          <p>{list.error.message}</p>
          <button type="button" onClick={() => void list.refresh()}>
            Try again
          </button>
        </div>
      ) : null}
      {list.loading && list.tasks.length === 0 ? <p className="muted">Loading…</p> : null}
      {!list.loading && list.tasks.length === 0 && !list.error ? (
        <div className="empty-state">
          <p>{searching || activeFilterCount(filters) > 0 ? 'No tasks match these filters.' : 'No tasks yet.'}</p>
          {scope.canAdd ? (
            <a href={`#${base}/new`} {...offline}>
              Create a task
            </a>
          ) : null}
        </div>
      ) : null}
      <ul
        className="tasks"
        ref={listRef}
        aria-labelledby="tasks-heading"
        aria-busy={list.loading}
        onFocus={(e) => {
          const id = (e.target as HTMLElement).closest('li[data-task-id]')?.getAttribute('data-task-id');
          if (id) cursor.current = { id, index: list.tasks.findIndex((t) => t.id === id) };
        }}
      >
        {list.tasks.map((t) => (
          <TaskRow
            key={t.id}
            task={t}
            base={base}
            selected={t.id === selectedId}
            busy={busy.has(t.id)}
            flash={flashing.has(t.id)}
            showProject={scope.projectId === null}
            onToggle={() => void setDone(t, t.status !== 'DONE', true)}
          />
        ))}
      </ul>
      <div ref={sentinel} className="sentinel" aria-hidden="true" />
      {list.hasNextPage ? (
        <button type="button" className="load-more" onClick={() => void list.loadMore()} disabled={list.loadingMore}>
          {list.loadingMore ? 'Loading…' : `Load more (${list.tasks.length} of ${list.totalCount ?? '?'})`}
        </button>
      ) : null}
      {pendingDelete ? (
        <ConfirmDialog
          title={`Delete “${pendingDelete.title}”?`}
          body="Its subtasks go with it. Undo brings them back for a few seconds."
          confirmLabel="Delete"
          onConfirm={() => {
            const t = pendingDelete;
            setPendingDelete(null);
            void deleteTask(t);
          }}
          onCancel={() => {
            const t = pendingDelete;
            setPendingDelete(null);
            setTimeout(() => focusRow(t.id), 0);
          }}
        />
      ) : null}
    </div>
  );
}

function TaskRow({
  task,
  base,
  selected,
  busy,
  flash,
  showProject,
  onToggle,
}: {
  task: TaskListItemFragment;
  base: string;
  selected: boolean;
  busy: boolean;
  flash: boolean;
  showProject: boolean;
  onToggle: () => void;
}) {
  const editable = canEditTasks(task.project?.myRole);
  const me = useMe();
  const offline = useOfflineProps();
  const done = task.status === 'DONE';
  const overdue = !done && task.dueAt !== null && Date.parse(task.dueAt) < Date.now();

  return (
    <li
      className={`task-row${done ? ' done' : ''}${selected ? ' selected' : ''}${flash ? ' flash' : ''}`}
      data-task-id={task.id}
      data-status={task.status}
      data-flash={flash || undefined}
    >
      {/* A viewer is not offered the checkbox: the row says its state instead. */}
      {!editable ? (
        <span className="task-check-target read-only-mark" aria-hidden="true">
          {done ? '✓' : '○'}
        </span>
      ) : (
      <label className="task-check-target">
        <input
          type="checkbox"
          className="task-check"
          checked={done}
          // aria-disabled, not disabled: a disabled control drops the keyboard focus.
          aria-disabled={busy || offline['aria-disabled']}
          title={offline.title}
          onChange={() => {
            if (!busy && !offline['aria-disabled']) onToggle();
          }}
          aria-label={done ? `Reopen “${task.title}”` : `Complete “${task.title}”`}
        />
      </label>
      )}
      <div className="task-main">
        <a
          className="task-title"
          // A task the caller only views opens in its project, where the details are read-only.
          href={`#${editable || !task.project ? base : `/projects/${encodeURIComponent(task.project.id)}`}/${encodeURIComponent(task.id)}`}
          aria-current={selected ? 'true' : undefined}
        >
          {task.title}
        </a>
        <div className="task-meta">
          {task.priority !== 'NONE' ? (
            <span className={`badge prio-${task.priority.toLowerCase()}`}>{PRIORITY_LABELS[task.priority]}</span>
          ) : null}
          {task.dueAt ? (
            <span className={`due${overdue ? ' overdue' : ''}`} title={formatDateTime(task.dueAt, me.timezone, { withYear: true })}>
              {overdue ? 'Overdue · ' : ''}
              {relativeDay(task.dueAt, me.timezone)} · {formatDateTime(task.dueAt, me.timezone).split(', ').slice(-1)[0]}
            </span>
          ) : null}
          {task.recurrence ? (
            <span className="recurring" data-testid="recurrence-text">
              <Icon name="repeat" size={13} /> {humanRule(task.recurrence.rule, task.dueAt, me.timezone)}
            </span>
          ) : null}
          {task.reminders.some((r) => r.state === 'SCHEDULED') ? (
            <span className="reminder-flag" title="Has a reminder">
              <Icon name="alarm" size={13} />
              <span className="visually-hidden">Reminder set</span>
            </span>
          ) : null}
          {done ? <span className="badge status-done">Done</span> : null}
          {showProject && task.project ? (
            <a className="project-chip" href={`#/projects/${encodeURIComponent(task.project.id)}`}>
              <span className="project-dot" style={task.project.color ? { background: task.project.color } : undefined} aria-hidden="true" />
              {task.project.name}
            </a>
          ) : null}
          {!editable ? <span className="badge read-only-badge">View only</span> : null}
          {task.assignee ? <AssigneeAvatar email={task.assignee.email} /> : null}
          {task.tags.map((tag) => (
            <span key={tag.id} className="tag">
              #{tag.name}
            </span>
          ))}
        </div>
      </div>
    </li>
  );
}
