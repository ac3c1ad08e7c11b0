import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ProjectFieldsFragment } from '../gql/graphql';
import { mockClient, type Handler } from '../test/mockClient';
import { member, projectNode } from '../test/projects';
import { renderWithClient } from '../test/render';
import { ProjectsProvider } from './ProjectsContext';
import { emailError, ShareDialog } from './ShareDialog';

beforeAll(() => {
  // jsdom has no modal dialogs.
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.setAttribute('open', '');
  };
});

const members = [member('u1', 'ada@example.test', 'OWNER'), member('u2', 'bob@example.test', 'EDITOR')];
const pending = {
  __typename: 'ProjectInvitation',
  id: 'i1',
  projectName: 'Launch',
  email: 'cy@example.test',
  role: 'VIEWER',
  state: 'PENDING',
  createdAt: '2026-12-01T10:00:00+00:00',
  invitedBy: { __typename: 'PublicUser', id: 'u1', email: 'ada@example.test' },
};

function open(myRole: 'OWNER' | 'EDITOR' | 'VIEWER', extra: Handler = () => ({ data: null })) {
  const project = projectNode('p1', 'Launch', { myRole }) as unknown as ProjectFieldsFragment;
  const mock = mockClient((name, vars, op) => {
    if (name === 'Projects') return { data: { projects: [project] } };
    if (name === 'MyInvitations') return { data: { myInvitations: [] } };
    if (name === 'ProjectInvitations') return { data: { projectInvitations: [pending] } };
    return extra(name, vars, op);
  });
  renderWithClient(
    <ProjectsProvider currentProjectId="p1">
      <ShareDialog project={project} members={members as never} onClose={() => {}} />
    </ProjectsProvider>,
    mock.client,
  );
  return mock;
}

describe('ShareDialog', () => {
  it('offers an owner inviting, role changes, removal and revoking', async () => {
    open('OWNER');
    const dialog = screen.getByRole('dialog', { name: 'Share “Launch”' });
    await within(dialog).findByText('cy@example.test');
    expect(within(dialog).getByRole('button', { name: 'Invite' })).toBeTruthy();
    expect(within(dialog).getByRole('combobox', { name: 'Role of bob@example.test' })).toBeTruthy();
    expect(within(dialog).getByRole('button', { name: 'Remove bob@example.test' })).toBeTruthy();
    expect(within(dialog).getByRole('button', { name: 'Revoke the invitation of cy@example.test' })).toBeTruthy();
    // Not for oneself: an owner leaves instead.
    expect(within(dialog).queryByRole('button', { name: 'Remove ada@example.test' })).toBeNull();
  });

  it.each(['VIEWER', 'EDITOR'] as const)('offers a %s nothing an owner alone may do, only reading and leaving', async (role) => {
    open(role);
    const dialog = screen.getByRole('dialog', { name: 'Share “Launch”' });
    await within(dialog).findByText('cy@example.test');
    expect(within(dialog).queryByRole('button', { name: 'Invite' })).toBeNull();
    expect(within(dialog).queryByRole('textbox', { name: 'Email' })).toBeNull();
    expect(within(dialog).queryAllByRole('combobox')).toEqual([]);
    expect(within(dialog).queryByRole('button', { name: /^Remove|^Revoke/ })).toBeNull();
    expect(within(dialog).getByRole('button', { name: 'Leave project…' })).toBeTruthy();
    expect(within(dialog).getByTestId('my-role').textContent).toBe(role === 'VIEWER' ? 'Viewer' : 'Editor');
  });

  it('explains a FORBIDDEN answer in words and keeps the member list as it was', async () => {
    const mock = open('OWNER', (name) =>
      name === 'ChangeMemberRole' ? { errors: [{ message: 'forbidden: OWNER role required', extensions: { code: 'FORBIDDEN' } }] } : { data: null },
    );
    const dialog = screen.getByRole('dialog', { name: 'Share “Launch”' });
    await userEvent.selectOptions(within(dialog).getByRole('combobox', { name: 'Role of bob@example.test' }), 'VIEWER');
    const alert = await within(dialog).findByRole('alert');
    expect(alert.textContent).toMatch(/^Only an owner of this project can do that, and nothing was changed/);
    expect(alert.textContent).not.toMatch(/OWNER role required/);
    expect(mock.calls.find((c) => c.name === 'ChangeMemberRole')?.variables).toEqual({ projectId: 'p1', userId: 'u2', role: 'VIEWER' });
    expect((within(dialog).getByRole('combobox', { name: 'Role of bob@example.test' }) as HTMLSelectElement).value).toBe('EDITOR');
  });

  it('checks the address before inviting and names the field', async () => {
    const mock = open('OWNER');
    const dialog = screen.getByRole('dialog', { name: 'Share “Launch”' });
    await userEvent.type(within(dialog).getByRole('textbox', { name: 'Email' }), 'not-an-address');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Invite' }));
    await within(dialog).findByText('Email: enter an address like name@example.com.');
    await waitFor(() => expect(mock.calls.some((c) => c.name === 'InviteToProject')).toBe(false));
    expect(emailError('')).toBe('Email: enter the address to invite.');
    expect(emailError(`${'a'.repeat(320)}@x.y`)).toBe('Email: at most 320 characters.');
    expect(emailError('dee@example.test')).toBeNull();
  });
});
