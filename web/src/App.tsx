import { useEffect, useMemo, useState } from 'react';
import { Provider } from 'urql';
import { AuthScreen } from './components/AuthScreen';
import { Session } from './components/Session';
import { ToastProvider } from './components/Toast';
import { getToken, onTokenChange, setToken } from './lib/auth';
import { createAppClient } from './lib/client';

function clearSessionState() {
  try {
    sessionStorage.clear();
  } catch {
    /* ignore */
  }
}

function logOut() {
  setToken(null);
}

export function App() {
  const [token, setTokenState] = useState<string | null>(() => getToken());
  useEffect(() => onTokenChange(setTokenState), []);

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
          <Session onLogOut={logOut} />
        </Provider>
      ) : (
        <AuthScreen onAuthenticated={(t) => setToken(t)} />
      )}
    </ToastProvider>
  );
}
