// Browser tests for the installable app (issue 17): the service worker's offline shell (a
// reload offline shows the app and its last data, read-only, under an "offline" banner), and
// Web Push reaching the service worker. Chromium here cannot reach a real push service, so the
// push is delivered to the registered worker through CDP (ServiceWorker.deliverPushMessage),
// the path a push service's message takes inside the browser; the server's side of Web Push
// (encryption, VAPID) is tested against a real endpoint in tests/e2e/test_web_push.py.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gql, setup } from './harness.mjs';
import { axe, controlledByServiceWorker, createTask, DESKTOP, openApp, PHONE, shot, signUp } from './lib/app.mjs';

const OFFLINE_REASON = 'You’re offline: changes can be made again once you’re back online.';
let env;
const pageErrors = [];

const account = async (tag) => (await signUp(env, { tag: `offline-${tag}` })).token;
const create = (token, input) => createTask(env, token, input);

/** A logged-in page whose service worker is installed and controls it. */
async function openControlled(token, opts = {}) {
  const page = await openApp(env, token, { pageErrors, hash: '#/tasks', ...opts });
  // A controller implies an active, ready worker; waiting on it (with a timeout, not on the
  // `ready` promise, which never settles when registration fails) keeps a broken worker a failure, not a hang.
  await controlledByServiceWorker(page);
  return { ctx: page.context(), page };
}

/** Offline after a reload under the worker: the app and its last data, under the banner. */
async function reloadOffline(ctx, page, waitFor) {
  // Online once under the worker: it keeps the shell and this data.
  await page.reload();
  await waitFor.waitFor();
  await ctx.setOffline(true);
  await page.reload();
  await page.locator('main#main').waitFor();
  await waitFor.waitFor();
  await page.getByTestId('offline-banner').waitFor();
}

/** Whether a control is offered but unavailable, saying why (aria-disabled, the reason as its title). */
async function disabledOffline(locator) {
  return { ariaDisabled: await locator.getAttribute('aria-disabled'), title: await locator.getAttribute('title') };
}

describe('installable app', { timeout: 600_000 }, () => {
  before(async () => {
    env = await setup();
  }, { timeout: 240_000 });
  after(async () => {
    await env?.teardown();
    assert.deepEqual(pageErrors, []);
  }, { timeout: 60_000 });

  it('serves a manifest and a service worker', async () => {
    const manifest = await (await fetch(`${env.baseUrl}/manifest.webmanifest`)).json();
    assert.equal(manifest.name, 'Taskstream');
    assert.equal(manifest.display, 'standalone');
    const sw = await fetch(`${env.baseUrl}/sw.js`);
    assert.equal(sw.status, 200);
    assert.match(sw.headers.get('content-type') ?? '', /javascript/);
  });

  it('reloaded offline, shows the app and its last data read-only under an offline banner; what would change something is disabled until back online', async () => {
    const token = await account('shell');
    const task = await create(token, { title: 'Buy oat milk' });
    const { ctx, page } = await openControlled(token);
    const checkbox = page.getByRole('checkbox', { name: 'Complete “Buy oat milk”' });
    await reloadOffline(ctx, page, page.getByText('Buy oat milk'));
    const banner = page.getByTestId('offline-banner');
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

    // The controls that would change something are offered, disabled, and say why.
    const disabled = { ariaDisabled: 'true', title: OFFLINE_REASON };
    assert.deepEqual(await disabledOffline(checkbox), disabled);
    assert.deepEqual(await disabledOffline(page.getByRole('link', { name: 'New task' }).first()), disabled);
    const quickAdd = page.getByRole('textbox', { name: 'Quick add' });
    assert.equal(await quickAdd.getAttribute('aria-disabled'), 'true');
    assert.equal(await quickAdd.getAttribute('readonly'), '');
    assert.match(await quickAdd.evaluate((el) => el.getAttribute('aria-describedby').split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ')), /You’re offline: changes can be made again/);
    // They stay focusable, so the keyboard and a screen reader reach them and hear the reason.
    await checkbox.focus();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Complete “Buy oat milk”');
    // A click (forced past Playwright's own aria-disabled check) changes nothing and sends nothing.
    const mutations = [];
    const onRequest = (r) => {
      if (r.url().endsWith('/graphql') && /mutation/.test(r.postData() ?? '')) mutations.push(r.postData());
    };
    page.on('request', onRequest);
    await checkbox.click({ force: true });
    await page.keyboard.press('Space');
    assert.equal(await checkbox.isChecked(), false);
    // A shortcut that would change something (x: complete) says why instead of acting.
    await page.keyboard.press('x');
    await page.locator('.toast', { hasText: OFFLINE_REASON }).waitFor();
    page.off('request', onRequest);
    assert.deepEqual(mutations, []);

    // Going offline with the editor open disables its Save and Complete at once (no reload).
    await ctx.setOffline(false);
    await banner.waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Buy oat milk' }).click();
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    const complete = page.getByRole('button', { name: '✓ Complete' });
    assert.equal(await complete.getAttribute('aria-disabled'), null);
    await ctx.setOffline(true);
    await banner.waitFor();
    const disabledTitle = page.getByRole('textbox', { name: 'Title' });
    await disabledTitle.fill('Buy oat milk and bread'); // editing the form is fine: only saving waits
    assert.deepEqual(await disabledOffline(page.getByRole('button', { name: 'Save changes' })), disabled);
    assert.deepEqual(await disabledOffline(complete), disabled);
    // Hovering a disabled control does not light it up as if it would act.
    const save = page.getByRole('button', { name: 'Save changes' });
    const background = () => save.evaluate((el) => getComputedStyle(el).backgroundColor);
    await page.mouse.move(0, 0);
    const resting = await background();
    await save.hover({ force: true });
    assert.equal(await background(), resting);
    page.on('request', onRequest);
    await complete.click({ force: true });
    await page.getByRole('button', { name: 'Save changes' }).click({ force: true });
    await disabledTitle.press('Enter');
    await shot(page, 'offline-editor-disabled');
    await axe(page, 'the editor offline');
    page.off('request', onRequest);
    assert.deepEqual(mutations, []);

    // Back online: the banner goes, the controls act again, and the change reaches the server.
    await ctx.setOffline(false);
    await banner.waitFor({ state: 'detached' });
    assert.equal(await complete.getAttribute('aria-disabled'), null);
    assert.equal(await quickAdd.getAttribute('aria-disabled'), null);
    const server = async (want) => {
      for (const until = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
        const d = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { title status } }', { id: task.id }, token);
        if (JSON.stringify(d.task) === JSON.stringify(want)) return;
        assert.ok(Date.now() < until, `the server has ${JSON.stringify(want)} once back online (has ${JSON.stringify(d.task)})`);
      }
    };
    await page.getByRole('button', { name: 'Save changes' }).click();
    await server({ title: 'Buy oat milk and bread', status: 'OPEN' });
    await page.getByRole('button', { name: 'Save changes' }).and(page.locator(':disabled')).waitFor();
    await complete.click();
    await server({ title: 'Buy oat milk and bread', status: 'DONE' });
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
    const { ctx, page } = await openControlled(token, { hash: '#/settings' });
    await page.getByRole('heading', { name: 'Browser push' }).waitFor();
    const toggle = page.getByLabel('Push reminders to this browser');
    await toggle.waitFor();
    assert.equal(await toggle.isChecked(), false);
    await ctx.close();
  });

  for (const theme of ['light', 'dark']) {
    it(`axe-core finds no WCAG 2.2 AA violations on the offline banner and the settings with browser push in the ${theme} theme; screenshots`, async () => {
      const token = await account(`axe-${theme}`);
      await create(token, { title: 'Buy oat milk', priority: 'HIGH', tags: ['shop'] });
      await create(token, { title: 'Call the plumber', dueAt: '2027-03-01T09:00:00+01:00' });
      for (const [viewport, name] of [
        [DESKTOP, 'desktop'],
        [PHONE, 'phone'],
      ]) {
        const { ctx, page } = await openControlled(token, { viewport, colorScheme: theme });
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
        await reloadOffline(ctx, page, page.getByText('Buy oat milk'));
        await axe(page, `offline banner (${theme}, ${name})`);
        await shot(page, `offline-${name}-${theme}`);
        await ctx.setOffline(false);
        await page.getByTestId('offline-banner').waitFor({ state: 'detached' });
        await page.goto(`${env.baseUrl}/#/settings`);
        const push = page.getByRole('heading', { name: 'Browser push' });
        await push.waitFor();
        await page.getByLabel('Push reminders to this browser').waitFor();
        await axe(page, `settings with browser push (${theme}, ${name})`);
        await push.evaluate((el) => el.scrollIntoView({ block: 'center' }));
        await shot(page, `settings-${name}-${theme}`);
        await ctx.close();
      }
    });
  }
});
