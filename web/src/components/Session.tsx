import { useEffect, useRef, useState } from 'react';
import { useQuery } from 'urql';
import { MeDocument } from '../gql/graphql';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { navigate, useHashRoute } from '../lib/hooks';
import { shortcutFor } from '../lib/shortcuts';
import { runUndo } from '../lib/undo';
import { CalendarPage } from './CalendarPage';
import { ConnectionBanner } from './ConnectionBanner';
import { ErrorBanner } from './ErrorMessage';
import { LiveSync } from './LiveSync';
import { MeContext } from './MeContext';
import { NotificationsButton } from './NotificationsPanel';
import { SettingsPage } from './SettingsPage';
import { ShortcutsDialog } from './ShortcutsDialog';
import { focusQuickAddOnMount } from './TaskList';
import { TasksPage } from './TasksPage';
import { ThemeToggle } from './ThemeToggle';

export function Session({ onLogOut }: { onLogOut: () => void }) {
  const [{ data, error, fetching }, refetch] = useQuery({ query: MeDocument, requestPolicy: 'cache-first' });
  const route = useHashRoute();
  const mainRef = useRef<HTMLElement>(null);
  const section = route[0] === 'settings' || route[0] === 'calendar' ? route[0] : 'tasks';

  useEffect(() => {
    if (route.length === 0 || !['tasks', 'settings', 'calendar'].includes(route[0] ?? '')) navigate('/tasks');
  }, [route]);

  const [help, setHelp] = useState(false);
  const helpReturn = useRef<HTMLElement | null>(null);
  const routeRef = useRef(route);
  routeRef.current = route;
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.defaultPrevented || e.isComposing) return;
      // A modal dialog handles its own keys (Esc closes it).
      if (document.querySelector('dialog[open]')) return;
      const name = shortcutFor(e);
      if (!name) return;
      const [section, taskId] = routeRef.current;
      if (name === 'close' && !taskId) return;
      e.preventDefault();
      if (name === 'help') {
        helpReturn.current = document.activeElement as HTMLElement | null;
        setHelp(true);
      } else if (name === 'new') navigate('/tasks/new');
      else if (name === 'undo') void runUndo();
      else if (section !== 'tasks') {
        if (name === 'quick-add') {
          focusQuickAddOnMount();
          navigate('/tasks');
        }
      } else emit({ type: 'shortcut', name });
    }
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

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
          <a href="#/calendar" aria-current={section === 'calendar' ? 'page' : undefined}>Calendar</a>
          <a href="#/settings" aria-current={section === 'settings' ? 'page' : undefined}>
            Settings
          </a>
        </nav>
        <div className="header-actions">
          <button type="button" className="ghost icon-button shortcuts-button" aria-label="Keyboard shortcuts" aria-keyshortcuts="?" onClick={(e) => { helpReturn.current = e.currentTarget; setHelp(true); }}>
            ?
          </button>
          <ThemeToggle />
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
        {section === 'settings' ? <SettingsPage /> : section === 'calendar' ? <CalendarPage /> : <TasksPage taskId={route[1] ?? null} />}
      </main>
      {help ? (
        <ShortcutsDialog
          onClose={() => {
            setHelp(false);
            const back = helpReturn.current;
            setTimeout(() => (back && back.isConnected ? back : mainRef.current)?.focus(), 0);
          }}
        />
      ) : null}
    </MeContext.Provider>
  );
}
