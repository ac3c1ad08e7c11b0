// The urql client: HTTP for queries and mutations, graphql-ws for subscriptions.
import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { getToken, setToken } from './auth';
import { backoffDelay, setConnectionState } from './connection';
import { emit } from './events';

export interface AppClient {
  client: Client;
  dispose: () => void;
}

function wsUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}/graphql`;
}

const PONG_TIMEOUT_MS = 5000;

function createSocket(): { ws: WsClient; retire: () => void } {
  let everConnected = false;
  // A disposed client's late "closed" must not overwrite the next session's state.
  let retired = false;
  const setState = (s: Parameters<typeof setConnectionState>[0]) => {
    if (!retired) setConnectionState(s);
  };
  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  let activeSocket: WebSocket | undefined;
  const ws = createWsClient({
    url: wsUrl(),
    lazy: true,
    lazyCloseTimeout: 1000,
    keepAlive: 10000,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (event) => {
      // 4403: the server refused our token; retrying cannot help.
      const code = (event as { code?: number } | undefined)?.code;
      if (code === 4403 || code === 4401) {
        setToken(null);
        return false;
      }
      return true;
    },
    retryWait: async (retries) => {
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(retries)));
    },
    connectionParams: () => {
      const token = getToken();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    on: {
      connecting: () => setState(everConnected ? 'reconnecting' : 'connecting'),
      opened: (socket) => {
        activeSocket = socket as WebSocket;
      },
      connected: () => {
        setState('connected');
        // The server does not replay what we missed: refetch after every reconnect.
        if (everConnected && !retired) emit({ type: 'resync' });
        everConnected = true;
      },
      closed: () => {
        activeSocket = undefined;
        if (pongTimer) clearTimeout(pongTimer);
        if (everConnected) setState('reconnecting');
      },
      ping: (received) => {
        if (received) return;
        // A half-open socket never answers: close it so the client reconnects.
        pongTimer = setTimeout(() => {
          if (activeSocket?.readyState === WebSocket.OPEN) activeSocket.close(4408, 'Request Timeout');
        }, PONG_TIMEOUT_MS);
      },
      pong: (received) => {
        if (received && pongTimer) clearTimeout(pongTimer);
      },
    },
  });
  return {
    ws,
    retire: () => {
      retired = true;
    },
  };
}

export function createAppClient(): AppClient {
  const { ws, retire } = createSocket();
  const client = new Client({
    url: '/graphql',
    requestPolicy: 'cache-and-network',
    preferGetMethod: false,
    fetchOptions: () => {
      const token = getToken();
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      return { headers };
    },
    exchanges: [
      mapExchange({
        onError(error, operation) {
          const unauthenticated = error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
          const isAuthOp = operation.query.definitions.some(
            (d) => d.kind === 'OperationDefinition' && (d.name?.value === 'LogIn' || d.name?.value === 'SignUp'),
          );
          if (unauthenticated && !isAuthOp && getToken()) setToken(null);
        },
      }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return {
    client,
    dispose: () => {
      retire();
      setConnectionState('idle');
      void ws.dispose();
    },
  };
}
