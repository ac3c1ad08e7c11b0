import { useEffect, useRef } from 'react';
import { useQuery } from 'urql';
import { MeDocument } from '../gql/graphql';
import { describeError } from '../lib/errors';
import { navigate, useHashRoute } from '../lib/hooks';
import { ConnectionBanner } from './ConnectionBanner';
import { ErrorBanner } from './ErrorMessage';
import { LiveSync } from './LiveSync';
import { MeContext } from './MeContext';
import { NotificationsButton } from './NotificationsPanel';
import { SettingsPage } from './SettingsPage';
import { TasksPage } from './TasksPage';

export function Session({ onLogOut }: { onLogOut: () => void }) {
  const [{ data, error, fetching }, refetch] = useQuery({ query: MeDocument, requestPolicy: 'cache-first' });
  const route = useHashRoute();
  const mainRef = useRef<HTMLElement>(null);
  const section = route[0] === 'settings' ? 'settings' : 'tasks';

  useEffect(() => {
    if (route.length === 0 || (route[0] !== 'tasks' && route[0] !== 'settings')) navigate('/tasks');
  }, [route]);

  if (!data) {
    return (
      <main className="center-page" aria-busy={fetching}>
        {error ? (
          <ErrorBanner error={describeError(error)}>
            <button type="button" onClick={() => refetch({ requestPolicy: 'network-only' })}>
              Try again
            </button>{' '}
            <button type="button" className="ghost" onClick={onLogOut}>
              Log out
            </button>
          </ErrorBanner>
        ) : (
          <p className="muted">Loading your tasks…</p>
        )}
      </main>
    );
  }

  const me = data.me;
  return (
    <MeContext.Provider value={me}>
      <a className="skip-link" href="#main" onClick={(e) => { e.preventDefault(); mainRef.current?.focus(); }}>
        Skip to content
      </a>
      <header className="app-header">
        <a className="brand" href="#/tasks" aria-label="Taskstream, go to tasks">
          <span className="brand-mark" aria-hidden="true">✓</span>
          <span className="brand-text">Taskstream</span>
        </a>
        <nav aria-label="Main" className="main-nav">
          <a href="#/tasks" aria-current={section === 'tasks' ? 'page' : undefined}>
            Tasks
          </a>
          <a href="#/settings" aria-current={section === 'settings' ? 'page' : undefined}>
            Settings
          </a>
        </nav>
        <div className="header-actions">
          <NotificationsButton />
          <span className="user-email" title={me.email}>
            {me.email}
          </span>
          <button type="button" className="ghost" onClick={onLogOut}>
            Log out
          </button>
        </div>
      </header>
      <ConnectionBanner />
      <LiveSync />
      <main id="main" ref={mainRef} tabIndex={-1} className="app-main">
        {section === 'settings' ? <SettingsPage /> : <TasksPage taskId={route[1] ?? null} />}
      </main>
    </MeContext.Provider>
  );
}
