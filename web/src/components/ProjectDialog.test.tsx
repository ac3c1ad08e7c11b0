import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ProjectFieldsFragment } from '../gql/graphql';
import { mockClient, type Handler } from '../test/mockClient';
import { projectNode } from '../test/projects';
import { renderWithClient } from '../test/render';
import { ProjectDialog } from './ProjectDialog';
import { ProjectsProvider } from './ProjectsContext';

beforeAll(() => {
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.setAttribute('open', '');
  };
});

const launch = projectNode('p1', 'Launch', { version: 7, openTaskCount: 2 }) as unknown as ProjectFieldsFragment;

function open(project: ProjectFieldsFragment | null, handler: Handler = () => ({ data: null })) {
  let closed = 0;
  const mock = mockClient((name, vars, op) => {
    if (name === 'Projects') return { data: { projects: project ? [project] : [] } };
    if (name === 'MyInvitations') return { data: { myInvitations: [] } };
    return handler(name, vars, op);
  });
  renderWithClient(
    <ProjectsProvider currentProjectId={null}>
      <ProjectDialog project={project} onClose={() => (closed += 1)} />
    </ProjectsProvider>,
    mock.client,
  );
  return { ...mock, closed: () => closed };
}

describe('ProjectDialog', () => {
  it('creates a project with the chosen colour and refuses an empty name without asking the server', async () => {
    const { calls, closed } = open(null, (name, vars) =>
      name === 'CreateProject' ? { data: { createProject: projectNode('p9', String(vars.name), { color: vars.color }) } } : { data: null },
    );
    const dialog = screen.getByRole('dialog', { name: 'New project' });
    await userEvent.type(within(dialog).getByLabelText('Name'), '   ');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create project' }));
    expect(within(dialog).getByText('Name: enter a name.')).toBeTruthy();
    expect(calls.some((c) => c.name === 'CreateProject')).toBe(false);
    await userEvent.type(within(dialog).getByLabelText('Name'), 'Garden');
    await userEvent.click(within(dialog).getByRole('radio', { name: 'Green' }));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create project' }));
    await waitFor(() => expect(calls.find((c) => c.name === 'CreateProject')?.variables).toEqual({ name: 'Garden', color: '#2b8a3e' }));
    await waitFor(() => expect(closed()).toBe(1));
    expect(window.location.hash).toBe('#/projects/p9');
  });

  it('renames and recolours against the version it was opened at, and explains a CONFLICT', async () => {
    const { calls, closed } = open(launch, (name) =>
      name === 'UpdateProject' ? { errors: [{ message: 'expectedVersion: the project is at version 8, not 7', extensions: { code: 'CONFLICT' } }] } : { data: null },
    );
    const dialog = screen.getByRole('dialog', { name: 'Edit “Launch”' });
    const field = within(dialog).getByLabelText('Name');
    await userEvent.clear(field);
    await userEvent.type(field, 'Launch 2027');
    await userEvent.click(within(dialog).getByRole('radio', { name: 'Red' }));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    expect((await within(dialog).findByRole('alert')).textContent).toMatch(/Someone changed this project after you opened it/);
    expect(calls.find((c) => c.name === 'UpdateProject')?.variables).toEqual({ id: 'p1', name: 'Launch 2027', color: '#c92a2a', expectedVersion: 7 });
    expect(closed()).toBe(0);
  });

  it('archives at once, and deletes only after confirming', async () => {
    const { calls } = open(launch, (name, vars) => {
      if (name === 'UpdateProject') return { data: { updateProject: { ...launch, archived: vars.archived, version: 8 } } };
      if (name === 'DeleteProject') return { data: { deleteProject: 'p1' } };
      return { data: null };
    });
    const dialog = screen.getByRole('dialog', { name: 'Edit “Launch”' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete project…' }));
    const confirm = screen.getByRole('dialog', { name: 'Delete “Launch”?' });
    expect(confirm.textContent).toMatch(/cannot be undone. Only an empty project can be deleted/);
    await userEvent.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(calls.some((c) => c.name === 'DeleteProject')).toBe(false);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Archive project' }));
    await waitFor(() => expect(calls.find((c) => c.name === 'UpdateProject')?.variables).toEqual({ id: 'p1', archived: true, expectedVersion: 7 }));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete project…' }));
    await userEvent.click(within(screen.getByRole('dialog', { name: 'Delete “Launch”?' })).getByRole('button', { name: 'Delete project' }));
    await waitFor(() => expect(calls.find((c) => c.name === 'DeleteProject')?.variables).toEqual({ id: 'p1' }));
  });

  it('explains that a project holding tasks cannot be deleted, without the raw server sentence', async () => {
    open(launch, (name) =>
      name === 'DeleteProject'
        ? { errors: [{ message: 'id: project 9b86f7d still holds 2 tasks; delete them first', extensions: { code: 'CONFLICT' } }] }
        : { data: null },
    );
    const dialog = screen.getByRole('dialog', { name: 'Edit “Launch”' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete project…' }));
    await userEvent.click(within(screen.getByRole('dialog', { name: 'Delete “Launch”?' })).getByRole('button', { name: 'Delete project' }));
    const alert = await within(dialog).findByRole('alert');
    expect(alert.textContent).toBe(
      '“Launch” still holds 2 tasks (done ones count too), and only an empty project can be deleted. Delete its tasks first, or archive the project instead.',
    );
  });
});
