import { describe, expect, it } from 'vitest';
import { basePath, canEditTasks, canManage, initials, NAV_ENTRIES, parseRoute, projectNameError, scopeFilter } from './nav';

describe('routes', () => {
  it('parses the views, projects and the open task', () => {
    expect(parseRoute(['tasks'])).toEqual({ scope: { kind: 'tasks' }, taskId: null });
    expect(parseRoute(['tasks', 't1'])).toEqual({ scope: { kind: 'tasks' }, taskId: 't1' });
    expect(parseRoute(['today', 'new'])).toEqual({ scope: { kind: 'today' }, taskId: 'new' });
    expect(parseRoute(['projects', 'p1'])).toEqual({ scope: { kind: 'project', projectId: 'p1' }, taskId: null });
    expect(parseRoute(['projects', 'p1', 't9'])).toEqual({ scope: { kind: 'project', projectId: 'p1' }, taskId: 't9' });
    expect(parseRoute(['projects'])).toEqual({ scope: null, taskId: null });
    expect(parseRoute(['settings'])).toEqual({ scope: null, taskId: null });
    expect(parseRoute(['assigned', 't2'])).toEqual({ scope: { kind: 'assigned' }, taskId: 't2' });
    expect(parseRoute(['filters', 'f1', 't3'])).toEqual({ scope: { kind: 'filter', filterId: 'f1' }, taskId: 't3' });
    expect(basePath({ kind: 'filter', filterId: 'f 1' })).toBe('/filters/f%201');
  });

  it('builds the base path a task opens under', () => {
    expect(basePath({ kind: 'inbox' })).toBe('/inbox');
    expect(basePath({ kind: 'project', projectId: 'a b' })).toBe('/projects/a%20b');
  });

  it('lists Inbox, Today and Upcoming in the sidebar, each once', () => {
    const ids = NAV_ENTRIES.map((e) => e.id);
    expect(ids).toEqual(expect.arrayContaining(['inbox', 'today', 'upcoming', 'assigned']));
    expect(NAV_ENTRIES.find((e) => e.id === 'assigned')?.label).toBe('Assigned to me');
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('scope filters', () => {
  // Friday 4 December 2026, 22:30 in Berlin (21:30 UTC).
  const now = Date.parse('2026-12-04T21:30:00Z');
  it('Inbox is the personal space and a project is its tasks', () => {
    expect(scopeFilter({ kind: 'inbox' }, 'Europe/Berlin', now)).toEqual({ inbox: true });
    expect(scopeFilter({ kind: 'project', projectId: 'p1' }, 'Europe/Berlin', now)).toEqual({ projectId: 'p1' });
    expect(scopeFilter({ kind: 'tasks' }, 'Europe/Berlin', now)).toEqual({});
    expect(scopeFilter({ kind: 'assigned' }, 'Europe/Berlin', now)).toEqual({ assignedToMe: true });
  });
  it('Today ends at the end of the day in the user’s zone and includes overdue tasks', () => {
    expect(scopeFilter({ kind: 'today' }, 'Europe/Berlin', now)).toEqual({ dueTo: '2026-12-04T23:59:59+01:00' });
    // The same instant is already Saturday in Tokyo.
    expect(scopeFilter({ kind: 'today' }, 'Asia/Tokyo', now)).toEqual({ dueTo: '2026-12-05T23:59:59+09:00' });
  });
  it('Upcoming is tomorrow through the next seven days', () => {
    expect(scopeFilter({ kind: 'upcoming' }, 'Europe/Berlin', now)).toEqual({
      dueFrom: '2026-12-05T00:00:00+01:00',
      dueTo: '2026-12-11T23:59:59+01:00',
    });
  });
});

describe('roles', () => {
  it('only viewers cannot change tasks; only owners manage', () => {
    expect([canEditTasks('OWNER'), canEditTasks('EDITOR'), canEditTasks('VIEWER'), canEditTasks(null)]).toEqual([true, true, false, true]);
    expect([canManage('OWNER'), canManage('EDITOR'), canManage('VIEWER'), canManage(undefined)]).toEqual([true, false, false, false]);
  });
});

describe('project names and avatars', () => {
  it('checks the name like the server, naming the field and the limit', () => {
    expect(projectNameError('  ')).toBe('Name: enter a name.');
    expect(projectNameError('x'.repeat(101))).toBe('Name: at most 100 characters (now 101).');
    expect(projectNameError(` ${'x'.repeat(100)} `)).toBeNull();
  });
  it('makes initials from an address', () => {
    expect(initials('ada.lovelace@example.test')).toBe('AL');
    expect(initials('bob@example.test')).toBe('BO');
  });
});
