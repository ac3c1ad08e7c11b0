import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { NAV_ENTRIES } from '../lib/nav';
import { mockClient } from '../test/mockClient';
import { renderWithClient } from '../test/render';
import { ProjectsProvider } from './ProjectsContext';
import { Sidebar } from './Sidebar';
import { projectNode } from '../test/projects';

const invitation = {
  __typename: 'ProjectInvitation',
  id: 'i1',
  projectName: 'Conference',
  email: 'ada@example.test',
  role: 'EDITOR',
  state: 'PENDING',
  createdAt: '2026-12-01T10:00:00+00:00',
  invitedBy: { __typename: 'PublicUser', id: 'u2', email: 'bob@example.test' },
};

describe('Sidebar', () => {
  it('lists the views from NAV_ENTRIES, the projects in the order the server gives (the caller\'s own) with open counts and handles to move them, archived apart, and an invitation badge', async () => {
    const { client } = mockClient((name) => {
      if (name === 'Projects')
        return {
          data: {
            projects: [
              projectNode('p2', 'Website', { openTaskCount: 4 }),
              projectNode('p1', 'appliances', { myRole: 'VIEWER' }),
              projectNode('p3', 'Old', { archived: true }),
            ],
          },
        };
      if (name === 'MyInvitations') return { data: { myInvitations: [invitation] } };
      return { data: null };
    });
    renderWithClient(
      <ProjectsProvider currentProjectId="p2">
        <Sidebar current="projects" projectId="p2" />
      </ProjectsProvider>,
      client,
    );
    const views = screen.getByRole('navigation', { name: 'Views' });
    expect(within(views).getAllByRole('link').map((a) => a.textContent)).toEqual(NAV_ENTRIES.map((e) => e.label));
    const projects = screen.getByRole('navigation', { name: 'Projects' });
    await within(projects).findByRole('link', { name: /Website/ });
    const active = within(projects).getAllByRole('list')[0]!;
    expect(within(active).getAllByRole('link').map((a) => a.getAttribute('href'))).toEqual(['#/projects/p2', '#/projects/p1']);
    expect(within(active).getAllByRole('button', { name: /^Move the project/ }).map((b) => b.getAttribute('aria-label'))).toEqual([
      'Move the project “Website”',
      'Move the project “appliances”',
    ]);
    expect(within(projects).getByRole('link', { name: /Website/ }).getAttribute('aria-current')).toBe('page');
    expect(within(projects).getByRole('link', { name: /Website/ }).textContent).toContain('4 open');
    expect(within(projects).getByRole('link', { name: /appliances/ }).textContent).toContain('shared with you as Viewer');
    expect(screen.getByText('Archived (1)').tagName).toBe('SUMMARY');
    expect((await screen.findByTestId('invitation-badge')).textContent).toBe('1 pending');
  });
});
