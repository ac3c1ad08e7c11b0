// A task of a project the caller only views: its details without anything that would change it.
import { useQuery } from 'urql';
import { ReadOnlyTaskDocument } from '../gql/graphql';
import { formatDateTime } from '../lib/datetime';
import { describeError } from '../lib/errors';
import { PRIORITY_LABELS } from '../lib/filters';
import { useAppEvents } from '../lib/hooks';
import { useListView, ROLE_LABELS } from '../lib/nav';
import { humanRule } from '../lib/recurrence';
import { ErrorBanner } from './ErrorMessage';
import { useMe } from './MeContext';

export function TaskView({ taskId }: { taskId: string }) {
  const me = useMe();
  const view = useListView();
  const [{ data, error, fetching }, refetch] = useQuery({ query: ReadOnlyTaskDocument, variables: { id: taskId }, requestPolicy: 'cache-and-network' });
  useAppEvents((e) => {
    if (e.type === 'tasks-changed' && e.taskId === taskId) refetch({ requestPolicy: 'network-only' });
  });
  const task = data?.task ?? null;
  if (!task) {
    return (
      <div className="editor">
        {fetching ? <p className="muted">Loading task…</p> : null}
        <ErrorBanner error={error ? describeError(error, 'task') : null} />
        {!fetching && !error ? <p>This task no longer exists, or you can no longer see it.</p> : null}
        <a href={`#${view.basePath}`}>Back to tasks</a>
      </div>
    );
  }
  const done = task.status === 'DONE';
  return (
    <div className="editor task-view">
      <div className="editor-header">
        <a href={`#${view.basePath}`} className="back-link">
          <span aria-hidden="true">←</span> Tasks
        </a>
        <h2>{task.title}</h2>
        <span className={`badge ${done ? 'status-done' : 'status-open'}`} data-testid="task-status">
          {done ? 'Done' : 'Open'}
        </span>
      </div>
      <p className="banner banner-warn read-only-note">
        You can view this task but not change it: your role in “{task.project?.name ?? 'this project'}” is{' '}
        {ROLE_LABELS[task.project?.myRole ?? 'VIEWER']}.
      </p>
      <dl className="task-facts">
        <dt>Priority</dt>
        <dd>{PRIORITY_LABELS[task.priority]}</dd>
        <dt>Due</dt>
        <dd>{task.dueAt ? formatDateTime(task.dueAt, me.timezone, { withYear: true }) : 'No due date'}</dd>
        {task.recurrence ? (
          <>
            <dt>Repeats</dt>
            <dd>{humanRule(task.recurrence.rule, task.dueAt, me.timezone)}</dd>
          </>
        ) : null}
        {task.tags.length ? (
          <>
            <dt>Tags</dt>
            <dd>{task.tags.map((t) => `#${t.name}`).join(' ')}</dd>
          </>
        ) : null}
        <dt>Updated</dt>
        <dd>{formatDateTime(task.updatedAt, me.timezone, { withYear: true })}</dd>
      </dl>
      {task.notes ? <p className="task-notes">{task.notes}</p> : null}
    </div>
  );
}
