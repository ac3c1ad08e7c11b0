import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import { Client, fetchExchange } from '@urql/core';
import { LogInDocument, SignUpDocument } from '../gql/graphql';
import { browserTimeZone } from '../lib/datetime';
import { describeError, type UserError } from '../lib/errors';
import { ErrorBanner, FieldError } from './ErrorMessage';

type Mode = 'login' | 'signup';

function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const zones = intl.supportedValuesOf?.('timeZone') ?? [];
  const own = browserTimeZone();
  return zones.includes(own) ? zones : [own, ...zones];
}

export function AuthScreen({ onAuthenticated }: { onAuthenticated: (token: string) => void }) {
  const client = useMemo(() => new Client({ url: '/graphql', exchanges: [fetchExchange], preferGetMethod: false }), []);
  const [mode, setMode] = useState<Mode>(() => (window.location.hash.includes('signup') ? 'signup' : 'login'));
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [showPassword, setShowPassword] = useState(false);
  const [timezone, setTimezone] = useState(browserTimeZone);
  const [error, setError] = useState<UserError | null>(null);
  const [clientErrors, setClientErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const zones = useMemo(timeZones, []);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const bannerRef = useRef<HTMLDivElement>(null);
  const ids = useId();

  useEffect(() => {
    headingRef.current?.focus();
    setError(null);
    setClientErrors({});
  }, [mode]);

  const clearFieldError = (name: string) => {
    setClientErrors((errs) => {
      if (!(name in errs)) return errs;
      const next = { ...errs };
      delete next[name];
      return next;
    });
    setError((err) => (err?.field === name ? null : err));
  };
  const fieldError = (name: string) => clientErrors[name] ?? (error?.field === name ? error.detail : undefined);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const problems: Record<string, string> = {};
    if (!/^\S+@\S+\.\S+$/.test(email.trim())) problems.email = 'Enter an email address like name@example.com.';
    if (mode === 'signup' && password.length < 8) problems.password = 'Use at least 8 characters.';
    if (mode === 'login' && !password) problems.password = 'Enter your password.';
    setClientErrors(problems);
    setError(null);
    if (Object.keys(problems).length) {
      document.getElementById(`${ids}-${Object.keys(problems)[0]}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      if (mode === 'signup') {
        const res = await client.mutation(SignUpDocument, { email: email.trim(), password, timezone }).toPromise();
        if (res.data) return onAuthenticated(res.data.signUp.token);
        setError(describeError(res.error, 'signup'));
      } else {
        const res = await client.mutation(LogInDocument, { email: email.trim(), password }).toPromise();
        if (res.data) return onAuthenticated(res.data.logIn.token);
        setError(describeError(res.error, 'login'));
      }
      setTimeout(() => bannerRef.current?.focus(), 0);
    } finally {
      setBusy(false);
    }
  }

  const isSignup = mode === 'signup';
  return (
    <main className="auth-page">
      <div className="auth-card">
        <p className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">✓</span> Taskstream
        </p>
        <h1 ref={headingRef} tabIndex={-1}>
          {isSignup ? 'Create your account' : 'Log in'}
        </h1>
        <p className="muted">{isSignup ? 'Tasks, reminders and recurring work, live across your devices.' : 'Welcome back.'}</p>
        <ErrorBanner ref={bannerRef} error={error && !error.field ? error : error?.code === 'CONFLICT' ? error : null}>
          {error?.code === 'CONFLICT' && isSignup ? (
            <button type="button" className="link-button" onClick={() => setMode('login')}>
              Go to log in
            </button>
          ) : null}
        </ErrorBanner>
        <form onSubmit={submit} noValidate aria-label={isSignup ? 'Sign up' : 'Log in'}>
          <div className="field">
            <label htmlFor={`${ids}-email`}>Email</label>
            <input
              id={`${ids}-email`}
              type="email"
              autoComplete="email"
              value={email}
              onChange={(e) => {
                setEmail(e.target.value);
                clearFieldError('email');
              }}
              aria-invalid={fieldError('email') ? true : undefined}
              aria-describedby={fieldError('email') ? `${ids}-email-error` : undefined}
              required
            />
            <FieldError id={`${ids}-email-error`} message={error?.code === 'CONFLICT' ? undefined : fieldError('email')} />
          </div>
          <div className="field">
            <label htmlFor={`${ids}-password`}>Password</label>
            <div className="input-with-button">
              <input
                id={`${ids}-password`}
                type={showPassword ? 'text' : 'password'}
                autoComplete={isSignup ? 'new-password' : 'current-password'}
                value={password}
                onChange={(e) => {
                  setPassword(e.target.value);
                  clearFieldError('password');
                }}
                aria-invalid={fieldError('password') ? true : undefined}
                aria-describedby={`${ids}-password-hint${fieldError('password') ? ` ${ids}-password-error` : ''}`}
                required
              />
              <button type="button" className="ghost" aria-pressed={showPassword} onClick={() => setShowPassword((s) => !s)}>
                {showPassword ? 'Hide' : 'Show'}
                <span className="visually-hidden"> password</span>
              </button>
            </div>
            <p id={`${ids}-password-hint`} className="hint">
              {isSignup ? 'At least 8 characters.' : ''}
            </p>
            <FieldError id={`${ids}-password-error`} message={fieldError('password')} />
          </div>
          {isSignup ? (
            <div className="field">
              <label htmlFor={`${ids}-timezone`}>Time zone</label>
              <select id={`${ids}-timezone`} value={timezone} onChange={(e) => setTimezone(e.target.value)}>
                {zones.map((z) => (
                  <option key={z} value={z}>
                    {z.replace(/_/g, ' ')}
                  </option>
                ))}
              </select>
              <p className="hint">Due dates and reminders are shown in this zone.</p>
              <FieldError id={`${ids}-timezone-error`} message={fieldError('timezone')} />
            </div>
          ) : null}
          <button type="submit" className="primary wide" disabled={busy}>
            {busy ? 'Please wait…' : isSignup ? 'Sign up' : 'Log in'}
          </button>
        </form>
        <p className="auth-switch">
          {isSignup ? 'Already have an account?' : 'New to Taskstream?'}{' '}
          <button type="button" className="link-button" onClick={() => setMode(isSignup ? 'login' : 'signup')}>
            {isSignup ? 'Log in' : 'Create an account'}
          </button>
        </p>
      </div>
    </main>
  );
}
