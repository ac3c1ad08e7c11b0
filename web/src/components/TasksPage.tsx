import { TaskEditor } from './TaskEditor';
import { TaskList } from './TaskList';

export function TasksPage({ taskId }: { taskId: string | null }) {
  return (
    <div className={`tasks-layout${taskId ? ' has-editor' : ''}`}>
      <section className="list-pane" aria-labelledby="tasks-heading">
        <TaskList selectedId={taskId} />
      </section>
      <section className="editor-pane" aria-label={taskId === 'new' ? 'New task' : 'Task details'}>
        {taskId ? (
          <TaskEditor key={taskId} taskId={taskId} />
        ) : (
          <div className="editor-empty">
            <p className="muted">Select a task to see its details, or create a new one.</p>
            <a className="button primary" href="#/tasks/new">
              New task
            </a>
          </div>
        )}
      </section>
    </div>
  );
}
