// Taskstream's service worker: the installable app's offline shell, its last data, and Web Push.
//
// - The shell: index.html and the bundles it names are cached at install; navigations are
//   answered from the network, else from the cache, so a reload offline still shows the app.
// - The last data: each GraphQL query's last answer is kept (keyed by the account's token and
//   the request body), and answered when the network is down, marked with `x-taskstream-offline`.
//   Mutations are never answered from the cache: offline, the app is read-only.
// - Push: a reminder pushed by the notifications service (PUSH channel) becomes a notification
//   with Complete and Snooze actions, carried out by the app's window (opened when none is).
const SHELL = 'taskstream-shell-v1';
const DATA = 'taskstream-data-v1';
// The longest query body kept (the app's queries are far smaller; anything bigger is not cached).
const BODY_MAX = 64 * 1024;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      const response = await fetch('/', { cache: 'no-cache' });
      if (!response.ok) return;
      const html = await response.clone().text();
      await cache.put('/', response);
      // The bundles index.html names (their names carry their content's hash).
      const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
      await cache.addAll([...new Set(assets)]);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name !== SHELL && name !== DATA) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && !url.pathname.startsWith('/graphql')) {
    event.respondWith(networkFirst(request, () => caches.match('/', { cacheName: SHELL })));
  } else if (request.method === 'GET' && url.pathname.startsWith('/assets/')) {
    event.respondWith(cacheFirst(request));
  } else if (request.method === 'POST' && url.pathname === '/graphql') {
    event.respondWith(graphql(request));
  }
});

async function networkFirst(request, fallback) {
  try {
    const response = await fetch(request);
    if (response.ok && (response.headers.get('content-type') ?? '').startsWith('text/html')) {
      const cache = await caches.open(SHELL);
      await cache.put('/', response.clone());
    }
    return response;
  } catch (error) {
    const cached = await fallback();
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cached = await caches.match(request, { cacheName: SHELL });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) (await caches.open(SHELL)).put(request, response.clone());
  return response;
}

/** A stable cache key (a GET URL) for one account's one query. */
async function dataKey(request, body) {
  const token = request.headers.get('authorization') ?? '';
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${token}\n${body}`));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return new Request(`/__offline-data/${hex}`);
}

/** Whether a GraphQL request body is a query (mutations and subscriptions are never cached). */
function isQuery(body) {
  try {
    const parsed = JSON.parse(body);
    const text = typeof parsed.query === 'string' ? parsed.query : '';
    // An operation's keyword starts the document or follows the previous definition's brace.
    return text.length > 0 && !/(^|\})\s*(mutation|subscription)\b/.test(text);
  } catch {
    return false;
  }
}

async function graphql(request) {
  const body = await request.clone().text();
  const cacheable = body.length <= BODY_MAX && isQuery(body);
  try {
    const response = await fetch(request);
    if (cacheable && response.ok) {
      const cache = await caches.open(DATA);
      await cache.put(await dataKey(request, body), response.clone());
    }
    return response;
  } catch (error) {
    if (cacheable) {
      const cached = await caches.match(await dataKey(request, body), { cacheName: DATA });
      if (cached) {
        const headers = new Headers(cached.headers);
        headers.set('x-taskstream-offline', '1');
        return new Response(await cached.blob(), { status: 200, headers });
      }
    }
    throw error;
  }
}

// The app asks to forget the cached data (log out): another account must not see it.
self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'forget-data') event.waitUntil(caches.delete(DATA));
});

self.addEventListener('push', (event) => {
  let reminder = {};
  try {
    reminder = event.data ? event.data.json() : {};
  } catch {
    reminder = { title: event.data ? event.data.text() : 'Reminder' };
  }
  const title = reminder.title || 'Reminder';
  event.waitUntil(
    self.registration.showNotification(title, {
      body: reminder.body || '',
      tag: reminder.reminderId || undefined,
      renotify: Boolean(reminder.reminderId),
      requireInteraction: true,
      data: { taskId: reminder.taskId || null, reminderId: reminder.reminderId || null },
      actions: [
        { action: 'complete', title: 'Complete' },
        { action: 'snooze', title: 'Snooze 10 min' },
      ],
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  const notification = event.notification;
  const { taskId, reminderId } = notification.data || {};
  notification.close();
  const action = event.action === 'complete' || event.action === 'snooze' ? event.action : 'open';
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const message = { type: 'notification-action', action, taskId, reminderId };
      if (windows.length > 0) {
        windows[0].postMessage(message);
        await windows[0].focus();
        return;
      }
      // No window: open the app, which carries the action out once signed in.
      const params = new URLSearchParams({ 'notification-action': action, task: taskId || '', reminder: reminderId || '' });
      await self.clients.openWindow(`/?${params}`);
    })(),
  );
});
