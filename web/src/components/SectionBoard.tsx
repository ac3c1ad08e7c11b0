// A project's tasks by section: the sectioned list and the board (sections as columns), in
// manual order, with subtasks to the API's four levels. Drag and drop (pointer or keyboard,
// @dnd-kit) and Alt+arrow keys move tasks with moveTask: within and between sections, onto a task
// (as its subtask), onto a project in the sidebar; the "Move to…" menu moves a task to another
// project or the inbox. The server decides the order, so every move (ours or a collaborator's)
// re-reads it; what a collaborator changed is highlighted for a moment.
import {
  closestCorners,
  DndContext,
  KeyboardSensor,
  PointerSensor,
  pointerWithin,
  useDroppable,
  useSensor,
  useSensors,
  type Announcements,
  type CollisionDetection,
  type DragEndEvent,
  type DragOverEvent,
  type DragStartEvent,
} from '@dnd-kit/core';
import { SortableContext, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy, type SortingStrategy } from '@dnd-kit/sortable';
import { CSS as DndCSS } from '@dnd-kit/utilities';
import { useCallback, useEffect, useId, useMemo, useRef, useState, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import { useClient } from 'urql';
import {
  CompleteTaskDocument,
  CreateSectionDocument,
  CreateTaskDocument,
  DeleteSectionDocument,
  PlaceTaskDocument,
  ProjectBoardDocument,
  RenameSectionDocument,
  ReopenTaskDocument,
  type BoardTaskFragment,
  type SectionFieldsFragment,
  type TreeTaskFragment,
} from '../gql/graphql';
import {
  childrenByParent,
  groupBySection,
  indentParent,
  isWithin,
  MAX_LEVELS,
  NEST_PREFIX,
  NO_SECTION,
  outdentMove,
  placementAt,
  progress,
  stepPlacement,
  type BoardLayout,
  type Placement,
} from '../lib/board';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { useFlash } from '../lib/flash';
import { useAppEvents } from '../lib/hooks';
import { canEditTasks } from '../lib/nav';
import { useOfflineProps } from '../lib/offline';
import { setProjectDropTarget, sidebarProjectAt } from '../lib/projectDrop';
import { AssigneeAvatar } from './AssigneeAvatar';
import { ConfirmDialog } from './ConfirmDialog';
import { useProjects } from './ProjectsContext';
import { useToast } from './Toast';
import { Icon } from './Icon';
import './SectionBoard.css';

interface BoardState {
  sections: SectionFieldsFragment[];
  tasks: BoardTaskFragment[];
  totalCount: number;
  /** The project's subtasks at every level (one flat page), built into a tree here. */
  subtasks: TreeTaskFragment[];
  subtaskCount: number;
  loading: boolean;
  error: string | null;
}

/** The project's sections, top-level tasks and subtasks, re-read (coalesced) after any change. */
export function useBoard(projectId: string) {
  const client = useClient();
  const [state, setState] = useState<BoardState>({ sections: [], tasks: [], totalCount: 0, subtasks: [], subtaskCount: 0, loading: true, error: null });
  const generation = useRef(0);
  const read = useCallback(async () => {
    const gen = ++generation.current;
    const res = await client.query(ProjectBoardDocument, { projectId }, { requestPolicy: 'network-only' }).toPromise();
    if (gen !== generation.current) return; // a newer read is on its way
    if (res.data?.project) {
      const { tasks, subtasks } = res.data;
      setState({
        sections: res.data.project.sections,
        tasks: tasks.edges.map((e) => e.node),
        totalCount: tasks.totalCount,
        subtasks: subtasks.edges.map((e) => e.node),
        subtaskCount: subtasks.totalCount,
        loading: false,
        error: null,
      });
    } else {
      setState((s) => ({ ...s, loading: false, error: describeError(res.error, 'project')?.message ?? 'This project could not be read.' }));
    }
  }, [client, projectId]);
  useEffect(() => {
    void read();
  }, [read]);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const last = useRef(0);
  useEffect(() => () => clearTimeout(timer.current), []);
  // Events come in bursts (a move emits one per subtask, and our own change comes back live):
  // one read per burst, and reads at least a second apart (each one spends the cost budget).
  const schedule = useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = setTimeout(
      () => {
        timer.current = undefined;
        last.current = Date.now();
        void read();
      },
      Math.max(250, last.current + 1000 - Date.now()),
    );
  }, [read]);
  useAppEvents((e) => {
    if (e.type === 'tasks-changed' || e.type === 'resync' || (e.type === 'sections-changed' && e.projectId === projectId)) schedule();
  });
  return { ...state, read };
}

interface MoveArgs extends Partial<Placement> {
  projectId?: string;
  toInbox?: boolean;
  sectionId?: string | null;
  /** Out of its section, staying in the project (a drop on "No section"). */
  toNoSection?: boolean;
  parentId?: string | null;
  toTopLevel?: boolean;
}

/** What every row of the tree needs from the board. */
interface TreeProps {
  children: ReadonlyMap<string, TreeTaskFragment[]>;
  basePath: string;
  canEdit: boolean;
  projectId: string;
  collapsed: ReadonlySet<string>;
  flashing: ReadonlySet<string>;
  /** The dragged task's subtree: no drop inside it. */
  nestBlocked: (id: string) => boolean;
  onToggleCollapse: (id: string) => void;
  onToggleDone: (t: { id: string; status: string }) => void;
  onSubtaskKey: (e: KeyboardEvent, sub: TreeTaskFragment, parentId: string) => void;
  onOutdent: (sub: TreeTaskFragment, parentId: string) => void;
  onMoveTo: (t: { id: string; title: string; version: number }, target: string | null, isSubtask: boolean) => void;
  onAddedSubtask: (created: { id: string; version: number }) => void;
}

type Movable = { id: string; title: string; version: number };

/**
 * Follows a pointer drag over the sidebar's projects: the pointer itself, since dnd-kit's delta
 * stops following it once it leaves the board's lists. Returns the project it ends over.
 */
function trackSidebarDrop(): () => string | null {
  let over: string | null = null;
  const onMove = (e: PointerEvent) => {
    over = sidebarProjectAt(e.clientX, e.clientY);
    setProjectDropTarget(over);
  };
  document.addEventListener('pointermove', onMove, true);
  return () => {
    document.removeEventListener('pointermove', onMove, true);
    setProjectDropTarget(null);
    return over;
  };
}

const isNest = (id: string | number) => String(id).startsWith(NEST_PREFIX);

/** A drop onto a task (its right-hand part) nests; anywhere else the closest place in a list. */
const collisions: CollisionDetection = (args) => {
  const nest = pointerWithin({ ...args, droppableContainers: args.droppableContainers.filter((c) => isNest(c.id)) });
  if (nest.length > 0) return nest;
  return closestCorners({ ...args, droppableContainers: args.droppableContainers.filter((c) => !isNest(c.id)) });
};

/** While over a task (to nest), the lists stay as they were: the rows line up with their drop zones. */
const sorting: SortingStrategy = (args) => (args.overIndex < 0 ? null : verticalListSortingStrategy(args));

export function SectionBoard({ projectId, layout, basePath, canEdit }: { projectId: string; layout: Exclude<BoardLayout, 'flat'>; basePath: string; canEdit: boolean }) {
  const client = useClient();
  const toast = useToast();
  const { projects } = useProjects();
  const board = useBoard(projectId);
  const groups = useMemo(() => groupBySection(board.tasks, board.sections), [board.tasks, board.sections]);
  const byId = useMemo(() => new Map(board.tasks.map((t) => [t.id, t])), [board.tasks]);
  const children = useMemo(() => childrenByParent(board.subtasks), [board.subtasks]);
  const anyById = useMemo(() => new Map<string, Movable>([...board.tasks, ...board.subtasks].map((t) => [t.id, t])), [board.tasks, board.subtasks]);
  const parentOf = useMemo(() => new Map<string, string | null>([...board.tasks, ...board.subtasks].map((t) => [t.id, t.parent?.id ?? null])), [board.tasks, board.subtasks]);
  const everyTask = useMemo(() => [...board.tasks, ...board.subtasks], [board.tasks, board.subtasks]);
  // Our own changes come back live too: only a collaborator's are highlighted.
  const own = useRef(new Map<string, number>());
  const flashing = useFlash(everyTask, board.loading, projectId, own.current);
  // While dragging, the columns as the pointer (or the arrow keys) rearrange them.
  const [dragItems, setDragItems] = useState<Record<string, string[]> | null>(null);
  const [activeId, setActiveId] = useState<string | null>(null);
  const items = useMemo(() => dragItems ?? Object.fromEntries(groups.map((g) => [g.key, g.tasks.map((t) => t.id)])), [dragItems, groups]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const [pendingDelete, setPendingDelete] = useState<SectionFieldsFragment | null>(null);
  const [busy, setBusy] = useState(false);
  const rootRef = useRef<HTMLDivElement>(null);
  // While a pointer drag lasts: stops following the pointer, says the sidebar project it is over.
  const sidebarDrop = useRef<(() => string | null) | null>(null);
  useEffect(() => () => void sidebarDrop.current?.(), []);

  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 5 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );

  const focusRow = useCallback((id: string) => {
    // After the re-read the row is a new element: focus its handle (or title) once it is rendered.
    requestAnimationFrame(() => {
      const row = rootRef.current?.querySelector<HTMLElement>(`[data-task-id="${CSS.escape(id)}"]`);
      (row?.querySelector<HTMLElement>('.drag-handle') ?? row?.querySelector<HTMLElement>('.task-title'))?.focus();
    });
  }, []);

  /** moveTask with the version read; CONFLICT (or any refusal) is said and the list re-read. */
  const move = useCallback(
    async (task: Movable, args: MoveArgs): Promise<boolean> => {
      setBusy(true);
      const res = await client
        .mutation(PlaceTaskDocument, {
          id: task.id,
          projectId: args.projectId ?? null,
          toInbox: args.toInbox ?? null,
          sectionId: args.sectionId ?? null,
          toNoSection: args.toNoSection ?? null,
          parentId: args.parentId ?? null,
          toTopLevel: args.toTopLevel ?? null,
          afterId: args.afterId ?? null,
          beforeId: args.beforeId ?? null,
          expectedVersion: task.version,
        })
        .toPromise();
      setBusy(false);
      if (res.data) own.current.set(task.id, res.data.moveTask.version);
      if (res.error) {
        const err = describeError(res.error, 'task');
        toast(
          err?.code === 'CONFLICT'
            ? `“${task.title}” was changed elsewhere meanwhile, so it was not moved. The list now shows the latest order; try again.`
            : (err?.message ?? 'Could not move the task.'),
          'error',
        );
      }
      await board.read();
      emit({ type: 'tasks-changed', taskId: task.id });
      focusRow(task.id);
      return !res.error;
    },
    [client, toast, board, focusRow],
  );

  /** To another project (null: the caller's inbox); a subtask leaves its parent and becomes top-level there. */
  const moveTo = useCallback(
    async (task: Movable, target: string | null, isSubtask: boolean) => {
      const name = target ? projects.find((p) => p.id === target)?.name : 'the inbox';
      const moved = await move(task, { ...(target ? { projectId: target } : { toInbox: true }), ...(isSubtask ? { toTopLevel: true } : {}) });
      if (moved) toast(`Moved “${task.title}” to ${target ? `“${name ?? 'the project'}”` : name}.`);
    },
    [move, projects, toast],
  );

  /** A drop on a sidebar project: only one the caller may add tasks to. */
  function dropOnProject(task: Movable, target: string) {
    if (target === projectId) return;
    const project = projects.find((p) => p.id === target);
    if (!project || !canEditTasks(project.myRole)) {
      toast(`You can only view “${project?.name ?? 'that project'}”, so “${task.title}” stays here.`, 'error');
      return;
    }
    void moveTo(task, target, false);
  }

  const containerOf = useCallback((id: string, from: Record<string, string[]>): string | null => {
    if (id in from) return id;
    return Object.keys(from).find((k) => from[k]!.includes(id)) ?? null;
  }, []);

  function onDragStart(e: DragStartEvent) {
    setActiveId(String(e.active.id));
    setDragItems(items);
    if (e.activatorEvent instanceof PointerEvent) sidebarDrop.current = trackSidebarDrop();
  }


  function onDragOver(e: DragOverEvent) {
    const over = e.over ? String(e.over.id) : null;
    if (!over || !dragItems) return;
    const id = String(e.active.id);
    const from = containerOf(id, dragItems);
    const to = containerOf(over, dragItems);
    if (!from || !to || from === to) return;
    // Crossing into another column: take it there now so the keyboard and the pointer see it.
    const target = dragItems[to]!;
    const overIndex = over in dragItems ? target.length : target.indexOf(over);
    setDragItems({
      ...dragItems,
      [from]: dragItems[from]!.filter((x) => x !== id),
      [to]: [...target.slice(0, overIndex), id, ...target.slice(overIndex)],
    });
  }

  /** Ends the drag; the sidebar project the pointer was over, if any. */
  function endDrag(): string | null {
    setActiveId(null);
    setDragItems(null);
    const project = sidebarDrop.current?.() ?? null;
    sidebarDrop.current = null;
    return project;
  }

  function onDragEnd(e: DragEndEvent) {
    const id = String(e.active.id);
    const current = dragItems;
    const project = endDrag();
    const task = byId.get(id);
    if (!task) return;
    if (project) {
      dropOnProject(task, project);
      return;
    }
    if (!current || !e.over) return;
    const over = String(e.over.id);
    if (isNest(over)) {
      const parentId = over.slice(NEST_PREFIX.length);
      if (!isWithin(parentId, id, parentOf)) void move(task, { parentId });
      return;
    }
    const to = containerOf(id, current);
    if (!to) return;
    const list = current[to]!;
    let index = list.indexOf(id);
    if (over !== id && list.includes(over)) index = list.indexOf(over);
    const without = list.filter((x) => x !== id);
    void dropAt(task, to, without, index);
  }

  async function dropAt(task: BoardTaskFragment, to: string, without: string[], index: number) {
    const fromKey = task.section?.id ?? NO_SECTION;
    const placement = placementAt(without, task.id, index);
    const same = to === fromKey;
    const originalIds = groups.find((g) => g.key === fromKey)?.tasks.map((t) => t.id) ?? [];
    if (same && originalIds.indexOf(task.id) === index) return; // dropped where it was
    const target = same ? {} : to === NO_SECTION ? { toNoSection: true } : { sectionId: to };
    await move(task, { ...placement, ...target });
  }

  async function onRowKey(e: KeyboardEvent, task: BoardTaskFragment, key: string) {
    if (!canEdit || !e.altKey || busy) return;
    const ids = groups.find((g) => g.key === key)?.tasks.map((t) => t.id) ?? [];
    if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      e.preventDefault();
      const p = stepPlacement(ids, task.id, e.key === 'ArrowUp' ? -1 : 1);
      if (p) await move(task, p);
    } else if (layout === 'list' && e.key === 'ArrowRight') {
      e.preventDefault();
      const parent = indentParent(ids, task.id);
      if (parent) await move(task, { parentId: parent });
      else toast('The first task of a list has no task above it to go under.', 'error');
    } else if (layout === 'board' && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) {
      e.preventDefault();
      const keys = groups.map((g) => g.key);
      const next = keys[keys.indexOf(key) + (e.key === 'ArrowLeft' ? -1 : 1)];
      if (!next) return;
      const target = groups.find((g) => g.key === next)!.tasks.map((t) => t.id);
      await dropAt(task, next, target, target.length);
    }
  }

  /** Alt+↑/↓ among its siblings, Alt+→ under the sibling above, Alt+← one level up. */
  async function onSubtaskKey(e: KeyboardEvent, sub: TreeTaskFragment, parentId: string) {
    if (!canEdit || !e.altKey || !['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight'].includes(e.key)) return;
    // The innermost row handles the key; its ancestors' rows must not move too.
    e.preventDefault();
    e.stopPropagation();
    if (busy) return;
    const siblings = (children.get(parentId) ?? []).map((t) => t.id);
    if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      const p = stepPlacement(siblings, sub.id, e.key === 'ArrowUp' ? -1 : 1);
      if (p) await move(sub, p);
    } else if (e.key === 'ArrowRight') {
      const under = indentParent(siblings, sub.id);
      if (under) await move(sub, { parentId: under });
      else toast('The first subtask has no subtask above it to go under.', 'error');
    } else {
      await move(sub, outdentMove(parentId, parentOf.get(parentId) ?? null));
    }
  }

  async function toggleDone(t: { id: string; status: string }) {
    const res =
      t.status === 'DONE'
        ? await client.mutation(ReopenTaskDocument, { id: t.id }).toPromise()
        : await client.mutation(CompleteTaskDocument, { id: t.id }).toPromise();
    const changed = res.data && ('completeTask' in res.data ? res.data.completeTask : 'reopenTask' in res.data ? res.data.reopenTask : null);
    if (changed) own.current.set(changed.id, changed.version);
    if (res.error) toast(describeError(res.error, 'task')?.message ?? 'Could not update the task.', 'error');
    emit({ type: 'tasks-changed', taskId: t.id });
  }

  async function deleteSection(s: SectionFieldsFragment) {
    const res = await client.mutation(DeleteSectionDocument, { id: s.id }).toPromise();
    if (res.error) toast(describeError(res.error, 'project')?.message ?? 'Could not delete the section.', 'error');
    else toast(`Deleted the section “${s.name}”; its tasks are now without a section.`);
    await board.read();
    emit({ type: 'tasks-changed' });
  }

  const tree: TreeProps = {
    children,
    basePath,
    canEdit,
    projectId,
    collapsed,
    flashing,
    nestBlocked: (id) => activeId !== null && isWithin(id, activeId, parentOf),
    onToggleCollapse: (id) =>
      setCollapsed((c) => {
        const next = new Set(c);
        if (next.has(id)) next.delete(id);
        else next.add(id);
        return next;
      }),
    onToggleDone: (t) => void toggleDone(t),
    onSubtaskKey: (e, sub, parentId) => void onSubtaskKey(e, sub, parentId),
    onOutdent: (sub, parentId) => void move(sub, outdentMove(parentId, parentOf.get(parentId) ?? null)),
    onMoveTo: (t, target, isSubtask) => void moveTo(t, target, isSubtask),
    onAddedSubtask: (created) => {
      own.current.set(created.id, created.version);
      void board.read();
    },
  };

  const activeTask = activeId ? byId.get(activeId) : undefined;
  // Screen readers hear titles and section names, not ids.
  const titleOf = (id: string | number) =>
    anyById.get(String(id))?.title ?? groups.find((g) => g.key === String(id))?.section?.name ?? (String(id) === NO_SECTION ? 'No section' : 'the list');
  const announcements: Announcements = {
    onDragStart: ({ active }) => `Picked up “${titleOf(active.id)}”.`,
    onDragOver: ({ active, over }) =>
      !over
        ? `“${titleOf(active.id)}” is no longer over a list.`
        : isNest(over.id)
          ? `“${titleOf(active.id)}” is over “${titleOf(String(over.id).slice(NEST_PREFIX.length))}”: dropped here, it becomes its subtask.`
          : `“${titleOf(active.id)}” is over “${titleOf(over.id)}”.`,
    onDragEnd: ({ active, over }) => (over ? `“${titleOf(active.id)}” was dropped at “${titleOf(isNest(over.id) ? String(over.id).slice(NEST_PREFIX.length) : over.id)}”.` : `“${titleOf(active.id)}” was dropped.`),
    onDragCancel: ({ active }) => `Moving “${titleOf(active.id)}” was cancelled; it is back where it was.`,
  };
  return (
    <div className={`section-board layout-${layout}`} ref={rootRef} data-testid={`section-${layout}`} aria-busy={board.loading || busy}>
      {board.error ? (
        <div className="banner banner-error" role="alert">
          <p>{board.error}</p>
          <button type="button" onClick={() => void board.read()}>
            Try again
          </button>
        </div>
      ) : null}
      {board.totalCount > board.tasks.length || board.subtaskCount > board.subtasks.length ? (
        <p className="muted small-text">
          Showing the first {board.tasks.length} of {board.totalCount} tasks and {board.subtasks.length} of {board.subtaskCount} subtasks; the flat list shows them all.
        </p>
      ) : null}
      {canEdit ? (
        <p className="muted small-text board-help" id={`${projectId}-board-help`}>
          Drag a task by its handle, or focus the handle and press Space, the arrow keys and Space again; drop it on another task to make it a subtask, or on a
          project in the sidebar to move it there. Alt+↑/↓ moves a task
          {layout === 'board' ? ', Alt+←/→ to the next column' : ', Alt+→ puts it under the task above, Alt+← takes a subtask one level up'}; the ⇢ button (“Move to…”)
          moves it to another project.
        </p>
      ) : null}
      <DndContext
        accessibility={{ announcements }}
        sensors={sensors}
        collisionDetection={collisions}
        onDragStart={onDragStart}
        onDragOver={onDragOver}
        onDragEnd={onDragEnd}
        onDragCancel={() => void endDrag()}
      >
        <div className="section-groups">
          {groups.map((g) => (
            <SectionGroup
              key={g.key}
              groupKey={g.key}
              section={g.section}
              ids={items[g.key] ?? []}
              byId={byId}
              layout={layout}
              tree={tree}
              activeId={activeTask?.id ?? null}
              onRowKey={(e, t) => void onRowKey(e, t, g.key)}
              onDelete={(s) => setPendingDelete(s)}
              onRenamed={() => void board.read()}
            />
          ))}
          {canEdit ? <AddSection projectId={projectId} onAdded={() => void board.read()} /> : null}
        </div>
      </DndContext>
      {pendingDelete ? (
        <ConfirmDialog
          title={`Delete the section “${pendingDelete.name}”?`}
          body={`No task is deleted: its ${groups.find((g) => g.key === pendingDelete.id)?.tasks.length ?? 0} tasks (with their subtasks) move, in their order, to the end of the tasks without a section.`}
          confirmLabel="Delete section"
          onConfirm={() => {
            const s = pendingDelete;
            setPendingDelete(null);
            void deleteSection(s);
          }}
          onCancel={() => setPendingDelete(null)}
        />
      ) : null}
    </div>
  );
}

function SectionGroup({
  groupKey,
  section,
  ids,
  byId,
  layout,
  tree,
  activeId,
  onRowKey,
  onDelete,
  onRenamed,
}: {
  groupKey: string;
  section: SectionFieldsFragment | null;
  ids: string[];
  byId: Map<string, BoardTaskFragment>;
  layout: 'list' | 'board';
  tree: TreeProps;
  activeId: string | null;
  onRowKey: (e: KeyboardEvent, t: BoardTaskFragment) => void;
  onDelete: (s: SectionFieldsFragment) => void;
  onRenamed: () => void;
}) {
  const { setNodeRef, isOver } = useDroppable({ id: groupKey });
  const headingId = useId();
  const name = section?.name ?? 'No section';
  return (
    <section className={`section-group${isOver ? ' over' : ''}`} aria-labelledby={headingId} data-section-id={groupKey}>
      <header className="section-head">
        <h2 id={headingId}>
          {name} <span className="muted count">{ids.length}</span>
        </h2>
        {section && tree.canEdit ? <SectionActions section={section} onDelete={onDelete} onRenamed={onRenamed} /> : null}
      </header>
      <SortableContext id={groupKey} items={ids} strategy={sorting}>
        <ul className="board-tasks" ref={setNodeRef} aria-labelledby={headingId} data-testid={`column-${name}`}>
          {ids.map((id) => {
            const t = byId.get(id);
            return t ? <BoardRow key={id} task={t} layout={layout} tree={tree} dragging={activeId === id} onKeyDown={(e) => onRowKey(e, t)} /> : null;
          })}
          {ids.length === 0 ? <li className="muted empty-column">{tree.canEdit ? 'Drop tasks here' : 'No tasks'}</li> : null}
        </ul>
      </SortableContext>
    </section>
  );
}

function SectionActions({ section, onDelete, onRenamed }: { section: SectionFieldsFragment; onDelete: (s: SectionFieldsFragment) => void; onRenamed: () => void }) {
  const client = useClient();
  const toast = useToast();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(section.name);
  const [error, setError] = useState<string | null>(null);
  const errorId = useId();
  async function submit(e: FormEvent) {
    e.preventDefault();
    const res = await client.mutation(RenameSectionDocument, { id: section.id, name: name.trim() }).toPromise();
    if (res.error) {
      setError(describeError(res.error)?.message ?? 'Could not rename the section.');
      return;
    }
    setEditing(false);
    setError(null);
    toast(`Renamed the section to “${name.trim()}”`);
    onRenamed();
  }
  const offline = useOfflineProps();
  if (editing) {
    return (
      <form className="section-rename" onSubmit={(e) => void submit(e)}>
        <input
          aria-label={`New name for the section “${section.name}”`}
          value={name}
          maxLength={100}
          required
          autoFocus
          aria-describedby={error ? errorId : undefined}
          onChange={(e) => setName(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.stopPropagation();
              setEditing(false);
            }
          }}
        />
        <button type="submit" {...offline}>
          Save
        </button>
        <button type="button" className="ghost" onClick={() => setEditing(false)}>
          Cancel
        </button>
        {error ? (
          <p className="field-error" id={errorId} role="alert">
            {error}
          </p>
        ) : null}
      </form>
    );
  }
  return (
    <div className="section-actions">
      <button type="button" className="ghost" onClick={() => setEditing(true)} aria-label={`Rename the section “${section.name}”`} {...offline}>
        Rename
      </button>
      <button type="button" className="ghost" onClick={() => onDelete(section)} aria-label={`Delete the section “${section.name}”`} {...offline}>
        Delete
      </button>
    </div>
  );
}

function AddSection({ projectId, onAdded }: { projectId: string; onAdded: () => void }) {
  const client = useClient();
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const errorId = useId();
  async function submit(e: FormEvent) {
    e.preventDefault();
    const res = await client.mutation(CreateSectionDocument, { projectId, name: name.trim() }).toPromise();
    if (res.error) {
      setError(describeError(res.error)?.message ?? 'Could not add the section.');
      return;
    }
    setName('');
    setError(null);
    onAdded();
  }
  const offline = useOfflineProps();
  return (
    <form className="add-section" onSubmit={(e) => void submit(e)}>
      <input
        aria-label="New section name"
        placeholder="New section"
        value={name}
        maxLength={100}
        required
        aria-describedby={error ? errorId : undefined}
        onChange={(e) => setName(e.target.value)}
      />
      <button type="submit" className="secondary" {...offline}>
        Add section
      </button>
      {error ? (
        <p className="field-error" id={errorId} role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}

/** The right-hand part of a row: a task dropped there becomes its subtask. */
function NestZone({ id, disabled }: { id: string; disabled: boolean }) {
  const { setNodeRef, isOver } = useDroppable({ id: NEST_PREFIX + id, disabled });
  return (
    <span ref={setNodeRef} className={`nest-zone${isOver ? ' over' : ''}`} aria-hidden="true" data-testid={isOver ? 'nest-over' : undefined}>
      {isOver ? 'Make it a subtask' : null}
    </span>
  );
}

function BoardRow({ task, layout, tree, dragging, onKeyDown }: { task: BoardTaskFragment; layout: 'list' | 'board'; tree: TreeProps; dragging: boolean; onKeyDown: (e: KeyboardEvent) => void }) {
  const offline = useOfflineProps();
  const { attributes, listeners, setNodeRef, setActivatorNodeRef, transform, transition } = useSortable({ id: task.id, disabled: !tree.canEdit || !!offline['aria-disabled'] });
  const done = task.status === 'DONE';
  const subs = tree.children.get(task.id) ?? [];
  const prog = progress(subs);
  const collapsed = tree.collapsed.has(task.id);
  const flash = tree.flashing.has(task.id);
  const [adding, setAdding] = useState(false);
  return (
    <li
      ref={setNodeRef}
      className={`board-row${done ? ' done' : ''}${dragging ? ' dragging' : ''}${flash ? ' flash' : ''}`}
      data-task-id={task.id}
      data-flash={flash || undefined}
      style={{ transform: DndCSS.Translate.toString(transform), transition }}
      onKeyDown={onKeyDown}
    >
      <div className="board-row-main">
        {tree.canEdit ? (
          <button type="button" className="drag-handle" ref={setActivatorNodeRef} {...attributes} {...listeners} aria-label={`Move “${task.title}”`} {...offline}>
            <span aria-hidden="true">⠿</span>
          </button>
        ) : null}
        <CheckAndTitle task={task} tree={tree} />
        {task.assignee ? <AssigneeAvatar email={task.assignee.email} /> : null}
        <SubtaskControls title={task.title} id={task.id} prog={prog} showToggle={layout === 'list' && subs.length > 0} collapsed={collapsed} tree={tree} />
        {layout === 'list' && tree.canEdit ? (
          <button
            type="button"
            className="ghost row-icon"
            onClick={() => setAdding((a) => !a)}
            aria-expanded={adding}
            aria-label={`Add subtask to “${task.title}”`}
            title="Add subtask"
            {...offline}
          >
            <Icon name="plus" />
          </button>
        ) : null}
        {tree.canEdit ? <MoveToMenu task={task} currentProjectId={tree.projectId} onPick={(target) => tree.onMoveTo(task, target, false)} /> : null}
        {tree.canEdit && !dragging ? <NestZone id={task.id} disabled={tree.nestBlocked(task.id)} /> : null}
      </div>
      {layout === 'list' && subs.length > 0 && !collapsed ? <SubtaskList parentId={task.id} parentTitle={task.title} level={2} tree={tree} /> : null}
      {adding ? (
        <SubtaskAdd
          parent={task}
          projectId={tree.projectId}
          onDone={(created) => {
            setAdding(false);
            if (created) tree.onAddedSubtask(created);
          }}
        />
      ) : null}
    </li>
  );
}

/** A row's completion checkbox (for editors) and its title, linking to the task. */
function CheckAndTitle({ task, tree }: { task: { id: string; title: string; status: string }; tree: TreeProps }) {
  const done = task.status === 'DONE';
  const offline = useOfflineProps();
  return (
    <>
      {tree.canEdit ? (
        <label className="task-check-target">
          <input
            type="checkbox"
            className="task-check"
            checked={done}
            onChange={() => {
              if (!offline['aria-disabled']) tree.onToggleDone(task);
            }}
            aria-label={done ? `Reopen “${task.title}”` : `Complete “${task.title}”`}
            {...offline}
          />
        </label>
      ) : null}
      <a className="task-title" href={`#${tree.basePath}/${encodeURIComponent(task.id)}`}>
        {task.title}
      </a>
    </>
  );
}

/** Progress "2/5" and, in the list, the collapse/expand toggle of a task's subtasks. */
function SubtaskControls({ id, title, prog, showToggle, collapsed, tree }: { id: string; title: string; prog: string | null; showToggle: boolean; collapsed: boolean; tree: TreeProps }) {
  return (
    <>
      {prog ? (
        <span className="badge subtask-progress" data-testid="subtask-progress" aria-label={`${prog} subtasks done`}>
          {prog}
        </span>
      ) : null}
      {showToggle ? (
        <button
          type="button"
          className="ghost row-icon collapse-toggle"
          aria-expanded={!collapsed}
          aria-controls={`subtasks-${id}`}
          aria-label={`${collapsed ? 'Show' : 'Hide'} subtasks of “${title}”`}
          title={`${collapsed ? 'Show' : 'Hide'} subtasks`}
          onClick={() => tree.onToggleCollapse(id)}
        >
          <Icon name={collapsed ? 'chevronRight' : 'chevronDown'} />
        </button>
      ) : null}
    </>
  );
}

/** A task's subtasks, each with its own (level + 1) subtasks, to MAX_LEVELS. */
function SubtaskList({ parentId, parentTitle, level, tree }: { parentId: string; parentTitle: string; level: number; tree: TreeProps }): ReactNode {
  const subs = tree.children.get(parentId) ?? [];
  return (
    <ul className="subtasks" id={`subtasks-${parentId}`} aria-label={`Subtasks of “${parentTitle}”`} data-level={level}>
      {subs.map((s) => (
        <SubtaskRow key={s.id} sub={s} parentId={parentId} level={level} tree={tree} />
      ))}
    </ul>
  );
}

function SubtaskRow({ sub, parentId, level, tree }: { sub: TreeTaskFragment; parentId: string; level: number; tree: TreeProps }) {
  const done = sub.status === 'DONE';
  const subs = tree.children.get(sub.id) ?? [];
  const collapsed = tree.collapsed.has(sub.id);
  const flash = tree.flashing.has(sub.id);
  const offline = useOfflineProps();
  return (
    <li className={`subtask-row${done ? ' done' : ''}${flash ? ' flash' : ''}`} data-task-id={sub.id} data-flash={flash || undefined} onKeyDown={(e) => tree.onSubtaskKey(e, sub, parentId)}>
      <div className="subtask-main">
        <CheckAndTitle task={sub} tree={tree} />
        <SubtaskControls id={sub.id} title={sub.title} prog={progress(subs)} showToggle={subs.length > 0} collapsed={collapsed} tree={tree} />
        {tree.canEdit ? (
          <button type="button" className="ghost row-icon" onClick={() => tree.onOutdent(sub, parentId)} aria-label={`Outdent “${sub.title}”`} title="Outdent: one level up" {...offline}>
            <Icon name="outdent" />
          </button>
        ) : null}
        {tree.canEdit ? <MoveToMenu task={sub} currentProjectId={tree.projectId} onPick={(target) => tree.onMoveTo(sub, target, true)} /> : null}
        {tree.canEdit && level < MAX_LEVELS ? <NestZone id={sub.id} disabled={tree.nestBlocked(sub.id)} /> : null}
      </div>
      {subs.length > 0 && !collapsed && level < MAX_LEVELS ? <SubtaskList parentId={sub.id} parentTitle={sub.title} level={level + 1} tree={tree} /> : null}
    </li>
  );
}

/**
 * "Move to…": the inbox and every other project the caller may add tasks to, as a menu button
 * (↑/↓, Home/End between the entries, Escape closes and gives focus back to the button).
 */
function MoveToMenu({ task, currentProjectId, onPick }: { task: { title: string }; currentProjectId: string; onPick: (target: string | null) => void }) {
  const { projects } = useProjects();
  const [open, setOpen] = useState(false);
  const offline = useOfflineProps();
  const menuId = useId();
  const buttonRef = useRef<HTMLButtonElement>(null);
  const menuRef = useRef<HTMLUListElement>(null);
  const targets = useMemo(
    () => [{ id: null, name: 'Inbox' }, ...projects.filter((p) => !p.archived && p.id !== currentProjectId && canEditTasks(p.myRole)).map((p) => ({ id: p.id, name: p.name }))],
    [projects, currentProjectId],
  );
  useEffect(() => {
    if (open) menuRef.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
  }, [open]);
  function close(refocus: boolean) {
    setOpen(false);
    if (refocus) buttonRef.current?.focus();
  }
  function onMenuKey(e: KeyboardEvent<HTMLUListElement>) {
    const entries = [...(menuRef.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
    const at = entries.indexOf(document.activeElement as HTMLElement);
    const go = (i: number) => entries[(i + entries.length) % entries.length]?.focus();
    if (e.key === 'ArrowDown') go(at + 1);
    else if (e.key === 'ArrowUp') go(at - 1);
    else if (e.key === 'Home') go(0);
    else if (e.key === 'End') go(entries.length - 1);
    else if (e.key === 'Escape') close(true);
    else if (e.key === 'Tab') close(false);
    else return;
    if (e.key !== 'Tab') e.preventDefault();
    e.stopPropagation();
  }
  return (
    <span className="move-to">
      {/* A compact arrow on the row; its name says what it does and to which task. */}
      <button
        ref={buttonRef}
        type="button"
        className="ghost move-to-button"
        title="Move to another project"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        onClick={() => setOpen((o) => !o)}
        {...offline}
      >
        <span aria-hidden="true">⇢</span>
        <span className="visually-hidden">Move to… (“{task.title}”)</span>
      </button>
      {open ? (
        <ul
          ref={menuRef}
          className="move-to-menu"
          role="menu"
          id={menuId}
          aria-label={`Move “${task.title}” to`}
          onKeyDown={onMenuKey}
          onBlur={(e) => {
            if (!e.currentTarget.contains(e.relatedTarget as Node | null) && e.relatedTarget !== buttonRef.current) setOpen(false);
          }}
        >
          {targets.map((t) => (
            <li key={t.id ?? 'inbox'} role="none">
              <button
                type="button"
                role="menuitem"
                tabIndex={-1}
                onClick={() => {
                  close(false);
                  onPick(t.id);
                }}
              >
                {t.name}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </span>
  );
}

function SubtaskAdd({ parent, projectId, onDone }: { parent: BoardTaskFragment; projectId: string; onDone: (created: { id: string; version: number } | null) => void }) {
  const client = useClient();
  const [title, setTitle] = useState('');
  const [error, setError] = useState<string | null>(null);
  const errorId = useId();
  const offline = useOfflineProps();
  async function submit(e: FormEvent) {
    e.preventDefault();
    const res = await client.mutation(CreateTaskDocument, { input: { title: title.trim(), parentId: parent.id, projectId } }).toPromise();
    if (res.error) {
      setError(describeError(res.error, 'task-save')?.message ?? 'Could not add the subtask.');
      return;
    }
    emit({ type: 'tasks-changed' });
    onDone(res.data?.createTask ?? null);
  }
  return (
    <form className="subtask-add" onSubmit={(e) => void submit(e)}>
      <input
        aria-label={`New subtask of “${parent.title}”`}
        value={title}
        maxLength={500}
        required
        autoFocus
        aria-describedby={error ? errorId : undefined}
        onChange={(e) => setTitle(e.target.value)}
      />
      <button type="submit" {...offline}>
        Add
      </button>
      {error ? (
        <p className="field-error" id={errorId} role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}
