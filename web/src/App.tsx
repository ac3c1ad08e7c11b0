import { useEffect, useMemo, useState } from 'react';
import { Provider } from 'urql';
import { AuthScreen } from './components/AuthScreen';
import { Session } from './components/Session';
import { ToastProvider } from './components/Toast';
import { getToken, onTokenChange, setToken } from './lib/auth';
import { createAppClient } from './lib/client';
import { blockDisabledControls, forgetOfflineData } from './lib/offline';

function clearSessionState() {
  try {
    sessionStorage.clear();
  } catch {
    /* ignore */
  }
}

const REVOKE_TIMEOUT_MS = 3000;

// Logging out revokes the token on the server (a copy of it stops working everywhere), then
// forgets it here. Offline or slow, the browser forgets it anyway after a few seconds.
async function logOut(): Promise<void> {
  const token = getToken();
  if (token) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REVOKE_TIMEOUT_MS);
    try {
      await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'mutation LogOut { logOut }' }),
        signal: abort.signal,
      });
    } catch {
      /* unreachable server: the token still expires on its own */
    } finally {
      clearTimeout(timer);
    }
  }
  forgetOfflineData();
  setToken(null);
}

export function App() {
  const [token, setTokenState] = useState<string | null>(() => getToken());
  useEffect(() => onTokenChange(setTokenState), []);
  // aria-disabled controls (offline, busy) stay focusable; this keeps them from acting.
  useEffect(() => blockDisabledControls(), []);

  // One client (and one socket) per session; a new login starts from an empty cache.
  const appClient = useMemo(() => (token ? createAppClient() : null), [token]);
  useEffect(() => () => appClient?.dispose(), [appClient]);

  // Whatever ends the session (log out, expired token, another tab) forgets its view state.
  useEffect(() => {
    if (!token) clearSessionState();
  }, [token]);

  return (
    <ToastProvider>
      {appClient ? (
        <Provider value={appClient.client}>
          <Session onLogOut={() => void logOut()} />
        </Provider>
      ) : (
        <AuthScreen onAuthenticated={(t) => setToken(t)} />
      )}
    </ToastProvider>
  );
}
