// Navigation: the fixed views (NAV_ENTRIES), the caller's projects with colour and open count
// in the caller's own order (drag and drop, pointer or keyboard, with moveProject), invitations
// with a badge. On phones it is a drawer behind the "Menu" button.
import { closestCenter, DndContext, KeyboardSensor, PointerSensor, useSensor, useSensors, type Announcements, type DragEndEvent } from '@dnd-kit/core';
import { SortableContext, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from '@dnd-kit/sortable';
import { CSS as DndCSS } from '@dnd-kit/utilities';
import { useEffect, useState, type ReactNode } from 'react';
import type { ProjectFieldsFragment } from '../gql/graphql';
import { placementAt } from '../lib/board';
import { NAV_ENTRIES, ROLE_LABELS, type NavIcon } from '../lib/nav';
import { useOfflineProps } from '../lib/offline';
import { useProjectDropTarget } from '../lib/projectDrop';
import { InvitationsDialog } from './InvitationsDialog';
import { ProjectDialog } from './ProjectDialog';
import { useProjects } from './ProjectsContext';
import { SavedFiltersNav } from './SavedFilters';
import { useToast } from './Toast';
import './projects.css';

const NAV_ICONS: Record<NavIcon, string> = {
  list: 'M8 6h12M8 12h12M8 18h12M4 6h.01M4 12h.01M4 18h.01',
  inbox: 'M3 13h5l2 3h4l2-3h5M5 5h14l2 8v6H3v-6z',
  today: 'M4 6h16v14H4zM4 10h16M9 3v4M15 3v4M12 14h.01',
  upcoming: 'M4 6h16v14H4zM4 10h16M9 3v4M15 3v4M9 15l2 2 4-4',
  calendar: 'M4 6h16v14H4zM4 10h16M9 3v4M15 3v4',
  assigned: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21v-1a6 6 0 0 1 6-6h4a6 6 0 0 1 6 6v1',
};

function NavGlyph({ icon }: { icon: NavIcon }) {
  return (
    <svg className="icon" width={18} height={18} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
      <path d={NAV_ICONS[icon]} />
    </svg>
  );
}

export function ProjectDot({ color }: { color: string | null }) {
  return <span className="project-dot" style={color ? { background: color } : undefined} aria-hidden="true" />;
}

/** `current`: the first route segment ("inbox", "projects"...); `projectId`: the open project. */
export function Sidebar({ current, projectId, filterId = null }: { current: string | null; projectId: string | null; filterId?: string | null }) {
  const { projects, invitations, error } = useProjects();
  const [open, setOpen] = useState(false);
  const [creating, setCreating] = useState(false);
  const offline = useOfflineProps();
  const [showInvitations, setShowInvitations] = useState(false);
  // A task dragged on the board is over this project (the board moves it there on drop).
  const dropTarget = useProjectDropTarget();
  const active = projects.filter((p) => !p.archived);
  const archived = projects.filter((p) => p.archived);

  // Choosing a place on a phone closes the drawer.
  useEffect(() => setOpen(false), [current, projectId]);

  const anchor = (p: ProjectFieldsFragment) => (
    <a
      className="side-link project-link"
      href={`#/projects/${encodeURIComponent(p.id)}`}
      aria-current={projectId === p.id ? 'page' : undefined}
      data-project-id={p.id}
      data-drop-over={dropTarget === p.id || undefined}
    >
      <ProjectDot color={p.color} />
      <span className="side-label">{p.name}</span>
      {p.myRole !== 'OWNER' ? <span className="visually-hidden">, shared with you as {ROLE_LABELS[p.myRole]}</span> : null}
      {p.openTaskCount > 0 ? (
        <span className="side-count" data-testid="open-count">
          {p.openTaskCount}
          <span className="visually-hidden"> open</span>
        </span>
      ) : null}
    </a>
  );
  const link = (p: ProjectFieldsFragment) => <li key={p.id}>{anchor(p)}</li>;

  return (
    <>
      <button
        type="button"
        className="secondary sidebar-toggle"
        aria-expanded={open}
        aria-controls="sidebar"
        onClick={() => setOpen((o) => !o)}
      >
        <span aria-hidden="true">☰</span> Menu
        {invitations.length ? (
          <span className="count-badge">
            {invitations.length}
            <span className="visually-hidden"> pending invitations</span>
          </span>
        ) : null}
      </button>
      <aside id="sidebar" className={`sidebar${open ? ' open' : ''}`} aria-label="Sidebar">
        <nav aria-label="Views">
          <ul className="side-list">
            {NAV_ENTRIES.map((e) => (
              <li key={e.id}>
                <a className="side-link" href={`#/${e.id}`} aria-current={current === e.id ? 'page' : undefined}>
                  <NavGlyph icon={e.icon} />
                  <span className="side-label">{e.label}</span>
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <SavedFiltersNav current={filterId} />
        <nav aria-labelledby="projects-heading" className="side-projects">
          <div className="side-heading">
            <h2 id="projects-heading">Projects</h2>
            <button type="button" className="ghost icon-button" aria-label="New project" onClick={() => setCreating(true)} {...offline}>
              +
            </button>
          </div>
          {error ? <p className="field-error">{error.message}</p> : null}
          {active.length === 0 && !error ? <p className="muted side-empty">No projects yet.</p> : null}
          <SortableProjects projects={active} render={anchor} />
          {archived.length ? (
            <details className="side-archived">
              <summary>Archived ({archived.length})</summary>
              <ul className="side-list">{archived.map(link)}</ul>
            </details>
          ) : null}
        </nav>
        <button type="button" className="side-link invitations-button" onClick={() => setShowInvitations(true)}>
          <span className="side-label">Invitations</span>
          {invitations.length ? (
            <span className="count-badge" data-testid="invitation-badge">
              {invitations.length}
              <span className="visually-hidden"> pending</span>
            </span>
          ) : null}
        </button>
      </aside>
      {creating ? <ProjectDialog project={null} onClose={() => setCreating(false)} /> : null}
      {showInvitations ? <InvitationsDialog onClose={() => setShowInvitations(false)} /> : null}
    </>
  );
}

/** The active projects, each with a handle that drags it (pointer, or Space and the arrow keys) to another place in the caller's order. */
function SortableProjects({ projects, render }: { projects: ProjectFieldsFragment[]; render: (p: ProjectFieldsFragment) => ReactNode }) {
  const { move } = useProjects();
  const toast = useToast();
  const sensors = useSensors(useSensor(PointerSensor, { activationConstraint: { distance: 5 } }), useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }));
  const ids = projects.map((p) => p.id);
  const nameOf = (id: string | number) => projects.find((p) => p.id === String(id))?.name ?? 'the list';
  // Screen readers hear project names, not ids.
  const announcements: Announcements = {
    onDragStart: ({ active }) => `Picked up the project “${nameOf(active.id)}”.`,
    onDragOver: ({ active, over }) => (over ? `“${nameOf(active.id)}” is over “${nameOf(over.id)}”.` : `“${nameOf(active.id)}” is no longer over the list.`),
    onDragEnd: ({ active, over }) => (over ? `“${nameOf(active.id)}” was dropped at “${nameOf(over.id)}”.` : `“${nameOf(active.id)}” was dropped.`),
    onDragCancel: ({ active }) => `Moving “${nameOf(active.id)}” was cancelled; it is back where it was.`,
  };
  async function onDragEnd(e: DragEndEvent) {
    const id = String(e.active.id);
    const over = e.over ? String(e.over.id) : null;
    if (!over || over === id) return;
    const { afterId, beforeId } = placementAt(ids, id, ids.indexOf(over));
    const error = await move(id, afterId, beforeId);
    if (error) toast(error, 'error');
    // The row is the same element after the re-read: keep the focus on its handle.
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-sortable-project="${CSS.escape(id)}"] .project-handle`)?.focus());
  }
  return (
    <DndContext accessibility={{ announcements, screenReaderInstructions: { draggable: 'To move a project, press Space, then the up and down arrow keys, then Space again to drop it or Escape to cancel.' } }} sensors={sensors} collisionDetection={closestCenter} onDragEnd={(e) => void onDragEnd(e)}>
      <SortableContext items={ids} strategy={verticalListSortingStrategy}>
        <ul className="side-list" data-testid="project-list">
          {projects.map((p) => (
            <SortableProject key={p.id} project={p}>
              {render(p)}
            </SortableProject>
          ))}
        </ul>
      </SortableContext>
    </DndContext>
  );
}

function SortableProject({ project, children }: { project: ProjectFieldsFragment; children: ReactNode }) {
  const offline = useOfflineProps();
  const { attributes, listeners, setNodeRef, setActivatorNodeRef, transform, transition, isDragging } = useSortable({ id: project.id, disabled: !!offline['aria-disabled'] });
  return (
    <li ref={setNodeRef} className={`sortable-project${isDragging ? ' dragging' : ''}`} data-sortable-project={project.id} style={{ transform: DndCSS.Translate.toString(transform), transition }}>
      <button type="button" className="ghost project-handle" ref={setActivatorNodeRef} {...attributes} {...listeners} aria-label={`Move the project “${project.name}”`} {...offline}>
        <span aria-hidden="true">⠿</span>
      </button>
      {children}
    </li>
  );
}
