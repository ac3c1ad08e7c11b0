// Browser end-to-end: the built web app served by a real `taskstream up`, driven in Debian's
// headless Chromium through playwright-core. Scenarios share one server and run in order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gql, setup, shot, startServer, stopServer } from './harness.mjs';

const EMAIL = `e2e-${Date.now()}@example.test`;
const PASSWORD = 'correct horse 42';
const USER_TZ = 'Europe/Berlin';
// The browser runs in another zone: dates must follow the account's zone, not the browser's.
const BROWSER_TZ = 'America/New_York';

let env;
let ctx; // main browser context
let page;
let token;
let recurringId;
const pageErrors = [];

async function newContext(viewport = { width: 1280, height: 860 }) {
  const c = await env.browser.newContext({ viewport, timezoneId: BROWSER_TZ, locale: 'en-GB' });
  c.setDefaultTimeout(15_000);
  return c;
}

function watch(p) {
  p.on('pageerror', (e) => pageErrors.push(String(e)));
  p.on('console', (m) => {
    // A Content-Security-Policy violation is always an error, whatever it blocked.
    if (/Content Security Policy/.test(m.text())) pageErrors.push(m.text());
    else if (m.type() === 'error' && !/Failed to load resource|WebSocket/.test(m.text())) pageErrors.push(m.text());
  });
  return p;
}

async function tokenOf(p) {
  return p.evaluate(() => localStorage.getItem('taskstream.token'));
}

async function logIn(p, email, password) {
  await p.goto(env.baseUrl);
  await p.getByLabel('Email').fill(email);
  await p.getByLabel('Password', { exact: true }).fill(password);
  await p.getByRole('button', { name: 'Log in', exact: true }).click();
  await p.getByRole('heading', { name: 'Tasks', level: 1 }).waitFor();
}

async function taskCount(p) {
  const text = await p.getByTestId('task-count').textContent();
  const m = /^(\d+) tasks?/.exec(text ?? '');
  return m ? Number(m[1]) : null;
}

async function waitForCount(p, n) {
  try {
    await p.waitForFunction(
      (expected) => new RegExp(`^${expected} tasks?\\b`).test(document.querySelector('[data-testid=task-count]')?.textContent ?? ''),
      n,
    );
  } catch (e) {
    throw new Error(`expected ${n} tasks, the page says “${await p.getByTestId('task-count').textContent()}”: ${e.message}`);
  }
}

describe('Taskstream web app in Chromium', { timeout: 600_000 }, () => {
  before(async () => {
    env = await setup();
    ctx = await newContext();
    page = watch(await ctx.newPage());
  }, { timeout: 240_000 });

  after(async () => {
    await env?.teardown();
  }, { timeout: 60_000 });

  it('signs up', async () => {
    const response = await page.goto(env.baseUrl);
    // The app runs under its Content-Security-Policy (any violation fails the last test).
    const policy = response.headers()['content-security-policy'] ?? '';
    assert.match(policy, /script-src 'self'(;|$)/);
    assert.match(policy, /frame-ancestors 'none'/);
    assert.equal(response.headers()['x-content-type-options'], 'nosniff');
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await shot(page, '01-login');
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Create your account' }).waitFor();
    // Client-side validation names the field.
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText('Enter an email address like name@example.com.').waitFor();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Time zone').selectOption(USER_TZ);
    await shot(page, '02-signup');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Tasks', level: 1 }).waitFor();
    await page.getByText('No tasks yet.').waitFor();
    token = await tokenOf(page);
    assert.ok(token, 'token stored in localStorage');
    const me = await gql(env.baseUrl, '{ me { email timezone } }', {}, token);
    assert.equal(me.me.timezone, USER_TZ);
    await shot(page, '03-empty-list');
  });

  it('shows the server’s field error for an invalid title', async () => {
    await page.getByRole('link', { name: /New task/ }).first().click();
    const title = page.getByLabel('Title');
    await title.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('id')), await title.getAttribute('id'), 'title is focused');
    await title.fill('x'.repeat(501));
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.getByText('Keep the title to 500 characters or fewer.').waitFor();
    assert.equal(await title.getAttribute('aria-invalid'), 'true');
  });

  it('creates a recurring task with a reminder', async () => {
    await page.getByLabel('Title').fill('Water the plants');
    await page.getByLabel('Notes').fill('Balcony and kitchen, not the cactus.');
    await page.getByLabel('Priority').selectOption('HIGH');
    const tagBox = page.getByLabel('Add a tag');
    await tagBox.fill('home');
    await tagBox.press('Enter');
    await tagBox.fill('garden');
    await tagBox.press('Enter');
    // Monday 7 January 2030, 09:00 in Berlin = 08:00 UTC, whatever the browser's zone.
    await page.getByLabel('Due', { exact: true }).fill('2030-01-07T09:00');
    await page.getByLabel('Repeat this task').check();
    await page.getByLabel('Repeats').selectOption('WEEKLY');
    await page.locator('.weekday', { hasText: 'Mon' }).click();
    await page.locator('.weekday', { hasText: 'Thu' }).click();
    await page.getByLabel('After').check();
    await page.getByLabel('Number of occurrences').fill('5');
    // Before saving, the server previews the edited rule from the due date, in the account's zone.
    const preview = page.getByTestId('preview-dates');
    await page.waitForFunction(() => {
      const items = [...document.querySelectorAll('[data-testid=preview-dates] li')].map((li) => li.textContent);
      return items.length === 5 && /Thu.*10 Jan.*2030.*09:00/.test(items[1] ?? '');
    });
    assert.match(await preview.locator('li').first().textContent(), /Mon.*7 Jan.*2030.*09:00/);
    assert.match(await preview.locator('li').last().textContent(), /Mon.*21 Jan.*2030.*09:00/);
    // Editing the rule updates the preview (debounced): every 2 weeks.
    await page.getByLabel('Every', { exact: true }).fill('2');
    await page.waitForFunction(() => /Mon.*21 Jan.*2030/.test(document.querySelectorAll('[data-testid=preview-dates] li')[2]?.textContent ?? ''));
    assert.match(await preview.locator('li').nth(1).textContent(), /Thu.*10 Jan.*2030.*09:00/);
    await preview.scrollIntoViewIfNeeded();
    await shot(page, '03b-editor-recurrence-preview', { keepScroll: true });
    await page.getByLabel('Every', { exact: true }).fill('1');
    await page.waitForFunction(() => /Mon.*14 Jan.*2030/.test(document.querySelectorAll('[data-testid=preview-dates] li')[2]?.textContent ?? ''));
    // A rule the server refuses shows its message inline.
    await page.getByLabel('Repeats').selectOption('CUSTOM');
    await page.getByLabel('RRULE').fill('FREQ=DAILY;BYDAY=XX');
    await page.locator('.recurrence-summary .field-error').getByText(/^Repeat rule:/).waitFor();
    await page.getByLabel('Repeats').selectOption('WEEKLY');
    await page.getByLabel('Repeats').selectOption('CUSTOM');
    await page.getByLabel('RRULE').fill('FREQ=WEEKLY;BYDAY=MO,TH;COUNT=5');
    await page.getByLabel('Repeats').selectOption('WEEKLY');
    await page.getByRole('button', { name: /Add reminder/ }).click();
    await page.getByLabel('Reminder 1 amount').fill('30');
    await page.getByRole('checkbox', { name: 'Email' }).check();
    assert.equal(await page.getByTestId('rrule').textContent(), 'FREQ=WEEKLY;BYDAY=MO,TH;COUNT=5');
    await page.getByRole('button', { name: 'Create task' }).click();

    await page.waitForURL(/#\/tasks\/[0-9a-f-]{36}$/);
    recurringId = decodeURIComponent(page.url().split('/').pop());
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    // Next dates come from Recurrence.upcoming: 5 occurrences, this is the first.
    await page.getByTestId('upcoming').waitFor();
    assert.equal(await page.getByTestId('upcoming').locator('li').count(), 4);
    assert.match(await page.getByTestId('upcoming').locator('li').first().textContent(), /Thu.*10 Jan.*2030.*09:00/);
    assert.equal(await page.getByLabel('Due', { exact: true }).inputValue(), '2030-01-07T09:00');
    await page.locator('.task-row', { hasText: 'Water the plants' }).waitFor();
    await shot(page, '04-editor-recurring');
    await page.locator('.editor-pane').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await shot(page, '04b-editor-recurring-bottom');

    const { task } = await gql(
      env.baseUrl,
      'query($id: ID!) { task(id: $id) { title priority dueAt tags { name } recurrence { rule repeatFrom timezone } reminders { beforeDue channels state } } }',
      { id: recurringId },
      token,
    );
    assert.equal(task.title, 'Water the plants');
    assert.equal(task.priority, 'HIGH');
    assert.equal(Date.parse(task.dueAt), Date.parse('2030-01-07T08:00:00Z'));
    assert.deepEqual(task.tags.map((t) => t.name).sort(), ['garden', 'home']);
    // The server may reorder the rule's parts.
    assert.deepEqual(task.recurrence.rule.split(';').sort(), ['BYDAY=MO,TH', 'COUNT=5', 'FREQ=WEEKLY']);
    assert.equal(task.recurrence.repeatFrom, 'DUE_DATE');
    assert.equal(task.recurrence.timezone, USER_TZ);
    assert.deepEqual(task.reminders, [{ beforeDue: 30, channels: ['IN_APP', 'EMAIL'], state: 'SCHEDULED' }]);
  });

  it('skips an occurrence', async () => {
    await page.getByRole('button', { name: 'Skip this occurrence' }).click();
    await page.waitForFunction(() => document.querySelector('input[type=datetime-local]')?.value === '2030-01-10T09:00');
    await page.getByText(/Skipped: .*7 Jan 2030/).waitFor();
    assert.equal(await page.getByTestId('upcoming').locator('li').count(), 3);
  });

  it('searches (typo-tolerant) and filters', async () => {
    const mk = 'mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }';
    await gql(env.baseUrl, mk, { input: { title: 'Renew passport', priority: 'URGENT', tags: ['admin'] } }, token);
    await gql(env.baseUrl, mk, { input: { title: 'Plan team meeting', notes: 'agenda + room', priority: 'LOW', tags: ['work'] } }, token);
    await page.goto(`${env.baseUrl}/#/tasks`);
    await page.reload(); // live events are not delivered yet: reload to see tasks made through the API
    await waitForCount(page, 3);

    const search = page.getByLabel('Search tasks');
    await search.fill('meetng');
    await waitForCount(page, 1);
    assert.match(await page.getByTestId('task-count').textContent(), /matching “meetng”/);
    await page.locator('.task-row', { hasText: 'Plan team meeting' }).waitFor();
    assert.equal(await page.getByLabel('Sort by').inputValue(), 'RELEVANCE');
    await search.fill('');
    await waitForCount(page, 3);

    await page.getByRole('button', { name: 'High', exact: true }).click();
    await waitForCount(page, 1);
    await page.getByRole('button', { name: 'Urgent', exact: true }).click();
    await waitForCount(page, 2);
    await page.getByRole('button', { name: '#admin' }).click();
    await waitForCount(page, 1);
    await page.locator('.task-row', { hasText: 'Renew passport' }).waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await waitForCount(page, 3);
    await page.getByLabel('Recurring', { exact: true }).selectOption('yes');
    await waitForCount(page, 1);
    await shot(page, '05-list-filtered');
    await page.getByLabel('Recurring', { exact: true }).selectOption('any');
    await waitForCount(page, 3);

    await page.getByLabel('Sort by').selectOption('PRIORITY');
    await page.waitForFunction(() => document.querySelector('.task-row .task-title')?.textContent === 'Renew passport');
    await page.getByRole('button', { name: /Sort direction/ }).click();
    await page.waitForFunction(() => document.querySelector('.task-row .task-title')?.textContent === 'Plan team meeting');
    await page.getByLabel('Sort by').selectOption('TITLE');
    await page.waitForFunction(() => document.querySelector('.task-row .task-title')?.textContent === 'Plan team meeting');
    await shot(page, '06-list-sorted');
  });

  it('completes the task; another browser sees it after reload', async () => {
    const ctx2 = await newContext();
    const page2 = watch(await ctx2.newPage());
    await logIn(page2, EMAIL, PASSWORD);
    await page2.goto(`${env.baseUrl}/#/tasks/${recurringId}`);
    await page2.getByTestId('task-status').filter({ hasText: 'Open' }).waitFor();

    await page.goto(`${env.baseUrl}/#/tasks/${recurringId}`);
    await page.getByRole('button', { name: '✓ Complete' }).click();
    await page.getByTestId('task-status').filter({ hasText: 'Done' }).waitFor();
    await page.getByRole('button', { name: 'Reopen' }).waitFor();
    await page.getByText(/Completed “Water the plants”/).first().waitFor();
    // Default list shows open tasks only; the Done chip shows it.
    await page.getByRole('radio', { name: 'Done' }).click();
    await page.locator('.task-row[data-status=DONE]', { hasText: 'Water the plants' }).waitFor();
    await shot(page, '07-completed');

    const { task } = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { status completedAt } }', { id: recurringId }, token);
    assert.equal(task.status, 'DONE');
    assert.ok(task.completedAt);

    await page2.reload();
    await page2.getByTestId('task-status').filter({ hasText: 'Done' }).waitFor();
    await ctx2.close();
    await page.getByRole('radio', { name: 'Open' }).click();
  });

  it('completes a recurring task and the next instance appears live', async () => {
    const TITLE = 'Weekly review';
    // Monday 4 March 2030, 09:00 in Berlin (08:00 UTC); weekly, so the next one is 11 March.
    const { createTask } = await gql(
      env.baseUrl,
      'mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }',
      { input: { title: TITLE, dueAt: '2030-03-04T08:00:00Z', recurrence: { rule: 'FREQ=WEEKLY' } } },
      token,
    );
    const firstId = createTask.id;
    const rowOf = (p, status, notId = null) =>
      p.locator(`.task-row[data-status=${status}]${notId ? `:not([data-task-id="${notId}"])` : ''}`, { hasText: TITLE });

    const ctx2 = await newContext();
    const page2 = watch(await ctx2.newPage());
    await logIn(page2, EMAIL, PASSWORD);
    await page2.getByRole('radio', { name: 'Open' }).click();
    await rowOf(page2, 'OPEN').waitFor();

    await page.goto(`${env.baseUrl}/#/tasks`);
    await page.getByRole('radio', { name: 'Open' }).click();
    await rowOf(page, 'OPEN').waitFor();
    const urlBefore = page.url();
    // Anything that reloads the page would clear this marker.
    await page.evaluate(() => (window.__noReload = true));
    await page2.evaluate(() => (window.__noReload = true));

    await page.getByRole('checkbox', { name: `Complete “${TITLE}”` }).click();
    await page.getByText(`Completed “${TITLE}”`).first().waitFor();

    // The recurrence service creates the next instance; taskEvents brings it to both browsers.
    const next = rowOf(page, 'OPEN', firstId);
    await next.waitFor({ timeout: 10_000 });
    await page.locator(`.task-row[data-task-id="${firstId}"]`).waitFor({ state: 'detached' });
    assert.match(await next.locator('.due').getAttribute('title'), /Mon.*11 Mar.*2030.*09:00/);
    const nextId = await next.getAttribute('data-task-id');
    const next2 = page2.locator(`.task-row[data-task-id="${nextId}"][data-status=OPEN]`, { hasText: TITLE });
    await next2.waitFor({ timeout: 10_000 });
    await page2.locator(`.task-row[data-task-id="${firstId}"]`).waitFor({ state: 'detached' });
    assert.match(await next2.locator('.due').getAttribute('title'), /Mon.*11 Mar.*2030.*09:00/);
    assert.equal(await page.evaluate(() => window.__noReload), true, 'first browser did not reload');
    assert.equal(await page2.evaluate(() => window.__noReload), true, 'second browser did not reload');
    assert.equal(page.url(), urlBefore);
    await page.mouse.move(1000, 700); // no hover highlight in the picture
    await shot(page, '15-recurring-next-instance');

    const { task } = await gql(
      env.baseUrl,
      'query($id: ID!) { task(id: $id) { title status dueAt recurrence { rule } } }',
      { id: nextId },
      token,
    );
    assert.equal(task.title, TITLE);
    assert.equal(task.status, 'OPEN');
    assert.equal(Date.parse(task.dueAt), Date.parse('2030-03-11T08:00:00Z'));
    assert.equal(task.recurrence.rule, 'FREQ=WEEKLY');
    const { task: first } = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { status } }', { id: firstId }, token);
    assert.equal(first.status, 'DONE');
    await ctx2.close();
  });

  it('reports a concurrent edit as a conflict', async () => {
    const { createTask } = await gql(
      env.baseUrl,
      'mutation { createTask(input: { title: "Shared shopping list" }) { id } }',
      {},
      token,
    );
    const ctx2 = await newContext();
    const page2 = watch(await ctx2.newPage());
    await logIn(page2, EMAIL, PASSWORD);
    await page2.goto(`${env.baseUrl}/#/tasks/${createTask.id}`);
    await page2.getByLabel('Title').waitFor();

    // The second browser starts editing first; a clean editor would simply reload live.
    await page2.getByLabel('Notes').fill('eggs');

    await page.goto(`${env.baseUrl}/#/tasks/${createTask.id}`);
    await page.getByLabel('Title').fill('Shared shopping list (milk)');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved', { exact: true }).waitFor();

    // The other browser's change arrives live while this one has unsaved edits.
    await page2.getByText('This task was changed elsewhere while you were editing (now version 2).').waitFor();
    await page2.getByRole('button', { name: 'Save changes' }).click();
    await page2.getByRole('alert').filter({ hasText: 'Someone changed this task after you opened it' }).waitFor();
    await shot(page2, '08-conflict');
    await page2.getByRole('button', { name: 'Save mine anyway' }).click();
    await page2.getByText('Saved', { exact: true }).waitFor();
    const { task } = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { title notes version } }', { id: createTask.id }, token);
    assert.deepEqual(task, { title: 'Shared shopping list (milk)', notes: 'eggs', version: 3 });
    await ctx2.close();
  });

  it('loads more tasks by cursor while scrolling', async () => {
    const mk = 'mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }';
    for (let i = 1; i <= 60; i++) {
      await gql(env.baseUrl, mk, { input: { title: `Bulk item ${String(i).padStart(2, '0')}`, tags: ['bulk'] } }, token);
    }
    await page.goto(`${env.baseUrl}/#/tasks`);
    await page.reload();
    await page.getByLabel('Search tasks').fill('bulk item');
    await waitForCount(page, 60);
    await page.waitForFunction(() => document.querySelectorAll('.task-row').length === 50);
    await page.locator('.task-row').last().scrollIntoViewIfNeeded();
    await page.mouse.wheel(0, 5000);
    await page.waitForFunction(() => document.querySelectorAll('.task-row').length === 60);
    const titles = await page.locator('.task-row .task-title').allTextContents();
    assert.equal(new Set(titles).size, 60, 'no task repeated across pages');
    await page.getByLabel('Search tasks').fill('');
  });

  it('registers, shows the secret once, and deletes a webhook', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    const url = page.getByLabel('Webhook URL');
    await url.fill('ftp://example.test/hook');
    await page.getByRole('button', { name: 'Register webhook' }).click();
    await page.getByText('Enter an http:// or https:// URL.').waitFor();
    await url.fill(`http://127.0.0.1:${env.port}/hook-sink`);
    await page.getByRole('button', { name: 'Register webhook' }).click();
    const secretBox = page.getByTestId('webhook-secret');
    await secretBox.waitFor();
    const secret = (await secretBox.locator('code.secret').textContent()).trim();
    assert.ok(secret.length >= 16, 'secret shown');
    await page.getByRole('list', { name: 'Registered webhooks' }).getByText(`/hook-sink`).waitFor();
    await page.getByRole('button', { name: 'Verify audit chain' }).click();
    await page.getByTestId('audit-verify-result').getByText(/Chain intact/).waitFor();
    await shot(page, '09-settings-webhook');
    await page.getByRole('button', { name: 'I’ve saved it' }).click();
    assert.equal(await page.getByText(secret).count(), 0, 'secret is not shown again');
    await page.getByRole('button', { name: /Delete webhook/ }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await page.getByText('No webhooks registered.').waitFor();
    const { webhooks } = await gql(env.baseUrl, '{ webhooks { id } }', {}, token);
    assert.equal(webhooks.length, 0);
  });

  it('renames a tag', async () => {
    await page.getByRole('button', { name: 'Rename tag garden' }).click();
    await page.getByLabel('New name for #garden').fill('plants');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('#plants').first().waitFor();
    const { tags } = await gql(env.baseUrl, '{ tags { name } }', {}, token);
    assert.ok(tags.some((t) => t.name === 'plants'));
  });

  it('changes the time zone in Settings; it sticks after a reload', async () => {
    const zone = page.getByLabel('Time zone', { exact: true });
    assert.equal(await zone.inputValue(), USER_TZ);
    await zone.selectOption('Asia/Tokyo');
    await page.getByRole('button', { name: 'Save time zone' }).click();
    await page.getByTestId('timezone-saved').getByText('Saved: times are now shown in Asia/Tokyo.').waitFor();
    await shot(page, '09b-settings-timezone');
    assert.equal((await gql(env.baseUrl, '{ me { timezone } }', {}, token)).me.timezone, 'Asia/Tokyo');
    await page.reload();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    assert.equal(await page.getByLabel('Time zone', { exact: true }).inputValue(), 'Asia/Tokyo');
    // Times follow the new zone: the recurring task's due date reads in Tokyo.
    const { task } = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { dueAt } }', { id: recurringId }, token);
    const tokyo = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
      .format(new Date(task.dueAt))
      .replace(' ', 'T');
    await page.goto(`${env.baseUrl}#/tasks/${recurringId}`);
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    await page.getByText('Time zone: Asia/Tokyo').waitFor();
    assert.equal(await page.getByLabel('Due', { exact: true }).inputValue(), tokyo);
    // Back to Berlin for the scenarios that follow.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Time zone', { exact: true }).selectOption(USER_TZ);
    await page.getByRole('button', { name: 'Save time zone' }).click();
    await page.getByTestId('timezone-saved').waitFor();
    assert.equal((await gql(env.baseUrl, '{ me { timezone } }', {}, token)).me.timezone, USER_TZ);
  });

  it('logs out and back in', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    assert.equal(await tokenOf(page), null);
    // The server revoked the token too: a copy of it no longer works.
    await assert.rejects(gql(env.baseUrl, '{ me { id } }', {}, token), /UNAUTHENTICATED/);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill('wrong password');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'That email and password do not match an account.' }).waitFor();
    await shot(page, '10-login-error');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    // Back where we were (a deep link survives logging in).
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    // Filters and sort are per session: logging out reset them to open tasks by due date.
    assert.equal(await page.getByLabel('Sort by').inputValue(), 'DEFAULT');
    await page.locator('.task-row', { hasText: 'Renew passport' }).waitFor();
    token = await tokenOf(page);
  });

  it('fits a 375px wide phone screen', async () => {
    const phone = await newContext({ width: 375, height: 812 });
    const p = watch(await phone.newPage());
    await logIn(p, EMAIL, PASSWORD);
    await p.locator('.task-row').first().waitFor();
    const overflow = () => p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok((await overflow()) <= 0, 'list has no horizontal scroll');
    await shot(p, '11-mobile-list');
    await p.getByRole('button', { name: /^Filters/ }).click();
    await p.getByRole('radio', { name: 'All' }).click();
    // Completing it made the recurrence service add the next instance: open the completed one.
    await p.locator(`.task-row[data-task-id="${recurringId}"]`).getByRole('link').click();
    await p.getByRole('heading', { name: 'Edit task' }).waitFor();
    assert.ok((await overflow()) <= 0, 'editor has no horizontal scroll');
    await shot(p, '12-mobile-editor', { fullPage: true });
    await p.getByRole('button', { name: 'Notifications' }).click();
    await p.getByRole('heading', { name: 'Notifications' }).waitFor();
    await p.getByText('You’re all caught up').waitFor();
    const box = await p.getByRole('region', { name: 'Notifications' }).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `notifications panel fits the screen: ${JSON.stringify(box)}`);
    await shot(p, '13-mobile-notifications');
    await p.keyboard.press('Escape');
    await phone.close();
  });

  it('a reminder arrives in the notifications panel', async () => {
    const TITLE = 'Call the dentist';
    await page.goto(`${env.baseUrl}/#/tasks`);
    await page.locator('.task-row').first().waitFor();
    const bell = page.getByRole('button', { name: /^Notifications/ });
    const badge = page.getByTestId('unread-badge');
    const before = (await badge.count()) ? Number(await badge.textContent()) : 0;
    await page.evaluate(() => (window.__noReload = true));

    const remindAt = new Date(Date.now() + 2_000).toISOString();
    await gql(
      env.baseUrl,
      'mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }',
      { input: { title: TITLE, dueAt: new Date(Date.now() + 3_600_000).toISOString(), reminders: [{ remindAt, channels: ['IN_APP'] }] } },
      token,
    );

    // Pushed on the notifications subscription: the badge counts it without a reload.
    await page.waitForFunction(
      (n) => document.querySelector('[data-testid=unread-badge]')?.textContent === String(n),
      before + 1,
      { timeout: 20_000 },
    );
    assert.equal(await bell.getAttribute('aria-label'), `Notifications, ${before + 1} unread`);
    await bell.click();
    const panel = page.getByRole('region', { name: 'Notifications' });
    await panel.getByRole('heading', { name: 'Notifications' }).waitFor();
    const item = panel.locator('.notification-list li.unread', { hasText: TITLE });
    await item.waitFor();
    assert.equal((await item.locator('.n-title').textContent()).trim(), TITLE);
    // The server writes the due time in UTC; the panel shows it in the account's zone.
    const body = await item.locator('.n-body').textContent();
    assert.match(body, /^Due at /);
    assert.doesNotMatch(body, /UTC/);
    await shot(page, '16-reminder-notification');

    await item.getByRole('button', { name: 'Mark as read' }).click();
    await panel.locator('.notification-list li.read', { hasText: TITLE }).waitFor();
    if (before === 0) await badge.waitFor({ state: 'detached' });
    else await page.waitForFunction((n) => document.querySelector('[data-testid=unread-badge]')?.textContent === String(n), before);
    assert.equal(await page.evaluate(() => window.__noReload), true, 'the page did not reload');
    const { notifications } = await gql(env.baseUrl, '{ notifications(unreadOnly: true) { totalCount } }', {}, token);
    assert.equal(notifications.totalCount, before);
    await page.keyboard.press('Escape');
  });

  it('shows “reconnecting…” when the server goes away and recovers', async () => {
    await page.goto(`${env.baseUrl}/#/tasks`);
    await page.locator('.task-row').first().waitFor();
    await page.getByTestId('connection-banner').waitFor({ state: 'detached' });
    await stopServer(env.server.child);
    await page.getByText('Live updates paused — reconnecting…').waitFor({ timeout: 30_000 });
    await shot(page, '14-reconnecting');
    env.server = await startServer({ port: env.port, dataDir: env.dataDir });
    await page.getByText('Back online — list refreshed.').waitFor({ timeout: 60_000 });
    await page.getByText('Live updates paused — reconnecting…').waitFor({ state: 'detached' });
    // The token survived the restart.
    await page.locator('.task-row').first().waitFor();
  });

  it('raised no uncaught page errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
