import { describe, expect, it, vi } from 'vitest';
import { describeError, fieldLabel, splitFieldMessage } from './errors';

const gqlError = (code: string, message: string) => ({ graphQLErrors: [{ message, extensions: { code } }] });

describe('error messages from the contract’s codes', () => {
  it('splits "field: detail"', () => {
    expect(splitFieldMessage('title: must be 1 to 500 characters after trimming')).toEqual({
      field: 'title',
      detail: 'must be 1 to 500 characters after trimming',
    });
    expect(splitFieldMessage('reminders[0].beforeDue: a relative reminder needs a due date')).toEqual({
      field: 'reminders[0].beforeDue',
      detail: 'a relative reminder needs a due date',
    });
    expect(splitFieldMessage('something broke')).toEqual({ detail: 'something broke' });
  });

  it('labels fields for people', () => {
    expect(fieldLabel('title')).toBe('Title');
    expect(fieldLabel('recurrence.rule')).toBe('Repeat rule');
    expect(fieldLabel('reminders[1].beforeDue')).toBe('Reminder 2 (before due)');
    expect(fieldLabel('tags[0]')).toBe('Tag 1');
    expect(fieldLabel('mystery')).toBe('mystery');
  });

  it('BAD_USER_INPUT names the field', () => {
    expect(describeError(gqlError('BAD_USER_INPUT', 'title: must be 1 to 500 characters after trimming'))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'title',
      detail: 'must be 1 to 500 characters after trimming',
      message: 'Title: must be 1 to 500 characters after trimming',
    });
  });

  it('CONFLICT depends on what was being done', () => {
    expect(describeError(gqlError('CONFLICT', 'expectedVersion: the task is at version 4, not 3'), 'task-save')?.message).toMatch(
      /Someone changed this task after you opened it/,
    );
    const signup = describeError(gqlError('CONFLICT', 'email: an account with this email already exists'), 'signup');
    expect(signup).toMatchObject({ code: 'CONFLICT', field: 'email' });
    expect(signup?.message).toMatch(/already exists/);
    expect(describeError(gqlError('CONFLICT', 'name: taken'), 'tag')?.message).toBe('A tag with that name already exists.');
  });

  it('UNAUTHENTICATED means wrong credentials at login, an ended session elsewhere', () => {
    expect(describeError(gqlError('UNAUTHENTICATED', 'email or password is wrong'), 'login')?.message).toBe(
      'That email and password do not match an account.',
    );
    expect(describeError(gqlError('UNAUTHENTICATED', 'token expired'))?.message).toMatch(/log in again/);
  });

  it('COST_LIMIT and TIMEOUT say what to do, not the raw message', () => {
    const cost = describeError(gqlError('COST_LIMIT', 'query cost 30,000 exceeds the budget of 20,000'));
    expect(cost?.code).toBe('COST_LIMIT');
    expect(cost?.message).toMatch(/smaller page or a narrower search/);
    const timeout = describeError(gqlError('TIMEOUT', 'the request took longer than its 5 s deadline'));
    expect(timeout?.code).toBe('TIMEOUT');
    expect(timeout?.message).toMatch(/nothing was changed/);
  });

  it('NOT_FOUND, RATE_LIMITED, INTERNAL and unknown codes', () => {
    expect(describeError(gqlError('NOT_FOUND', 'task not found'), 'task')?.message).toMatch(/no longer exists/);
    expect(describeError(gqlError('RATE_LIMITED', 'slow down'))?.message).toMatch(/wait a few seconds/);
    expect(describeError(gqlError('INTERNAL', 'boom'))?.code).toBe('INTERNAL');
    expect(describeError(gqlError('WHATEVER', 'x'))?.code).toBe('INTERNAL');
    // Internals are never echoed.
    expect(describeError(gqlError('INTERNAL', 'psycopg.errors.UniqueViolation at /srv/app.py'))?.message).not.toMatch(/psycopg/);
  });

  it('FORBIDDEN (a project role that does not allow the change) is explained, never shown raw', () => {
    const raw = 'FORBIDDEN: role VIEWER lacks tasks.write on project 9f1c';
    const task = describeError(gqlError('FORBIDDEN', raw), 'task-save');
    expect(task?.code).toBe('FORBIDDEN');
    expect(task?.message).toMatch(/viewers can only read/);
    expect(task?.message).toMatch(/Nothing was changed/);
    const project = describeError(gqlError('FORBIDDEN', raw), 'project');
    expect(project?.message).toMatch(/^Only an owner of this project can do that/);
    for (const m of [task, project, describeError(gqlError('FORBIDDEN', raw))]) expect(m?.message).not.toContain('tasks.write');
  });

  it('network failures and nothing at all', () => {
    expect(describeError({ networkError: new Error('Failed to fetch'), graphQLErrors: [] })?.code).toBe('NETWORK');
    // Offline (the app is read-only then), the message says so rather than blaming the server.
    const online = vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    expect(describeError({ networkError: new Error('Failed to fetch'), graphQLErrors: [] })?.message).toBe(
      'You’re offline, so nothing was changed. Try again once you’re back online.',
    );
    online.mockRestore();
    expect(describeError({ networkError: new Error('Failed to fetch'), graphQLErrors: [] })?.message).toMatch(/^Can't reach/);
    expect(describeError(null)).toBeNull();
  });
});
