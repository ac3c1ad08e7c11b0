// Create a project, or change one (owner): name, colour, archive, delete (asks first).
import { useId, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { CreateProjectDocument, DeleteProjectDocument, UpdateProjectDocument, type ProjectFieldsFragment } from '../gql/graphql';
import { describeError, type UserError } from '../lib/errors';
import { navigate } from '../lib/hooks';
import { PROJECT_COLORS, PROJECT_NAME_MAX, projectNameError } from '../lib/nav';
import { ConfirmDialog } from './ConfirmDialog';
import { ErrorBanner } from './ErrorMessage';
import { Modal } from './Modal';
import { useProjects } from './ProjectsContext';
import { useToast } from './Toast';
import { useOfflineProps } from '../lib/offline';

export function ProjectDialog({ project, onClose }: { project: ProjectFieldsFragment | null; onClose: () => void }) {
  const client = useClient();
  const toast = useToast();
  const { upsert, drop, expectGone } = useProjects();
  const ids = useId();
  const [name, setName] = useState(project?.name ?? '');
  const [color, setColor] = useState<string>(project?.color ?? PROJECT_COLORS[4]!.value);
  const [nameError, setNameError] = useState<string | null>(null);
  const [banner, setBanner] = useState<UserError | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const offline = useOfflineProps();

  async function save(e: FormEvent) {
    e.preventDefault();
    const problem = projectNameError(name);
    if (problem) {
      setNameError(problem);
      return;
    }
    setBusy(true);
    setBanner(null);
    const res = project
      ? await client
          .mutation(UpdateProjectDocument, { id: project.id, name: name.trim(), color, expectedVersion: project.version })
          .toPromise()
      : await client.mutation(CreateProjectDocument, { name: name.trim(), color }).toPromise();
    setBusy(false);
    const saved = res.data ? ('createProject' in res.data ? res.data.createProject : res.data.updateProject) : null;
    if (!saved) {
      const ue = describeError(res.error, 'project');
      if (ue?.code === 'CONFLICT')
        setBanner({ ...ue, message: 'Someone changed this project after you opened it; close this and try again on the latest version.' });
      else if (ue?.code === 'BAD_USER_INPUT' && ue.field === 'name') setNameError(`Name: ${ue.detail ?? ue.message}`);
      else setBanner(ue);
      return;
    }
    upsert(saved);
    toast(project ? `Saved “${saved.name}”` : `Created the project “${saved.name}”`);
    onClose();
    if (!project) navigate(`/projects/${encodeURIComponent(saved.id)}`);
  }

  async function setArchived(archived: boolean) {
    if (!project) return;
    setBusy(true);
    const res = await client.mutation(UpdateProjectDocument, { id: project.id, archived, expectedVersion: project.version }).toPromise();
    setBusy(false);
    if (!res.data) return setBanner(describeError(res.error, 'project'));
    upsert(res.data.updateProject);
    toast(archived ? `Archived “${project.name}”` : `Restored “${project.name}”`);
    onClose();
  }

  async function remove() {
    if (!project) return;
    setConfirmDelete(false);
    setBusy(true);
    expectGone(project.id);
    const res = await client.mutation(DeleteProjectDocument, { id: project.id }).toPromise();
    setBusy(false);
    if (res.error) {
      const ue = describeError(res.error, 'project');
      const held = ue?.code === 'CONFLICT' ? /holds (\d+) tasks?/.exec(ue.detail ?? '') : null;
      // The server never deletes tasks with their project: say so instead of its raw sentence.
      if (held && ue)
        return setBanner({
          ...ue,
          message: `“${project.name}” still holds ${held[1]} ${held[1] === '1' ? 'task' : 'tasks'} (done ones count too), and only an empty project can be deleted. Delete its tasks first, or archive the project instead.`,
        });
      return setBanner(ue);
    }
    drop(project.id);
    toast(`Deleted the project “${project.name}”`);
    onClose();
    navigate('/inbox');
  }

  return (
    <Modal title={project ? `Edit “${project.name}”` : 'New project'} onClose={onClose} className="project-dialog">
      <form onSubmit={(e) => void save(e)} noValidate aria-busy={busy}>
        <ErrorBanner error={banner} />
        <div className="field">
          <label htmlFor={`${ids}-name`}>Name</label>
          <input
            id={`${ids}-name`}
            value={name}
            maxLength={PROJECT_NAME_MAX + 20}
            autoFocus
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? `${ids}-name-error` : undefined}
            onChange={(e) => {
              setName(e.target.value);
              setNameError(null);
            }}
          />
          {nameError ? (
            <p id={`${ids}-name-error`} className="field-error">
              {nameError}
            </p>
          ) : null}
        </div>
        <fieldset className="color-picker">
          <legend>Colour</legend>
          {PROJECT_COLORS.map((c) => (
            <label key={c.value} className="swatch" title={c.name}>
              <input type="radio" name={`${ids}-color`} value={c.value} checked={color.toLowerCase() === c.value} onChange={() => setColor(c.value)} />
              <span className="swatch-dot" style={{ background: c.value }} aria-hidden="true" />
              <span className="visually-hidden">{c.name}</span>
            </label>
          ))}
        </fieldset>
        <div className="modal-actions">
          <button type="submit" className="primary" disabled={busy} {...offline}>
            {project ? 'Save' : 'Create project'}
          </button>
          <button type="button" className="ghost" onClick={onClose}>
            Cancel
          </button>
        </div>
        {project ? (
          <div className="danger-zone">
            <button type="button" className="secondary" disabled={busy} onClick={() => void setArchived(!project.archived)} {...offline}>
              {project.archived ? 'Restore from archive' : 'Archive project'}
            </button>
            <button type="button" className="danger ghost" disabled={busy} onClick={() => setConfirmDelete(true)}>
              Delete project…
            </button>
          </div>
        ) : null}
      </form>
      {confirmDelete && project ? (
        <ConfirmDialog
          title={`Delete “${project.name}”?`}
          body="Every member loses it, and it cannot be undone. Only an empty project can be deleted (archive one that still holds tasks)."
          confirmLabel="Delete project"
          onConfirm={() => void remove()}
          onCancel={() => setConfirmDelete(false)}
        />
      ) : null}
    </Modal>
  );
}
