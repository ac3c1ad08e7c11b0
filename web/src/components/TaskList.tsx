import { useEffect, useMemo, useRef, useState } from 'react';
import { useClient } from 'urql';
import { CompleteTaskDocument, ReopenTaskDocument, type TaskListItemFragment } from '../gql/graphql';
import { formatDateTime, relativeDay } from '../lib/datetime';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { activeFilterCount, defaultFilters, filtersToVariables, PRIORITY_LABELS, type FilterState } from '../lib/filters';
import { useDebounced } from '../lib/hooks';
import { describeRule } from '../lib/recurrence';
import { useTaskList } from '../lib/useTaskList';
import { FilterBar } from './FilterBar';
import { useMe } from './MeContext';
import { useToast } from './Toast';
import { Icon } from './Icon';

const FILTERS_KEY = 'taskstream.filters';

function loadFilters(): FilterState {
  try {
    const raw = sessionStorage.getItem(FILTERS_KEY);
    if (raw) return { ...defaultFilters(), ...(JSON.parse(raw) as Partial<FilterState>) };
  } catch {
    /* ignore */
  }
  return defaultFilters();
}

export function TaskList({ selectedId }: { selectedId: string | null }) {
  const me = useMe();
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
  const vars = useMemo(
    () => filtersToVariables({ ...filters, text: debouncedText }, me.timezone),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [JSON.stringify({ ...filters, text: debouncedText }), me.timezone],
  );
  const list = useTaskList(vars);

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

  const searching = debouncedText.trim().length > 0;
  const countText =
    list.totalCount === null
      ? ''
      : `${list.totalCount} ${list.totalCount === 1 ? 'task' : 'tasks'}${searching ? ` matching “${debouncedText.trim()}”` : ''}`;

  return (
    <div className="task-list">
      <div className="list-header">
        <h1 id="tasks-heading">Tasks</h1>
        <a className="button primary" href="#/tasks/new">
          <Icon name="plus" /> New task
        </a>
      </div>
      <FilterBar value={filters} onChange={setFilters} />
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
          <a href="#/tasks/new">Create a task</a>
        </div>
      ) : null}
      <ul className="tasks" aria-labelledby="tasks-heading" aria-busy={list.loading}>
        {list.tasks.map((t) => (
          <TaskRow key={t.id} task={t} selected={t.id === selectedId} onPatch={list.patch} />
        ))}
      </ul>
      <div ref={sentinel} className="sentinel" aria-hidden="true" />
      {list.hasNextPage ? (
        <button type="button" className="load-more" onClick={() => void list.loadMore()} disabled={list.loadingMore}>
          {list.loadingMore ? 'Loading…' : `Load more (${list.tasks.length} of ${list.totalCount ?? '?'})`}
        </button>
      ) : null}
    </div>
  );
}

function TaskRow({
  task,
  selected,
  onPatch,
}: {
  task: TaskListItemFragment;
  selected: boolean;
  onPatch: (t: TaskListItemFragment) => void;
}) {
  const me = useMe();
  const client = useClient();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const done = task.status === 'DONE';
  const overdue = !done && task.dueAt !== null && Date.parse(task.dueAt) < Date.now();

  async function toggleDone() {
    setBusy(true);
    onPatch({ ...task, status: done ? 'OPEN' : 'DONE' });
    const res = done
      ? await client.mutation(ReopenTaskDocument, { id: task.id }).toPromise()
      : await client.mutation(CompleteTaskDocument, { id: task.id }).toPromise();
    setBusy(false);
    if (res.error) {
      onPatch(task);
      toast(describeError(res.error, 'task')?.message ?? 'Could not update the task.', 'error');
    } else {
      toast(done ? `Reopened “${task.title}”` : `Completed “${task.title}”`);
    }
    emit({ type: 'tasks-changed', taskId: task.id });
  }

  return (
    <li className={`task-row${done ? ' done' : ''}${selected ? ' selected' : ''}`} data-task-id={task.id} data-status={task.status}>
      <input
        type="checkbox"
        className="task-check"
        checked={done}
        disabled={busy}
        onChange={() => void toggleDone()}
        aria-label={done ? `Reopen “${task.title}”` : `Complete “${task.title}”`}
      />
      <div className="task-main">
        <a className="task-title" href={`#/tasks/${encodeURIComponent(task.id)}`} aria-current={selected ? 'true' : undefined}>
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
            <span className="recurring" title={describeRule(task.recurrence.rule, me.timezone)}>
              <Icon name="repeat" size={13} /> {describeRule(task.recurrence.rule, me.timezone)}
            </span>
          ) : null}
          {task.reminders.some((r) => r.state === 'SCHEDULED') ? (
            <span className="reminder-flag" title="Has a reminder">
              <Icon name="alarm" size={13} />
              <span className="visually-hidden">Reminder set</span>
            </span>
          ) : null}
          {done ? <span className="badge status-done">Done</span> : null}
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
