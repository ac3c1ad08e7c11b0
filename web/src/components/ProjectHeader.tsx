// The top of a project's list: who is in it, the caller's role, sharing and settings.
import { useState } from 'react';
import type { ProjectFieldsFragment } from '../gql/graphql';
import { canManage, initials, ROLE_HELP, ROLE_LABELS } from '../lib/nav';
import { ProjectDialog } from './ProjectDialog';
import { useProjectMembers } from './ProjectsContext';
import { ShareDialog } from './ShareDialog';
import { ProjectDot } from './Sidebar';

const AVATARS = 5;

export function ProjectHeader({ project }: { project: ProjectFieldsFragment }) {
  const [dialog, setDialog] = useState<'share' | 'edit' | null>(null);
  const members = useProjectMembers(project) ?? [];
  const shown = members.slice(0, AVATARS);
  return (
    <div className="project-header" data-role={project.myRole}>
      <div className="project-meta">
        <ProjectDot color={project.color} />
        <ul className="avatars" aria-label={`${members.length} members`} data-testid="avatars">
          {shown.map((m) => (
            <li key={m.user.id} className="avatar" title={`${m.user.email} (${ROLE_LABELS[m.role]})`}>
              <span aria-hidden="true">{initials(m.user.email)}</span>
              <span className="visually-hidden">
                {m.user.email}, {ROLE_LABELS[m.role]}
              </span>
            </li>
          ))}
          {members.length > AVATARS ? <li className="avatar more">+{members.length - AVATARS}</li> : null}
        </ul>
        <span className={`badge role-badge role-${project.myRole.toLowerCase()}`} title={ROLE_HELP[project.myRole]} data-testid="project-role">
          {ROLE_LABELS[project.myRole]}
        </span>
        {project.archived ? <span className="badge">Archived</span> : null}
      </div>
      <div className="project-actions">
        <button type="button" className="secondary" onClick={() => setDialog('share')}>
          {canManage(project.myRole) ? 'Share' : 'Members'}
        </button>
        {canManage(project.myRole) ? (
          <button type="button" className="ghost" onClick={() => setDialog('edit')}>
            Edit project
          </button>
        ) : null}
      </div>
      {project.myRole === 'VIEWER' ? (
        <p className="muted small-text read-only-note" data-testid="viewer-note">
          You can view this project’s tasks; only its editors and owners change them.
        </p>
      ) : null}
      {dialog === 'share' ? <ShareDialog project={project} members={members} onClose={() => setDialog(null)} /> : null}
      {dialog === 'edit' ? <ProjectDialog project={project} onClose={() => setDialog(null)} /> : null}
    </div>
  );
}
