// A project's tasks by section: the sectioned list and the board (sections as columns), in
// manual order. Drag and drop (pointer or keyboard, @dnd-kit) and Alt+arrow keys move tasks with
// moveTask; the server decides the order, so every move (ours or a collaborator's) re-reads it.
import {
  closestCorners,
  DndContext,
  KeyboardSensor,
  PointerSensor,
  useDroppable,
  useSensor,
  useSensors,
  type DragEndEvent,
  type DragOverEvent,
  type DragStartEvent,
  type Announcements,
} from '@dnd-kit/core';
import { SortableContext, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from '@dnd-kit/sortable';
import { CSS as DndCSS } from '@dnd-kit/utilities';
import { useCallback, useEffect, useId, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
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
} from '../gql/graphql';
import { groupBySection, indentParent, NO_SECTION, placementAt, progress, stepPlacement, type BoardLayout, type Placement } from '../lib/board';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { useAppEvents } from '../lib/hooks';
import { AssigneeAvatar } from './AssigneeAvatar';
import { ConfirmDialog } from './ConfirmDialog';
import { useToast } from './Toast';
import './SectionBoard.css';


interface BoardState {
  sections: SectionFieldsFragment[];
  tasks: BoardTaskFragment[];
  totalCount: number;
  loading: boolean;
  error: string | null;
}

/** The project's sections and top-level tasks, re-read (coalesced) after any change. */
export function useBoard(projectId: string) {
  const client = useClient();
  const [state, setState] = useState<BoardState>({ sections: [], tasks: [], totalCount: 0, loading: true, error: null });
  const generation = useRef(0);
  const read = useCallback(async () => {
    const gen = ++generation.current;
    const res = await client.query(ProjectBoardDocument, { projectId }, { requestPolicy: 'network-only' }).toPromise();
    if (gen !== generation.current) return; // a newer read is on its way
    if (res.data?.project) {
      const conn = res.data.tasks;
      setState({ sections: res.data.project.sections, tasks: conn.edges.map((e) => e.node), totalCount: conn.totalCount, loading: false, error: null });
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
  sectionId?: string | null;
  /** Out of its section, staying in the project (a drop on "No section"). */
  toNoSection?: boolean;
  parentId?: string | null;
  toTopLevel?: boolean;
}

export function SectionBoard({ projectId, layout, basePath, canEdit }: { projectId: string; layout: Exclude<BoardLayout, 'flat'>; basePath: string; canEdit: boolean }) {
  const client = useClient();
  const toast = useToast();
  const board = useBoard(projectId);
  const groups = useMemo(() => groupBySection(board.tasks, board.sections), [board.tasks, board.sections]);
  const byId = useMemo(() => new Map(board.tasks.map((t) => [t.id, t])), [board.tasks]);
  // While dragging, the columns as the pointer (or the arrow keys) rearrange them.
  const [dragItems, setDragItems] = useState<Record<string, string[]> | null>(null);
  const [activeId, setActiveId] = useState<string | null>(null);
  const items = useMemo(() => dragItems ?? Object.fromEntries(groups.map((g) => [g.key, g.tasks.map((t) => t.id)])), [dragItems, groups]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const [pendingDelete, setPendingDelete] = useState<SectionFieldsFragment | null>(null);
  const [busy, setBusy] = useState(false);
  const rootRef = useRef<HTMLDivElement>(null);

  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 5 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );

  const focusHandle = useCallback((id: string) => {
    // After the re-read the row is a new element: focus it once it is rendered.
    requestAnimationFrame(() => {
      rootRef.current?.querySelector<HTMLElement>(`[data-task-id="${CSS.escape(id)}"] .drag-handle`)?.focus();
    });
  }, []);

  /** moveTask with the version read; CONFLICT (or any refusal) is said and the list re-read. */
  const move = useCallback(
    async (task: { id: string; title: string; version: number }, args: MoveArgs): Promise<boolean> => {
      setBusy(true);
      const res = await client
        .mutation(PlaceTaskDocument, {
          id: task.id,
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
      focusHandle(task.id);
      return !res.error;
    },
    [client, toast, board, focusHandle],
  );

  const containerOf = useCallback(
    (id: string, from: Record<string, string[]>): string | null => {
      if (id in from) return id;
      return Object.keys(from).find((k) => from[k]!.includes(id)) ?? null;
    },
    [],
  );

  function onDragStart(e: DragStartEvent) {
    setActiveId(String(e.active.id));
    setDragItems(items);
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

  function onDragEnd(e: DragEndEvent) {
    const id = String(e.active.id);
    const current = dragItems;
    setActiveId(null);
    setDragItems(null);
    const task = byId.get(id);
    if (!current || !task || !e.over) return;
    const to = containerOf(id, current);
    if (!to) return;
    const list = current[to]!;
    const over = String(e.over.id);
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

  async function outdent(sub: { id: string; title: string; version: number }, parent: BoardTaskFragment) {
    await move(sub, { toTopLevel: true, afterId: parent.id });
  }

  async function toggleDone(t: { id: string; status: string }) {
    const res =
      t.status === 'DONE'
        ? await client.mutation(ReopenTaskDocument, { id: t.id }).toPromise()
        : await client.mutation(CompleteTaskDocument, { id: t.id }).toPromise();
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

  const activeTask = activeId ? byId.get(activeId) : undefined;
  // Screen readers hear titles and section names, not ids.
  const titleOf = (id: string | number) => byId.get(String(id))?.title ?? groups.find((g) => g.key === String(id))?.section?.name ?? (String(id) === NO_SECTION ? 'No section' : 'the list');
  const announcements: Announcements = {
    onDragStart: ({ active }) => `Picked up “${titleOf(active.id)}”.`,
    onDragOver: ({ active, over }) => (over ? `“${titleOf(active.id)}” is over “${titleOf(over.id)}”.` : `“${titleOf(active.id)}” is no longer over a list.`),
    onDragEnd: ({ active, over }) => (over ? `“${titleOf(active.id)}” was dropped at “${titleOf(over.id)}”.` : `“${titleOf(active.id)}” was dropped.`),
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
      {board.totalCount > board.tasks.length ? (
        <p className="muted small-text">
          Showing the first {board.tasks.length} of {board.totalCount} tasks; the flat list shows them all.
        </p>
      ) : null}
      {canEdit ? (
        <p className="muted small-text" id={`${projectId}-board-help`}>
          Drag a task by its handle, or focus the handle and press Space, the arrow keys and Space again. Alt+↑/↓ moves a task
          {layout === 'board' ? ', Alt+←/→ to the next column' : ', Alt+→ puts it under the task above'}.
        </p>
      ) : null}
      <DndContext accessibility={{ announcements }} sensors={sensors} collisionDetection={closestCorners} onDragStart={onDragStart} onDragOver={onDragOver} onDragEnd={onDragEnd} onDragCancel={() => { setActiveId(null); setDragItems(null); }}>
        <div className="section-groups">
          {groups.map((g) => (
            <SectionGroup
              key={g.key}
              groupKey={g.key}
              section={g.section}
              ids={items[g.key] ?? []}
              byId={byId}
              basePath={basePath}
              canEdit={canEdit}
              layout={layout}
              collapsed={collapsed}
              activeId={activeTask?.id ?? null}
              onToggleCollapse={(id) =>
                setCollapsed((c) => {
                  const next = new Set(c);
                  if (next.has(id)) next.delete(id);
                  else next.add(id);
                  return next;
                })
              }
              onRowKey={(e, t) => void onRowKey(e, t, g.key)}
              onOutdent={(sub, parent) => void outdent(sub, parent)}
              onToggleDone={(t) => void toggleDone(t)}
              onDelete={(s) => setPendingDelete(s)}
              onRenamed={() => void board.read()}
              onAddedSubtask={() => void board.read()}
              projectId={projectId}
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
  basePath,
  canEdit,
  layout,
  collapsed,
  activeId,
  onToggleCollapse,
  onRowKey,
  onOutdent,
  onToggleDone,
  onDelete,
  onRenamed,
  onAddedSubtask,
  projectId,
}: {
  groupKey: string;
  section: SectionFieldsFragment | null;
  ids: string[];
  byId: Map<string, BoardTaskFragment>;
  basePath: string;
  canEdit: boolean;
  layout: 'list' | 'board';
  collapsed: ReadonlySet<string>;
  activeId: string | null;
  onToggleCollapse: (id: string) => void;
  onRowKey: (e: KeyboardEvent, t: BoardTaskFragment) => void;
  onOutdent: (sub: BoardTaskFragment['subtasks'][number], parent: BoardTaskFragment) => void;
  onToggleDone: (t: { id: string; status: string }) => void;
  onDelete: (s: SectionFieldsFragment) => void;
  onRenamed: () => void;
  onAddedSubtask: () => void;
  projectId: string;
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
        {section && canEdit ? <SectionActions section={section} onDelete={onDelete} onRenamed={onRenamed} /> : null}
      </header>
      <SortableContext id={groupKey} items={ids} strategy={verticalListSortingStrategy}>
        <ul className="board-tasks" ref={setNodeRef} aria-labelledby={headingId} data-testid={`column-${name}`}>
          {ids.map((id) => {
            const t = byId.get(id);
            return t ? (
              <BoardRow
                key={id}
                task={t}
                basePath={basePath}
                canEdit={canEdit}
                layout={layout}
                collapsed={collapsed.has(id)}
                dragging={activeId === id}
                onToggleCollapse={() => onToggleCollapse(id)}
                onKeyDown={(e) => onRowKey(e, t)}
                onOutdent={(sub) => onOutdent(sub, t)}
                onToggleDone={onToggleDone}
                onAddedSubtask={onAddedSubtask}
                projectId={projectId}
              />
            ) : null;
          })}
          {ids.length === 0 ? <li className="muted empty-column">{canEdit ? 'Drop tasks here' : 'No tasks'}</li> : null}
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
        <button type="submit">Save</button>
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
      <button type="button" className="ghost" onClick={() => setEditing(true)} aria-label={`Rename the section “${section.name}”`}>
        Rename
      </button>
      <button type="button" className="ghost" onClick={() => onDelete(section)} aria-label={`Delete the section “${section.name}”`}>
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
      <button type="submit" className="secondary">
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

function BoardRow({
  task,
  basePath,
  canEdit,
  layout,
  collapsed,
  dragging,
  onToggleCollapse,
  onKeyDown,
  onOutdent,
  onToggleDone,
  onAddedSubtask,
  projectId,
}: {
  task: BoardTaskFragment;
  basePath: string;
  canEdit: boolean;
  layout: 'list' | 'board';
  collapsed: boolean;
  dragging: boolean;
  onToggleCollapse: () => void;
  onKeyDown: (e: KeyboardEvent) => void;
  onOutdent: (sub: BoardTaskFragment['subtasks'][number]) => void;
  onToggleDone: (t: { id: string; status: string }) => void;
  onAddedSubtask: () => void;
  projectId: string;
}) {
  const { attributes, listeners, setNodeRef, setActivatorNodeRef, transform, transition } = useSortable({ id: task.id, disabled: !canEdit });
  const done = task.status === 'DONE';
  const prog = progress(task.subtasks);
  const subId = useId();
  const [adding, setAdding] = useState(false);
  return (
    <li
      ref={setNodeRef}
      className={`board-row${done ? ' done' : ''}${dragging ? ' dragging' : ''}`}
      data-task-id={task.id}
      style={{ transform: DndCSS.Translate.toString(transform), transition }}
      onKeyDown={onKeyDown}
    >
      <div className="board-row-main">
        {canEdit ? (
          <button type="button" className="drag-handle" ref={setActivatorNodeRef} {...attributes} {...listeners} aria-label={`Move “${task.title}”`}>
            <span aria-hidden="true">⠿</span>
          </button>
        ) : null}
        {canEdit ? (
          <label className="task-check-target">
            <input type="checkbox" className="task-check" checked={done} onChange={() => onToggleDone(task)} aria-label={done ? `Reopen “${task.title}”` : `Complete “${task.title}”`} />
          </label>
        ) : null}
        <a className="task-title" href={`#${basePath}/${encodeURIComponent(task.id)}`}>
          {task.title}
        </a>
        {task.assignee ? <AssigneeAvatar email={task.assignee.email} /> : null}
        {prog ? (
          <span className="badge subtask-progress" data-testid="subtask-progress" aria-label={`${prog} subtasks done`}>
            {prog}
          </span>
        ) : null}
        {layout === 'list' && task.subtasks.length > 0 ? (
          <button type="button" className="ghost collapse-toggle" aria-expanded={!collapsed} aria-controls={subId} onClick={onToggleCollapse}>
            {collapsed ? 'Show' : 'Hide'} subtasks<span className="visually-hidden"> of “{task.title}”</span>
          </button>
        ) : null}
        {layout === 'list' && canEdit ? (
          <button type="button" className="ghost" onClick={() => setAdding((a) => !a)} aria-expanded={adding}>
            Add subtask<span className="visually-hidden"> to “{task.title}”</span>
          </button>
        ) : null}
      </div>
      {layout === 'list' && task.subtasks.length > 0 && !collapsed ? (
        <ul className="subtasks" id={subId} aria-label={`Subtasks of “${task.title}”`}>
          {task.subtasks.map((s) => (
            <li
              key={s.id}
              className={`subtask-row${s.status === 'DONE' ? ' done' : ''}`}
              data-task-id={s.id}
              onKeyDown={(e) => {
                if (canEdit && e.altKey && e.key === 'ArrowLeft') {
                  e.preventDefault();
                  e.stopPropagation();
                  onOutdent(s);
                }
              }}
            >
              {canEdit ? (
                <label className="task-check-target">
                  <input type="checkbox" className="task-check" checked={s.status === 'DONE'} onChange={() => onToggleDone(s)} aria-label={s.status === 'DONE' ? `Reopen “${s.title}”` : `Complete “${s.title}”`} />
                </label>
              ) : null}
              <a className="task-title" href={`#${basePath}/${encodeURIComponent(s.id)}`}>
                {s.title}
              </a>
              {canEdit ? (
                <button type="button" className="ghost" onClick={() => onOutdent(s)}>
                  Outdent<span className="visually-hidden"> “{s.title}”</span>
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      {adding ? <SubtaskAdd parent={task} projectId={projectId} onDone={() => { setAdding(false); onAddedSubtask(); }} /> : null}
    </li>
  );
}

function SubtaskAdd({ parent, projectId, onDone }: { parent: BoardTaskFragment; projectId: string; onDone: () => void }) {
  const client = useClient();
  const [title, setTitle] = useState('');
  const [error, setError] = useState<string | null>(null);
  const errorId = useId();
  async function submit(e: FormEvent) {
    e.preventDefault();
    const res = await client.mutation(CreateTaskDocument, { input: { title: title.trim(), parentId: parent.id, projectId } }).toPromise();
    if (res.error) {
      setError(describeError(res.error, 'task-save')?.message ?? 'Could not add the subtask.');
      return;
    }
    emit({ type: 'tasks-changed' });
    onDone();
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
      <button type="submit">Add</button>
      {error ? (
        <p className="field-error" id={errorId} role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}
