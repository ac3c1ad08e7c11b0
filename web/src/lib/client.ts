// The urql client: HTTP for queries and mutations, graphql-ws for subscriptions.
import { Client, cacheExchange, fetchExchange, makeOperation, mapExchange, subscriptionExchange, type Operation } from '@urql/core';
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

/** Close codes after which retrying cannot help: the server refused our token. */
export const AUTH_CLOSE_CODES: ReadonlySet<number> = new Set([4401, 4403]);
/** What a close code graphql-ws gives up on is reported as: 4499 ("Terminated"), which it retries. */
export const RETRYABLE_CLOSE_CODE = 4499;
const GRAPHQL_WS_FATAL = new Set([4500, 4005, 4400, 4004, 4406, 4409, 4429]);
const GRAPHQL_WS_RETRIED_1XXX = new Set([1000, 1001, 1005, 1006, 1012, 1013, 1014]);

/**
 * graphql-ws stops for good after 1011 (server error), 4500 and a few more; a server restart or
 * a crashed replica must not leave the app "reconnecting…" forever. Every close code except the
 * auth refusals becomes one it retries with our backoff.
 */
export function retryableCloseCode(code: number): number {
  if (AUTH_CLOSE_CODES.has(code)) return code;
  const fatal = GRAPHQL_WS_FATAL.has(code) || (code >= 1000 && code <= 1999 && !GRAPHQL_WS_RETRIED_1XXX.has(code));
  return fatal ? RETRYABLE_CLOSE_CODE : code;
}

/** A WebSocket whose close events carry `retryableCloseCode` (the original stays in `reason`). */
export function retryingWebSocket(Base: typeof WebSocket): typeof WebSocket {
  // A browser's WebSocket keeps onclose as an accessor on its prototype; a stand-in (tests,
  // proxies) may read `this.onclose` itself. Both see the wrapped handler.
  let protoSetter: ((this: unknown, v: unknown) => void) | undefined;
  for (let proto: object | null = Base.prototype; proto && !protoSetter; proto = Object.getPrototypeOf(proto)) {
    protoSetter = Object.getOwnPropertyDescriptor(proto, 'onclose')?.set;
  }
  return class RetryingWebSocket extends Base {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      let handler: ((this: WebSocket, ev: CloseEvent) => unknown) | null = null;
      const wrapped = (ev: CloseEvent) => {
        const code = retryableCloseCode(ev.code);
        const out = code === ev.code ? ev : new CloseEvent('close', { code, reason: `${ev.code} ${ev.reason}`.trim(), wasClean: ev.wasClean });
        return handler?.call(this, out);
      };
      Object.defineProperty(this, 'onclose', {
        configurable: true,
        get: () => (handler ? wrapped : null),
        set: (h: ((this: WebSocket, ev: CloseEvent) => unknown) | null) => {
          handler = h;
          protoSetter?.call(this, h ? wrapped : null);
        },
      });
    }
  };
}

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
    webSocketImpl: retryingWebSocket(WebSocket),
    lazy: true,
    lazyCloseTimeout: 1000,
    keepAlive: 10000,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (event) => {
      // 4403: the server refused our token; retrying cannot help.
      const code = (event as { code?: number } | undefined)?.code;
      if (code !== undefined && AUTH_CLOSE_CODES.has(code)) {
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

/**
 * A mutation gets an Idempotency-Key of its own (one per user action): if its response is lost
 * and the request is sent again, any gateway answers the first response instead of changing
 * things twice (docs/contract/CONTRACT.md, "Idempotent mutations").
 */
export function withIdempotencyKey(operation: Operation): Operation {
  if (operation.kind !== 'mutation') return operation;
  const given = operation.context.fetchOptions;
  const options = (typeof given === 'function' ? given() : given) ?? {};
  const headers = { ...(options.headers as Record<string, string> | undefined), 'idempotency-key': crypto.randomUUID() };
  return makeOperation(operation.kind, operation, {
    ...operation.context,
    fetchOptions: { ...options, headers },
  });
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
        onOperation: withIdempotencyKey,
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
