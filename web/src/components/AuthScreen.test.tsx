import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthScreen } from './AuthScreen';

function mockFetch(body: unknown) {
  const fn = vi.fn(async () => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } }));
  vi.stubGlobal('fetch', fn);
  return fn;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('AuthScreen', () => {
  it('validates before calling the server', async () => {
    const fetch = mockFetch({});
    const user = userEvent.setup();
    render(<AuthScreen onAuthenticated={() => {}} />);
    await user.click(screen.getByRole('button', { name: 'Create an account' }));
    await user.type(screen.getByLabelText('Email'), 'nope');
    await user.type(screen.getByLabelText('Password'), 'short');
    await user.click(screen.getByRole('button', { name: 'Sign up' }));
    expect(screen.getByText('Enter an email address like name@example.com.')).toBeTruthy();
    expect(screen.getByText('Use at least 8 characters.')).toBeTruthy();
    expect(screen.getByLabelText('Email').getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(screen.getByLabelText('Email'));
    expect(fetch).not.toHaveBeenCalled();
    // Editing a field clears its message.
    await user.type(screen.getByLabelText('Email'), '@example.com');
    expect(screen.queryByText('Enter an email address like name@example.com.')).toBeNull();
  });

  it('logs in and hands over the token', async () => {
    const fetch = mockFetch({ data: { logIn: { __typename: 'AuthPayload', token: 'tok', user: { __typename: 'User', id: 'u', email: 'a@b.co', timezone: 'UTC' } } } });
    const onAuthenticated = vi.fn();
    const user = userEvent.setup();
    render(<AuthScreen onAuthenticated={onAuthenticated} />);
    await user.type(screen.getByLabelText('Email'), 'a@b.co');
    await user.type(screen.getByLabelText('Password'), 'secret123');
    await user.click(screen.getByRole('button', { name: 'Log in' }));
    await waitFor(() => expect(onAuthenticated).toHaveBeenCalledWith('tok'));
    const body = JSON.parse((fetch.mock.calls[0] as unknown as [string, RequestInit])[1].body as string);
    expect(body.variables).toEqual({ email: 'a@b.co', password: 'secret123' });
  });

  it('says plainly when the password is wrong', async () => {
    mockFetch({ data: null, errors: [{ message: 'email or password is wrong', extensions: { code: 'UNAUTHENTICATED' } }] });
    const user = userEvent.setup();
    render(<AuthScreen onAuthenticated={() => {}} />);
    await user.type(screen.getByLabelText('Email'), 'a@b.co');
    await user.type(screen.getByLabelText('Password'), 'wrongpass');
    await user.click(screen.getByRole('button', { name: 'Log in' }));
    expect((await screen.findByRole('alert')).textContent).toMatch('That email and password do not match an account.');
  });

  it('offers to log in when the email is taken', async () => {
    mockFetch({ data: null, errors: [{ message: 'email: an account with this email already exists', extensions: { code: 'CONFLICT' } }] });
    const user = userEvent.setup();
    render(<AuthScreen onAuthenticated={() => {}} />);
    await user.click(screen.getByRole('button', { name: 'Create an account' }));
    await user.type(screen.getByLabelText('Email'), 'a@b.co');
    await user.type(screen.getByLabelText('Password'), 'longenough');
    await user.click(screen.getByRole('button', { name: 'Sign up' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/already exists/);
    await user.click(screen.getByRole('button', { name: 'Go to log in' }));
    expect(screen.getByRole('heading', { name: 'Log in' })).toBeTruthy();
  });
});
