// Browser tests for the installable app (issue 17): the service worker's offline shell (a
// reload offline shows the app and its last data, read-only, under an "offline" banner), and
// Web Push reaching the service worker. Chromium here cannot reach a real push service, so the
// push is delivered to the registered worker through CDP (ServiceWorker.deliverPushMessage),
// the path a push service's message takes inside the browser; the server's side of Web Push
// (encryption, VAPID) is tested against a real endpoint in tests/e2e/test_web_push.py.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { axe, gql, setup, shot } from './harness.mjs';

const PASSWORD = 'correct horse 42';
let env;
const pageErrors = [];

async function account(tag) {
  const email = `offline-${tag}-${Date.now()}@example.test`;
  const data = await gql(
    env.baseUrl,
    'mutation($e: String!, $p: String!) { signUp(email: $e, password: $p, timezone: "Europe/Berlin") { token } }',
    { e: email, p: PASSWORD },
  );
  return data.signUp.token;
}

async function create(token, input) {
  const d = await gql(env.baseUrl, 'mutation($i: CreateTaskInput!) { createTask(input: $i) { id title reminders { id } } }', { i: input }, token);
  return d.createTask;
}

/** A logged-in page whose service worker is installed and controls it. */
async function openControlled(token, { permissions = [], colorScheme = 'light' } = {}) {
  // bypassCSP: axe-core is injected into the page (the app itself runs under its policy elsewhere).
  const ctx = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', colorScheme, bypassCSP: true });
  ctx.setDefaultTimeout(15_000);
  if (permissions.length) await ctx.grantPermissions(permissions, { origin: env.baseUrl });
  await ctx.addInitScript((t) => localStorage.setItem('taskstream.token', t), token);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${env.baseUrl}/#/tasks`);
  await page.locator('main#main').waitFor();
  // A controller implies an active, ready worker; waiting on it (not on the `ready` promise,
  // which never settles when registration fails) keeps a broken worker a failure, not a hang.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  return { ctx, page };
}

describe('installable app', () => {
  before(async () => {
    env = await setup();
  });
  after(async () => {
    await env?.teardown();
    assert.deepEqual(pageErrors, []);
  });

  it('serves a manifest and a service worker', async () => {
    const manifest = await (await fetch(`${env.baseUrl}/manifest.webmanifest`)).json();
    assert.equal(manifest.name, 'Taskstream');
    assert.equal(manifest.display, 'standalone');
    const sw = await fetch(`${env.baseUrl}/sw.js`);
    assert.equal(sw.status, 200);
    assert.match(sw.headers.get('content-type') ?? '', /javascript/);
  });

  it('reloaded offline, shows the app and its last data read-only under an offline banner', async () => {
    const token = await account('shell');
    await create(token, { title: 'Buy oat milk' });
    const { ctx, page } = await openControlled(token);
    // Online once under the worker: it keeps the shell and this data.
    await page.reload();
    await page.getByText('Buy oat milk').waitFor();
    await ctx.setOffline(true);
    await page.reload();
    await page.locator('main#main').waitFor();
    await page.getByText('Buy oat milk').waitFor();
    const banner = page.getByTestId('offline-banner');
    await banner.waitFor();
    assert.match(await banner.innerText(), /offline.*read-only/i);
    await shot(page, 'offline-reload');
    await axe(page, 'the offline reload');
    // Read-only: a change cannot be made (the worker never answers a mutation from its cache).
    const refused = await page.evaluate(async (t) => {
      try {
        await fetch('/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` },
          body: JSON.stringify({ query: 'mutation { createTask(input: {title: "x"}) { id } }' }),
        });
        return false;
      } catch {
        return true;
      }
    }, token);
    assert.equal(refused, true);
    // And the app says why when one is tried.
    await page.getByRole('checkbox', { name: 'Complete “Buy oat milk”' }).click();
    await page.getByText('You’re offline, so nothing was changed. Try again once you’re back online.').first().waitFor();
    await shot(page, 'offline-change-refused');
    await ctx.setOffline(false);
    await banner.waitFor({ state: 'detached' });
    const tasks = await gql(env.baseUrl, '{ tasks(first: 10) { totalCount } }', {}, token);
    assert.equal(tasks.tasks.totalCount, 1);
    await ctx.close();
  });

  it('shows a pushed reminder as a notification with Complete and Snooze', async () => {
    const token = await account('push');
    const { ctx, page } = await openControlled(token, { permissions: ['notifications'] });
    const cdp = await ctx.newCDPSession(page);
    const registrations = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
    await cdp.send('ServiceWorker.enable');
    const deadline = Date.now() + 10_000;
    const ours = () => registrations.filter((r) => r.scopeURL.startsWith(env.baseUrl) && !r.isDeleted).at(-1);
    while (!ours() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const registration = ours();
    assert.ok(registration, 'the service worker is registered');
    const reminder = { type: 'reminder', title: 'Water the plants', body: 'Due at 2026-12-05 09:00 UTC', taskId: 't-1', reminderId: 'r-1' };
    const deliver = () =>
      cdp.send('ServiceWorker.deliverPushMessage', {
        origin: new URL(env.baseUrl).origin,
        registrationId: registration.registrationId,
        data: JSON.stringify(reminder),
      });
    // Polled here: waitForFunction would take the async predicate's promise itself as truthy.
    const notifications = () =>
      page.evaluate(async () => {
        const found = (await (await navigator.serviceWorker.getRegistration())?.getNotifications()) ?? [];
        return found.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data, actions: n.actions.map((a) => a.action) }));
      });
    // Once in CI, on a loaded machine, a push delivered through CDP showed no notification within
    // 10 s (the cause was not found; it never happened here in repeated runs). A push service
    // redelivers, so the test delivers again; the reminder's tag makes a second delivery replace
    // the first rather than add one, and a failure now prints what the browser had.
    let shown = [];
    for (const until = Date.now() + 15_000; shown.length === 0 && Date.now() < until; ) {
      await deliver();
      for (const retryAt = Date.now() + 3_000; shown.length === 0 && Date.now() < retryAt; shown = await notifications()) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (shown.length === 0) {
      const state = await page.evaluate(async () => {
        const r = await navigator.serviceWorker.getRegistration();
        return { permission: Notification.permission, active: r?.active?.state ?? null, scope: r?.scope ?? null };
      });
      assert.fail(`no notification after delivering the push: ${JSON.stringify({ state, registrations })}`);
    }
    assert.deepEqual(shown, [
      { title: 'Water the plants', body: 'Due at 2026-12-05 09:00 UTC', tag: 'r-1', data: { taskId: 't-1', reminderId: 'r-1' }, actions: ['complete', 'snooze'] },
    ]);
    await ctx.close();
  });

  it('carries out a notification’s Complete in the window the service worker opens', async () => {
    const token = await account('action');
    const task = await create(token, { title: 'Call the plumber' });
    const { ctx, page } = await openControlled(token);
    await page.goto(`${env.baseUrl}/?notification-action=complete&task=${task.id}#/tasks`);
    await page.getByText('Completed “Call the plumber”').waitFor();
    const d = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { status } }', { id: task.id }, token);
    assert.equal(d.task.status, 'DONE');
    assert.equal(new URL(page.url()).search, '');
    await ctx.close();
  });

  it('offers push in the settings with the server’s VAPID key', async () => {
    const token = await account('settings');
    const setupData = await gql(env.baseUrl, '{ pushSetup { publicKey subscriptions { id } } }', {}, token);
    assert.match(setupData.pushSetup.publicKey, /^[A-Za-z0-9_-]{87}$/);
    const { ctx, page } = await openControlled(token);
    await page.goto(`${env.baseUrl}/#/settings`);
    await page.getByRole('heading', { name: 'Browser push' }).waitFor();
    const toggle = page.getByLabel('Push reminders to this browser');
    await toggle.waitFor();
    assert.equal(await toggle.isChecked(), false);
    await shot(page, 'settings-push');
    await axe(page, 'settings with browser push (light)');
    await ctx.close();
  });
});
