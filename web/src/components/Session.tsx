import { useEffect, useRef, useState } from 'react';
import { useQuery } from 'urql';
import { MeDocument } from '../gql/graphql';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { navigate, useHashRoute } from '../lib/hooks';
import { basePath, NAV_ENTRIES, parseRoute } from '../lib/nav';
import { OFFLINE_REASON } from '../lib/offline';
import { CHANGING_SHORTCUTS, shortcutFor } from '../lib/shortcuts';
import { runUndo } from '../lib/undo';
import { CalendarPage } from './CalendarPage';
import { ConnectionBanner } from './ConnectionBanner';
import { ErrorBanner } from './ErrorMessage';
import { LiveSync } from './LiveSync';
import { MeContext } from './MeContext';
import { NotificationsButton } from './NotificationsPanel';
import { ProjectNotice } from './ProjectNotice';
import { ProjectsProvider } from './ProjectsContext';
import { NotificationActionHandler } from './Push';
import { SettingsPage } from './SettingsPage';
import { ShortcutsDialog } from './ShortcutsDialog';
import { Sidebar } from './Sidebar';
import { focusQuickAddOnMount } from './TaskList';
import { TasksPage } from './TasksPage';
import { ThemeToggle } from './ThemeToggle';
import { useToast } from './Toast';

export function Session({ onLogOut }: { onLogOut: () => void }) {
  const [{ data, error, fetching }, refetch] = useQuery({ query: MeDocument, requestPolicy: 'cache-first' });
  const route = useHashRoute();
  const mainRef = useRef<HTMLElement>(null);
  const parsed = parseRoute(route);
  const section = route[0] === 'settings' || route[0] === 'calendar' ? route[0] : 'tasks';
  const projectId = parsed.scope?.kind === 'project' ? parsed.scope.projectId : null;

  useEffect(() => {
    const known = section !== 'tasks' || parsed.scope !== null || NAV_ENTRIES.some((e) => e.id === route[0]);
    if (route.length === 0 || !known) navigate('/tasks');
  }, [route, parsed.scope]);

  const toast = useToast();
  const toastRef = useRef(toast);
  toastRef.current = toast;
  const [help, setHelp] = useState(false);
  const helpReturn = useRef<HTMLElement | null>(null);
  const routeRef = useRef(route);
  routeRef.current = route;
  const parsedRef = useRef(parsed);
  parsedRef.current = parsed;
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.defaultPrevented || e.isComposing) return;
      // A modal dialog handles its own keys (Esc closes it).
      if (document.querySelector('dialog[open]')) return;
      const name = shortcutFor(e);
      if (!name) return;
      const { scope, taskId } = parsedRef.current;
      if (name === 'close' && !taskId) return;
      e.preventDefault();
      // Offline, a shortcut that would change something says why instead (its buttons are disabled).
      if (!navigator.onLine && CHANGING_SHORTCUTS.has(name)) {
        toastRef.current(OFFLINE_REASON, 'error');
        return;
      }
      if (name === 'help') {
        helpReturn.current = document.activeElement as HTMLElement | null;
        setHelp(true);
      } else if (name === 'new') navigate(`${scope ? basePath(scope) : '/tasks'}/new`);
      else if (name === 'undo') void runUndo();
      else if (!scope) {
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
      <ProjectsProvider currentProjectId={projectId}>
      <NotificationActionHandler />
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
      <div className="app-body">
        <Sidebar current={route[0] ?? null} projectId={projectId} filterId={parsed.scope?.kind === 'filter' ? parsed.scope.filterId : null} />
        <main id="main" ref={mainRef} tabIndex={-1} className="app-main">
          <ProjectNotice />
          {route[0] === 'settings' ? <SettingsPage /> : null}
          {route[0] === 'calendar' ? <CalendarPage /> : null}
          {parsed.scope ? <TasksPage taskId={parsed.taskId} scope={parsed.scope} /> : null}
        </main>
      </div>
      {help ? (
        <ShortcutsDialog
          onClose={() => {
            setHelp(false);
            const back = helpReturn.current;
            setTimeout(() => (back && back.isConnected ? back : mainRef.current)?.focus(), 0);
          }}
        />
      ) : null}
      </ProjectsProvider>
    </MeContext.Provider>
  );
}
