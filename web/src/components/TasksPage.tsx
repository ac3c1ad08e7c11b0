import { useMemo } from 'react';
import { basePath, canEditTasks, ListViewContext, scopeFilter, type Scope } from '../lib/nav';
import { useMe } from './MeContext';
import { ProjectHeader } from './ProjectHeader';
import { useProject, useProjects } from './ProjectsContext';
import { TaskEditor } from './TaskEditor';
import { ALL_TASKS, TaskList, type ListScope } from './TaskList';
import { TaskView } from './TaskView';

const TITLES: Record<Exclude<Scope['kind'], 'project'>, string> = { tasks: 'Tasks', inbox: 'Inbox', today: 'Today', upcoming: 'Upcoming' };

export function TasksPage({ taskId, scope = { kind: 'tasks' } }: { taskId: string | null; scope?: Scope }) {
  const me = useMe();
  const projectId = scope.kind === 'project' ? scope.projectId : null;
  const project = useProject(projectId);
  const { loading } = useProjects();
  const base = basePath(scope);
  // Today and Upcoming are anchored to the day the view was opened in the user's zone.
  const day = new Date().toDateString();
  const listScope = useMemo<ListScope>(() => {
    if (scope.kind === 'tasks') return ALL_TASKS;
    if (scope.kind === 'project') {
      return {
        title: project?.name ?? 'Project',
        basePath: base,
        filter: scopeFilter(scope, me.timezone),
        projectId: scope.projectId,
        canAdd: canEditTasks(project?.myRole),
        header: project ? <ProjectHeader project={project} /> : null,
      };
    }
    return { title: TITLES[scope.kind], basePath: base, filter: scopeFilter(scope, me.timezone), projectId: null, canAdd: true };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, project, me.timezone, day]);
  const view = useMemo(() => ({ basePath: base, projectId }), [base, projectId]);

  if (projectId && !project) {
    return (
      <section className="list-pane" aria-labelledby="tasks-heading">
        <h1 id="tasks-heading">Project</h1>
        <p className="muted">{loading ? 'Loading…' : 'This project does not exist, or you are no longer one of its members.'}</p>
        {!loading ? <a href="#/inbox">Go to the inbox</a> : null}
      </section>
    );
  }
  const readOnly = !!project && !canEditTasks(project.myRole);
  return (
    <ListViewContext.Provider value={view}>
      <div className={`tasks-layout${taskId ? ' has-editor' : ''}`}>
        <section className="list-pane" aria-labelledby="tasks-heading">
          <TaskList key={base} selectedId={taskId} scope={listScope} />
        </section>
        <section className="editor-pane" aria-label={taskId === 'new' ? 'New task' : 'Task details'}>
          {taskId && readOnly && taskId !== 'new' ? (
            <TaskView key={taskId} taskId={taskId} />
          ) : taskId && !(readOnly && taskId === 'new') ? (
            <TaskEditor key={taskId} taskId={taskId} />
          ) : (
            <div className="editor-empty">
              <p className="muted">{readOnly ? 'Select a task to see its details.' : 'Select a task to see its details, or create a new one.'}</p>
              {readOnly ? null : (
                <a className="button primary" href={`#${base}/new`}>
                  New task
                </a>
              )}
            </div>
          )}
        </section>
      </div>
    </ListViewContext.Provider>
  );
}
