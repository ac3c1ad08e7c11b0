// Test data for projects, as the API answers them.
export const projectNode = (id: string, name: string, extra: Record<string, unknown> = {}) => ({
  __typename: 'Project',
  id,
  name,
  color: '#2b8a3e',
  archived: false,
  myRole: 'OWNER',
  version: 1,
  openTaskCount: 0,
  createdAt: '2026-12-01T10:00:00+00:00',
  ...extra,
});


export const member = (id: string, email: string, role: 'OWNER' | 'EDITOR' | 'VIEWER') => ({
  __typename: 'ProjectMember',
  role,
  addedAt: '2026-12-01T10:00:00+00:00',
  user: { __typename: 'PublicUser', id, email },
});
