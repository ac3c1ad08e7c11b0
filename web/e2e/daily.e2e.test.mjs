// Browser tests for everyday use (issue 17): quick add (a 30+ phrase table through the real
// field and server), keyboard shortcuts and focus, undo, the tag field, drafts, reconnect after
// a 1011 close, coalesced refetches, dark mode with axe-core in both themes, phone touch targets.
// TASKSTREAM_SCREENSHOTS=docs writes the screenshots to docs/screenshots/ (`npm run screenshots`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gql, setup, webDir } from './harness.mjs';
import { axe, createTask, DESKTOP, openApp as open, PHONE, shot, signUp } from './lib/app.mjs';

const TABLE = JSON.parse(readFileSync(path.join(webDir, 'src', 'test', 'quick-add-table.json'), 'utf8'));
const TZ = TABLE.timezone;

let env;
const pageErrors = [];

/** A new account's token (its zone: the quick-add table's); the browser runs in New York. */
const account = async (tag) => (await signUp(env, { tag, name: 'daily', timezone: TZ })).token;
const openApp = (token, opts = {}) => open(env, token, { pageErrors, timezoneId: 'America/New_York', hash: '#/tasks', bypassCSP: false, ...opts });
const create = (token, input) => createTask(env, token, input);

const activeInfo = (page) =>
  page.evaluate(() => {
    const a = document.activeElement;
    return {
      tag: a?.tagName ?? null,
      label: a?.getAttribute('aria-label') ?? null,
      text: a?.textContent ?? null,
      row: a?.closest('li[data-task-id]')?.getAttribute('data-task-id') ?? null,
      body: a === document.body,
    };
  });

async function statusOf(token, id) {
  const d = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { status } }', { id }, token);
  return d.task.status;
}

const ruleParts = (rule) => (rule ? rule.split(';').filter(Boolean).sort() : null);

describe('Everyday use in Chromium', { timeout: 900_000 }, () => {
  before(async () => {
    env = await setup();
  }, { timeout: 240_000 });

  after(async () => {
    await env?.teardown();
  }, { timeout: 60_000 });

  it(`quick add: ${TABLE.rows.length} phrases become the expected tasks`, async () => {
    assert.ok(TABLE.rows.length >= 30);
    const token = await account('qa');
    // The table's "now" (Friday 10:00 in Berlin); the browser itself runs in New York.
    const page = await openApp(token, { fixedNow: TABLE.now });
    const field = page.getByRole('textbox', { name: 'Quick add' });
    for (const row of TABLE.rows) {
      await field.fill(row.phrase);
      const summary = page.getByTestId('quick-add-summary');
      const understood = row.dueAt || row.rule || row.tags.length || row.priority !== 'NONE';
      if (understood) {
        await summary.waitFor();
        // What it understood is marked in the text before saving.
        const marked = await page.locator('.quick-add-preview mark').allTextContents();
        for (const tag of row.tags) assert.ok(marked.includes(`#${tag}`), `${row.phrase}: #${tag} marked (${marked})`);
        if (row.title) assert.equal(await summary.locator('strong').textContent(), row.title, row.phrase);
      } else {
        assert.equal(await page.locator('.quick-add-preview mark').count(), 0, `${row.phrase}: nothing marked`);
      }
      const created = page.waitForResponse((r) => (r.request().postData() ?? '').includes('mutation CreateTask'));
      await field.press('Enter');
      const body = await (await created).json();
      assert.ok(body.data?.createTask, `${row.phrase}: ${JSON.stringify(body.errors)}`);
      await page.waitForFunction(() => document.querySelector('input[aria-label="Quick add"]')?.value === '');
      const id = body.data.createTask.id;
      const { task } = await gql(
        env.baseUrl,
        'query($id: ID!) { task(id: $id) { title dueAt priority tags { name } recurrence { rule } } }',
        { id },
        token,
      );
      assert.equal(task.title, row.title, row.phrase);
      assert.equal(task.priority, row.priority, row.phrase);
      assert.deepEqual(task.tags.map((t) => t.name).sort(), [...row.tags].sort(), row.phrase);
      if (row.dueAt === null) assert.equal(task.dueAt, null, row.phrase);
      else assert.equal(Date.parse(task.dueAt), Date.parse(row.dueAt), `${row.phrase}: due ${task.dueAt}, expected ${row.dueAt}`);
      assert.deepEqual(ruleParts(task.recurrence?.rule ?? null), ruleParts(row.rule), row.phrase);
    }
    // Highlight kinds for one phrase, and what the list then says.
    await field.fill('Standup every weekday at 9 #team p2');
    assert.deepEqual(
      await page.locator('.quick-add-preview mark').evaluateAll((ms) => ms.map((m) => [m.dataset.kind, m.textContent])),
      [
        ['repeat', 'every weekday at 9'],
        ['tag', '#team'],
        ['priority', 'p2'],
      ],
    );
    await shot(page, 'quick-add-desktop-light');
    await field.press('Enter');
    const row = page.locator('.task-row', { hasText: 'Standup' }).filter({ hasText: '#team' });
    await row.getByTestId('recurrence-text').filter({ hasText: 'every weekday at 09:00' }).waitFor();
    // Bad input: nothing but a date is refused with a message, nothing created.
    await field.fill('tomorrow #home');
    await field.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'Type what the task is' }).waitFor();
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    await page.context().close();
  });

  it('keyboard: q, /, ?, j/k, x with undo by Ctrl+Z, e, Esc, Delete; focus is never lost', async () => {
    const token = await account('keys');
    const ids = [];
    for (const title of ['Alpha', 'Bravo', 'Charlie', 'Delta']) ids.push((await create(token, { title })).id);
    const page = await openApp(token, { hash: '#/settings' });
    // q from another screen goes to the list and focuses Quick add.
    await page.keyboard.press('q');
    await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Quick add');
    await page.keyboard.press('Escape'); // leaves the field
    await page.keyboard.press('/');
    assert.equal((await activeInfo(page)).tag, 'INPUT');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('type')), 'search');
    await page.locator('body').click({ position: { x: 5, y: 300 } });

    // ? lists the shortcuts; Esc closes it and focus comes back.
    await page.keyboard.press('?');
    const dialog = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await dialog.waitFor();
    for (const label of ['Quick add a task', 'Search tasks', 'Next task', 'Complete or reopen the task', 'Delete the task (asks first)']) {
      await dialog.getByText(label).waitFor();
    }
    await shot(page, 'shortcuts-desktop-light');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    // j moves down the list, k up (once the list has loaded: under load it may still be reading).
    await page.locator('.task-row').nth(3).waitFor();
    const titles = await page.locator('.task-row .task-title').allTextContents();
    await page.keyboard.press('j');
    assert.equal((await activeInfo(page)).text, titles[0]);
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    assert.equal((await activeInfo(page)).text, titles[1]);

    // x completes the focused task; the row leaves the open list and focus lands on its neighbour.
    const doneId = (await activeInfo(page)).row;
    await page.keyboard.press('x');
    await page.getByText(`Completed “${titles[1]}”`).waitFor();
    await page.locator(`.task-row[data-task-id="${doneId}"]`).waitFor({ state: 'detached' });
    assert.equal(await statusOf(token, doneId), 'DONE');
    let focus = await activeInfo(page);
    assert.ok(focus.row && focus.row !== doneId, `focus stays in the list (${JSON.stringify(focus)})`);
    // Ctrl+Z reopens it through the API.
    await page.keyboard.press('Control+z');
    await page.locator(`.task-row[data-task-id="${doneId}"]`).waitFor();
    assert.equal(await statusOf(token, doneId), 'OPEN');
    focus = await activeInfo(page);
    assert.ok(!focus.body, 'focus kept after undo');

    // e opens the editor; Esc closes it and focus returns to the row.
    await page.keyboard.press('j');
    const editedId = (await activeInfo(page)).row;
    await page.keyboard.press('e');
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('heading', { name: 'Edit task' }).waitFor({ state: 'detached' });
    await page.waitForFunction((id) => document.activeElement?.closest('li[data-task-id]')?.getAttribute('data-task-id') === id, editedId);

    // Delete asks first; Esc cancels (focus back on the row); confirming deletes.
    await page.keyboard.press('Delete');
    const confirm = page.getByRole('dialog', { name: /^Delete “/ });
    await confirm.waitFor();
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached' });
    await page.waitForFunction((id) => document.activeElement?.closest('li[data-task-id]')?.getAttribute('data-task-id') === id, editedId);
    await page.keyboard.press('#');
    await confirm.waitFor();
    await page.keyboard.press('Enter');
    await page.locator(`.task-row[data-task-id="${editedId}"]`).waitFor({ state: 'detached' });
    await page.waitForFunction(() => !!document.activeElement?.closest('li[data-task-id]'));
    const left = await gql(env.baseUrl, '{ tasks(first: 10) { totalCount } }', {}, token);
    assert.equal(left.tasks.totalCount, 3);
    await page.context().close();
  });

  it('undo from the toast reopens, and another window sees both changes live', async () => {
    const token = await account('undo');
    const { id } = await create(token, { title: 'Undo me' });
    const page = await openApp(token);
    const other = await openApp(token);
    await other.locator(`.task-row[data-task-id="${id}"]`).waitFor();
    await page.getByRole('checkbox', { name: 'Complete “Undo me”' }).check();
    await other.locator(`.task-row[data-task-id="${id}"]`).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Undo' }).click();
    await other.locator(`.task-row[data-task-id="${id}"][data-status=OPEN]`).waitFor();
    assert.equal(await statusOf(token, id), 'OPEN');
    assert.ok(!(await activeInfo(page)).body, 'focus kept after Undo');
    await page.context().close();
    await other.context().close();
  });

  it('a deleted task comes back (same id, its subtask too) by Ctrl+Z or Undo, live in another window', async () => {
    const token = await account('restore');
    const { id, version } = await create(token, { title: 'Bring me back', tags: ['keep'] });
    const sub = await create(token, { title: 'Me too', parentId: id });
    const page = await openApp(token);
    const other = await openApp(token);
    const row = (p) => p.locator(`.task-row[data-task-id="${id}"]`);
    await row(other).waitFor();
    await row(page).locator('.task-title').click();
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await row(other).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Undo' }).waitFor();
    // Out of any text field (where Ctrl+Z undoes typing), then Ctrl+Z.
    await page.locator('body').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('Control+z');
    await row(other).waitFor();
    await row(page).waitFor();
    const back = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { id version tags { name } subtasks { id } } }', { id }, token);
    assert.deepEqual(back.task, { id, version: version + 2, tags: [{ name: 'keep' }], subtasks: [{ id: sub.id }] });

    // From the list: Delete asks, then the toast's Undo button brings it back again.
    await row(page).locator('.task-title').focus();
    await page.keyboard.press('Delete');
    await page.getByRole('dialog', { name: /^Delete “/ }).waitFor();
    await page.keyboard.press('Enter');
    await row(other).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Undo' }).click();
    await row(other).waitFor();
    assert.equal(await statusOf(token, id), 'OPEN');
    await page.context().close();
    await other.context().close();
  });

  it('the tag field keeps "workshop" with a tag "work", Enter after it does not submit; drafts survive closing', async () => {
    const token = await account('tags');
    const { id } = await create(token, { title: 'Plan', tags: ['work'] });
    const page = await openApp(token, { hash: `#/tasks/${id}` });
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    const box = page.getByLabel('Add a tag');
    await box.pressSequentially('workshop');
    assert.equal(await box.inputValue(), 'workshop');
    await box.press('Enter');
    await page.getByRole('button', { name: 'Remove tag workshop' }).waitFor();
    await box.press('Enter'); // must not submit
    await page.getByLabel('Title').fill('Plan the workshop');
    assert.equal((await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { title } }', { id }, token)).task.title, 'Plan');
    // Leave with Esc: the draft is kept and offered back.
    await page.keyboard.press('Escape');
    await page.getByRole('heading', { name: 'Edit task' }).waitFor({ state: 'detached' });
    await page.locator(`.task-row[data-task-id="${id}"] .task-title`).click();
    await page.getByTestId('draft-restored').waitFor();
    assert.equal(await page.getByLabel('Title').inputValue(), 'Plan the workshop');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved', { exact: true }).waitFor();
    const { task } = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { title tags { name } } }', { id }, token);
    assert.equal(task.title, 'Plan the workshop');
    assert.deepEqual(task.tags.map((t) => t.name).sort(), ['work', 'workshop']);
    await page.context().close();
  });

  it('reconnects after the server closes the socket with 1011', async () => {
    const token = await account('ws');
    const ctx = await env.browser.newContext({ viewport: DESKTOP });
    await ctx.addInitScript((t) => localStorage.setItem('taskstream.token', t), token);
    const page = await ctx.newPage();
    // Every socket goes through this route: forwarded both ways, its subscriptions counted.
    const sockets = [];
    const waiters = [];
    const live = (n) =>
      new Promise((resolve) => {
        // Both subscriptions (task events, notifications) sent on socket n.
        const check = () => (sockets[n]?.subscribed >= 2 ? (resolve(), true) : false);
        if (!check()) waiters.push(check);
      });
    const wake = () => waiters.splice(0, waiters.length, ...waiters.filter((w) => !w()));
    await page.routeWebSocket(/\/graphql$/, (ws) => {
      const entry = { ws, subscribed: 0 };
      const server = ws.connectToServer();
      ws.onMessage((m) => {
        server.send(m);
        if (typeof m === 'string' && m.includes('"type":"subscribe"')) entry.subscribed += 1;
        wake();
      });
      server.onMessage((m) => ws.send(m));
      ws.onClose((code, reason) => server.close({ code, reason }));
      server.onClose((code, reason) => ws.close({ code, reason }));
      sockets.push(entry);
      wake();
    });
    // graphql-transport-ws acknowledges no subscription: the server registers one a moment
    // after the client sent it, and a task created before that is not pushed (the CI run at
    // 591f917 lost "Before the drop" so under load). Create until one arrives over the socket.
    const createUntilPushed = async (title) => {
      for (let attempt = 1; ; attempt += 1) {
        const task = await create(token, { title: `${title} ${attempt}` });
        try {
          await page.locator(`.task-row[data-task-id="${task.id}"]`).waitFor({ timeout: 5_000 });
          return task;
        } catch (error) {
          if (attempt === 6) throw error;
        }
      }
    };
    await page.goto(`${env.baseUrl}/#/tasks`);
    await page.getByRole('heading', { name: 'Tasks', level: 1 }).waitFor();
    await live(0);
    await createUntilPushed('Before the drop');
    const reread = page.waitForResponse((r) => (r.request().postData() ?? '').includes('query Tasks('));
    await sockets[0].ws.close({ code: 1011, reason: 'internal error' });
    await page.getByText('Live updates paused — reconnecting…').waitFor();
    await page.getByText('Back online — list refreshed.').waitFor({ timeout: 30_000 });
    await live(1);
    // The list re-read after the reconnect is done: what shows up next came over the socket.
    await reread;
    assert.ok(sockets.length >= 2, 'a new socket was opened');
    await createUntilPushed('After the drop');
    await ctx.close();
  });

  it('a burst of 60 live changes costs a few list reads, not 60', async () => {
    const token = await account('burst');
    const tasks = [];
    for (let i = 0; i < 5; i++) tasks.push(await create(token, { title: `Burst ${i}` }));
    const page = await openApp(token);
    await page.locator('.task-row').nth(4).waitFor();
    let reads = 0;
    page.on('request', (r) => {
      if ((r.postData() ?? '').includes('query Tasks(')) reads += 1;
    });
    const started = Date.now();
    const versions = new Map(tasks.map((t) => [t.id, t.version]));
    for (let i = 0; i < 60; i++) {
      const t = tasks[i % tasks.length];
      const d = await gql(
        env.baseUrl,
        'mutation($id: ID!, $i: UpdateTaskInput!) { updateTask(id: $id, input: $i) { version } }',
        { id: t.id, i: { title: `Burst ${i % tasks.length} v${i}`, expectedVersion: versions.get(t.id) } },
        token,
      );
      versions.set(t.id, d.updateTask.version);
    }
    const seconds = (Date.now() - started) / 1000;
    await page.locator('.task-row', { hasText: 'Burst 4 v59' }).waitFor();
    // Let a trailing refetch (if any) go out before counting.
    await page.waitForLoadState('networkidle');
    // At most one read per second of the burst plus the trailing one (was: one per event).
    const allowed = Math.ceil(seconds) + 2;
    assert.ok(reads >= 1, 'the list was re-read');
    assert.ok(reads <= allowed, `${reads} list reads for 60 changes in ${seconds.toFixed(1)} s (allowed ${allowed})`);
    console.log(`# burst: 60 changes in ${seconds.toFixed(1)} s → ${reads} list reads`);
    await page.context().close();
  });

  for (const theme of ['light', 'dark']) {
    it(`axe-core finds no WCAG 2.2 AA violations in the ${theme} theme; screenshots`, async () => {
      const token = await account(`axe-${theme}`);
      const { id } = await create(token, { title: 'Renew passport', priority: 'HIGH', tags: ['admin'], dueAt: '2027-03-01T09:00:00+01:00' });
      await create(token, { title: 'Standup', dueAt: '2026-12-07T09:00:00+01:00', recurrence: { rule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR' } });
      for (const [vp, name] of [
        [DESKTOP, 'desktop'],
        [PHONE, 'phone'],
      ]) {
        // The system preference picks the theme (no toggle pressed).
        const page = await openApp(token, { viewport: vp, colorScheme: theme, bypassCSP: true, fixedNow: TABLE.now });
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
        await page.locator('.task-row').first().waitFor();
        await axe(page, `list (${theme}, ${name})`);
        await shot(page, `list-${name}-${theme}`);
        await page.getByRole('textbox', { name: 'Quick add' }).fill('Call mum tomorrow 5pm #home p1');
        await page.getByTestId('quick-add-summary').waitFor();
        await axe(page, `quick add (${theme}, ${name})`);
        await shot(page, `quick-add-${name}-${theme}`);
        await page.getByRole('textbox', { name: 'Quick add' }).fill('');
        await page.goto(`${env.baseUrl}/#/tasks/${id}`);
        await page.getByRole('heading', { name: 'Edit task' }).waitFor();
        await axe(page, `editor (${theme}, ${name})`);
        await shot(page, `editor-${name}-${theme}`);
        await page.goto(`${env.baseUrl}/#/tasks`);
        await page.locator('.task-row').first().waitFor();
        await page.keyboard.press('?');
        await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
        await axe(page, `shortcuts (${theme}, ${name})`);
        await shot(page, `shortcuts-${name}-${theme}`);
        await page.keyboard.press('Escape');
        // Search (typo-tolerant) with a filter chip; on a phone the chips fold behind "Filters".
        await page.getByLabel('Search tasks').fill('pasport');
        if (name === 'phone') await page.getByRole('button', { name: 'Filters', exact: true }).click();
        await page.getByRole('button', { name: 'High', exact: true }).click();
        await page.getByTestId('task-count').filter({ hasText: '1 task matching “pasport”' }).waitFor();
        await page.locator('.task-row', { hasText: 'Renew passport' }).waitFor();
        await axe(page, `search and filters (${theme}, ${name})`);
        await shot(page, `search-${name}-${theme}`);
        await page.goto(`${env.baseUrl}/#/settings`);
        await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
        await axe(page, `settings (${theme}, ${name})`);
        if (name === 'phone') {
          await page.goto(`${env.baseUrl}/#/tasks`);
          await page.locator('.task-row').first().waitFor();
          // Every control on the list is at least 44 × 44 px on a phone.
          const small = await page.evaluate(() => {
            const out = [];
            const targets = document.querySelectorAll(
              '.app-header a, .app-header button, .list-pane button, .list-pane .button, .list-pane input:not([type=checkbox]), .list-pane select, .task-check-target',
            );
            for (const el of targets) {
              const r = el.getBoundingClientRect();
              if (r.width === 0 && r.height === 0) continue; // hidden
              if (r.width < 44 - 0.5 || r.height < 44 - 0.5) out.push(`${el.className || el.tagName} “${(el.textContent ?? '').trim().slice(0, 20)}” ${r.width.toFixed(0)}×${r.height.toFixed(0)}`);
            }
            return out;
          });
          assert.deepEqual(small, [], `touch targets under 44 px:\n${small.join('\n')}`);
        }
        await page.context().close();
      }
    });
  }

  it('the theme toggle overrides the system preference and is remembered', async () => {
    const token = await account('toggle');
    const page = await openApp(token, { colorScheme: 'light' });
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    const toggle = page.getByRole('button', { name: 'Dark theme' });
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    await toggle.click();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    await page.reload();
    await page.getByRole('heading', { name: 'Tasks', level: 1 }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.equal(await page.getByRole('button', { name: 'Dark theme' }).getAttribute('aria-pressed'), 'true');
    assert.notEqual(bg, 'rgb(245, 246, 250)', 'the page background changed');
    await page.context().close();
  });

  it('no page errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
