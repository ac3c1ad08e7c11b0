import { useMemo, useState } from 'react';
import { loadLayout, saveLayout, type BoardLayout } from '../lib/board';
import { basePath, canEditTasks, ListViewContext, scopeFilter, type Scope } from '../lib/nav';
import { useOfflineProps } from '../lib/offline';
import { useMe } from './MeContext';
import { ProjectHeader } from './ProjectHeader';
import { SectionBoard } from './SectionBoard';
import { savedOrder, savedTaskFilter, useSavedFilters } from './SavedFilters';
import { useProject, useProjects } from './ProjectsContext';
import { TaskEditor } from './TaskEditor';
import { ALL_TASKS, TaskList, type ListScope } from './TaskList';
import { TaskView } from './TaskView';

const TITLES: Record<Exclude<Scope['kind'], 'project' | 'filter'>, string> = { tasks: 'Tasks', inbox: 'Inbox', today: 'Today', upcoming: 'Upcoming', assigned: 'Assigned to me' };

export function TasksPage({ taskId, scope = { kind: 'tasks' } }: { taskId: string | null; scope?: Scope }) {
  const me = useMe();
  const offline = useOfflineProps();
  const projectId = scope.kind === 'project' ? scope.projectId : null;
  const project = useProject(projectId);
  const { loading } = useProjects();
  const base = basePath(scope);
  const [layout, setLayoutState] = useState<{ projectId: string | null; value: BoardLayout }>(() => ({ projectId, value: projectId ? loadLayout(projectId) : 'flat' }));
  // Kept per project: another project opens in the layout last chosen for it.
  const current: BoardLayout = projectId ? (layout.projectId === projectId ? layout.value : loadLayout(projectId)) : 'flat';
  const setLayout = (value: BoardLayout) => {
    if (!projectId) return;
    saveLayout(projectId, value);
    setLayoutState({ projectId, value });
  };
  // Today and Upcoming are anchored to the day the view was opened in the user's zone.
  const day = new Date().toDateString();
  const saved = useSavedFilters();
  const filterId = scope.kind === 'filter' ? scope.filterId : null;
  const savedFilter = filterId ? (saved.filters.find((f) => f.id === filterId) ?? null) : null;
  const listScope = useMemo<ListScope>(() => {
    if (scope.kind === 'tasks') return ALL_TASKS;
    if (scope.kind === 'filter') {
      return { title: savedFilter?.name ?? 'Filter', basePath: base, filter: savedFilter ? savedTaskFilter(savedFilter) : {}, orderBy: savedFilter ? savedOrder(savedFilter) : null, projectId: null, canAdd: true };
    }
    if (scope.kind === 'project') {
      return {
        title: project?.name ?? 'Project',
        basePath: base,
        filter: scopeFilter(scope, me.timezone),
        projectId: scope.projectId,
        canAdd: canEditTasks(project?.myRole),
        header: project ? (
          <>
            <ProjectHeader project={project} />
            <LayoutSwitch value={current} onChange={setLayout} />
          </>
        ) : null,
      };
    }
    return { title: TITLES[scope.kind], basePath: base, filter: scopeFilter(scope, me.timezone), projectId: null, canAdd: true };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, project, me.timezone, day, current, savedFilter]);
  const view = useMemo(() => ({ basePath: base, projectId }), [base, projectId]);

  if (filterId && !savedFilter) {
    return (
      <section className="list-pane" aria-labelledby="tasks-heading">
        <h1 id="tasks-heading">Filter</h1>
        <p className="muted">{saved.loading ? 'Loading…' : 'This saved filter does not exist (it may have been deleted in another window).'}</p>
      </section>
    );
  }
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
      {/* The board takes the whole width until a task is opened. */}
      <div className={`tasks-layout${taskId ? ' has-editor' : ''}${projectId && current === 'board' && !taskId ? ' board-wide' : ''}`}>
        <section className="list-pane" aria-labelledby="tasks-heading">
          {projectId && current !== 'flat' ? (
            <div className="task-list">
              <div className="list-header">
                <h1 id="tasks-heading">{listScope.title}</h1>
              </div>
              {listScope.header}
              <SectionBoard key={`${projectId}-${current}`} projectId={projectId} layout={current} basePath={base} canEdit={listScope.canAdd} />
            </div>
          ) : (
            <TaskList key={base} selectedId={taskId} scope={listScope} />
          )}
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
                <a className="button primary" href={`#${base}/new`} {...offline}>
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

const LAYOUTS: readonly { value: BoardLayout; label: string }[] = [
  { value: 'flat', label: 'List' },
  { value: 'list', label: 'Sections' },
  { value: 'board', label: 'Board' },
];

/** How a project shows its tasks: the flat filtered list, by section, or as a board. */
function LayoutSwitch({ value, onChange }: { value: BoardLayout; onChange: (v: BoardLayout) => void }) {
  return (
    <div className="layout-switch" role="group" aria-label="Project layout">
      {LAYOUTS.map((l) => (
        <button key={l.value} type="button" className={value === l.value ? 'secondary active' : 'ghost'} aria-pressed={value === l.value} onClick={() => onChange(l.value)}>
          {l.label}
        </button>
      ))}
    </div>
  );
}
