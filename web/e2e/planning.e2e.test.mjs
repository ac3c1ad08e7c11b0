// Browser tests for planning a day (issue 17, second part): the calendar (month grid, week
// agenda on phones, next occurrences of repeating tasks, drag and Shift+arrow to move a task,
// undo, live updates), snoozing a fired reminder from the notifications panel, the prompt for a
// reminder already past, the nth-weekday recurrence builder, history in sentences; axe-core in
// both themes.
// TASKSTREAM_SCREENSHOTS=docs writes the screenshots to docs/screenshots/ (`npm run screenshots`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gql, setup } from './harness.mjs';
import { axe, createTask, DESKTOP, openApp as open, PHONE, shot, signUp } from './lib/app.mjs';

const TZ = 'Europe/Berlin';
// Friday 4 December 2026, 10:00 in Berlin, for the browser's clock.
const NOW = '2026-12-04T09:00:00Z';

let env;
const pageErrors = [];

/** A new account's token (in Berlin); the browser runs in New York, its clock fixed at NOW. */
const account = async (tag) => (await signUp(env, { tag, name: 'plan', timezone: TZ })).token;
// `serviceWorkers: 'block'` where a test intercepts /graphql with page.route, which does not
// see what the app's service worker fetches (the worker has tests of its own: offline.e2e).
const openApp = (token, opts = {}) => open(env, token, { pageErrors, timezoneId: 'America/New_York', hash: '#/calendar', bypassCSP: false, fixedNow: NOW, ...opts });
const create = (token, input) => createTask(env, token, input);

async function dueOf(token, id) {
  const d = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { dueAt version } }', { id }, token);
  return d.task;
}

/** Waits until the server has the task due at `expected` (a move is a network round trip). */
async function serverDue(page, token, id, expected) {
  const want = Date.parse(expected);
  for (;;) {
    const task = await dueOf(token, id);
    if (Date.parse(task.dueAt) === want) return task;
    // Wait for the next GraphQL answer the page receives rather than for a fixed time.
    await page.waitForResponse((r) => r.url().endsWith('/graphql'), { timeout: 10_000 });
  }
}

/** "YYYY-MM-DDTHH:mm" and the parts of the Berlin wall clock at `ms`. */
function berlin(ms) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: TZ, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
      .formatToParts(new Date(ms))
      .filter((p) => p.type !== 'literal')
      .map((p) => [p.type, p.value]),
  );
  return { ...parts, local: `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`, date: `${parts.year}-${parts.month}-${parts.day}` };
}

async function remindersOf(token, id) {
  const d = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { reminders { id state remindAt sentAt } } }', { id }, token);
  return d.task.reminders;
}

const cell = (page, day) => page.locator(`[data-day="${day}"]`);

async function plan(token) {
  const dentist = await create(token, { title: 'Dentist', dueAt: '2026-12-08T09:30:00+01:00', priority: 'HIGH' });
  const standup = await create(token, {
    title: 'Standup',
    dueAt: '2026-12-07T09:00:00+01:00',
    recurrence: { rule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR' },
  });
  const rent = await create(token, { title: 'Pay rent', dueAt: '2026-12-31T23:59:00+01:00' });
  const later = await create(token, { title: 'Renew passport', dueAt: '2027-01-15T12:00:00+01:00' });
  await create(token, { title: 'Someday', priority: 'LOW' });
  return { dentist, standup, rent, later };
}

describe('Planning in Chromium', { timeout: 900_000 }, () => {
  before(async () => {
    env = await setup();
  }, { timeout: 240_000 });

  after(async () => {
    await env?.teardown();
  }, { timeout: 60_000 });

  it('calendar: month of due dates in the account zone, today marked, next occurrences, other months', async () => {
    const token = await account('month');
    const { standup } = await plan(token);
    const page = await openApp(token);
    await page.getByRole('heading', { name: 'Calendar', level: 1 }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Calendar' }).getAttribute('aria-current'), 'page');
    await page.getByRole('heading', { name: 'December 2026' }).waitFor();
    // Monday 30 Nov to Sunday 3 Jan: five weeks of seven days.
    assert.equal(await page.locator('.cal-month tbody tr').count(), 5);
    assert.equal(await page.locator('.cal-month td[data-day]').first().getAttribute('data-day'), '2026-11-30');
    // Today (Friday 4 Dec in Berlin; the browser itself is in New York) is marked, and only it.
    assert.deepEqual(await page.locator('[aria-current="date"]').evaluateAll((els) => els.map((e) => e.dataset.day)), ['2026-12-04']);
    await cell(page, '2026-12-08').getByRole('link', { name: /Dentist/ }).waitFor();
    assert.match(await cell(page, '2026-12-08').locator('a', { hasText: 'Dentist' }).textContent(), /^09:30/);
    // 23:59 Berlin on the 31st stays on the 31st (it is already 1 Jan nowhere that matters here).
    await cell(page, '2026-12-31').getByRole('link', { name: /Pay rent/ }).waitFor();
    // The repeating task is on its due day, and its next 8 occurrences (weekdays) follow it.
    await cell(page, '2026-12-07').locator(`[data-calendar-task="${standup.id}"]`).waitFor();
    const occurrenceDays = await page
      .locator('.cal-occurrence')
      .evaluateAll((els) => els.map((e) => e.closest('[data-day]').dataset.day));
    assert.deepEqual(occurrenceDays, ['2026-12-08', '2026-12-09', '2026-12-10', '2026-12-11', '2026-12-14', '2026-12-15', '2026-12-16', '2026-12-17']);
    assert.match(await page.locator('.cal-occurrence a').first().textContent(), /next occurrence, every weekday at 09:00|next occurrence, every week on/);
    // Undated tasks and other months' tasks are not in this month.
    assert.equal(await page.getByText('Someday').count(), 0);
    assert.equal(await page.getByText('Renew passport').count(), 0);
    await page.getByRole('button', { name: 'Next month' }).click();
    await page.getByRole('heading', { name: 'January 2027' }).waitFor();
    await cell(page, '2027-01-15').getByRole('link', { name: /Renew passport/ }).waitFor();
    assert.equal(await page.locator('[aria-current="date"]').count(), 0);
    await page.getByRole('button', { name: 'Today' }).click();
    await page.getByRole('heading', { name: 'December 2026' }).waitFor();
    // A chip opens the task in the editor.
    await cell(page, '2026-12-08').getByRole('link', { name: /Dentist/ }).click();
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    await page.context().close();
  });

  it('calendar: drag to another day, Shift+arrows from the keyboard, undo, and live changes from elsewhere', async () => {
    const token = await account('move');
    const { dentist, rent } = await plan(token);
    const page = await openApp(token, { serviceWorkers: 'block' });
    const chip = page.locator(`[data-calendar-task="${dentist.id}"]`);
    await cell(page, '2026-12-08').locator(`[data-calendar-task="${dentist.id}"]`).waitFor();

    // Drag Tuesday's 09:30 dentist onto Friday: due Friday at 09:30, Berlin time.
    await chip.dragTo(cell(page, '2026-12-11'));
    await serverDue(page, token, dentist.id, '2026-12-11T09:30:00+01:00');
    await cell(page, '2026-12-11').locator(`[data-calendar-task="${dentist.id}"]`).waitFor();
    await page.getByRole('status').filter({ hasText: 'Moved “Dentist” to Fri 11 Dec' }).first().waitFor();

    // The keyboard does the same: Shift+→ a day, Shift+↓ a week; the chip keeps the focus.
    await chip.focus();
    await page.keyboard.press('Shift+ArrowRight');
    await serverDue(page, token, dentist.id, '2026-12-12T09:30:00+01:00');
    await cell(page, '2026-12-12').locator(`[data-calendar-task="${dentist.id}"]`).waitFor();
    await page.waitForFunction((id) => document.activeElement?.getAttribute('data-calendar-task') === id, dentist.id);
    await page.keyboard.press('Shift+ArrowDown');
    await serverDue(page, token, dentist.id, '2026-12-19T09:30:00+01:00');
    await cell(page, '2026-12-19').locator(`[data-calendar-task="${dentist.id}"]`).waitFor();
    await page.waitForFunction((id) => document.activeElement?.getAttribute('data-calendar-task') === id, dentist.id);

    // Ctrl+Z undoes the last move through the API.
    await page.keyboard.press('Control+z');
    await serverDue(page, token, dentist.id, '2026-12-12T09:30:00+01:00');
    await cell(page, '2026-12-12').locator(`[data-calendar-task="${dentist.id}"]`).waitFor();

    // Shift+← past the first shown day follows the task into the previous month.
    await gql(env.baseUrl, 'mutation($id: ID!) { updateTask(id: $id, input: { dueAt: "2026-12-01T08:00:00+01:00" }) { id } }', { id: dentist.id }, token);
    await cell(page, '2026-12-01').locator(`[data-calendar-task="${dentist.id}"]`).waitFor();
    await chip.focus();
    await page.keyboard.press('Shift+ArrowUp');
    await serverDue(page, token, dentist.id, '2026-11-24T08:00:00+01:00');
    await page.getByRole('heading', { name: 'November 2026' }).waitFor();
    await cell(page, '2026-11-24').locator(`[data-calendar-task="${dentist.id}"]`).waitFor();
    await page.getByRole('button', { name: 'Today' }).click();

    // Another window (here: the API) moves the rent: the calendar follows live.
    await gql(env.baseUrl, 'mutation($id: ID!) { updateTask(id: $id, input: { dueAt: "2026-12-30T18:00:00+01:00" }) { id } }', { id: rent.id }, token);
    await cell(page, '2026-12-30').locator(`[data-calendar-task="${rent.id}"]`).waitFor();
    assert.equal(await cell(page, '2026-12-31').locator(`[data-calendar-task="${rent.id}"]`).count(), 0);

    // A move based on a stale version is refused (CONFLICT), says so, and changes nothing.
    const stale = page.locator(`[data-calendar-task="${rent.id}"]`);
    await page.route('**/graphql', async (route) => {
      const body = route.request().postData() ?? '';
      if (body.includes('mutation MoveTask')) {
        // Someone else changes the task just before this move reaches the server.
        await gql(env.baseUrl, 'mutation($id: ID!) { updateTask(id: $id, input: { title: "Pay rent (edited)" }) { id } }', { id: rent.id }, token);
      }
      await route.continue();
    });
    await stale.focus();
    await page.keyboard.press('Shift+ArrowLeft');
    await page.locator('.toast-error').filter({ hasText: 'was changed elsewhere meanwhile, so it was not moved' }).waitFor();
    await page.unroute('**/graphql');
    assert.equal(Date.parse((await dueOf(token, rent.id)).dueAt), Date.parse('2026-12-30T18:00:00+01:00'));
    await page.context().close();
  });

  it('calendar on a phone: a week agenda with today marked, moves by keyboard', async () => {
    const token = await account('phone');
    const { dentist } = await plan(token);
    const page = await openApp(token, { viewport: PHONE });
    await page.getByRole('heading', { name: 'Calendar', level: 1 }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Week', exact: true }).getAttribute('aria-pressed'), 'true');
    await page.getByRole('heading', { name: /30 Nov – Sun 6 Dec 2026/ }).waitFor();
    assert.equal(await page.locator('.cal-agenda-day').count(), 7);
    const today = page.locator('[aria-current="date"]');
    assert.equal(await today.getAttribute('data-day'), '2026-12-04');
    assert.match(await today.textContent(), /Friday 4 December\s*Today/);
    await page.getByRole('button', { name: 'Next week' }).click();
    await cell(page, '2026-12-08').locator(`[data-calendar-task="${dentist.id}"]`).waitFor();
    await page.locator(`[data-calendar-task="${dentist.id}"]`).focus();
    await page.keyboard.press('Shift+ArrowLeft');
    await serverDue(page, token, dentist.id, '2026-12-07T09:30:00+01:00');
    await cell(page, '2026-12-07').locator(`[data-calendar-task="${dentist.id}"]`).waitFor();
    // Every control of the calendar is at least 44 × 44 px on a phone.
    const small = await page.evaluate(() => {
      const out = [];
      for (const el of document.querySelectorAll('.calendar button, .cal-week .cal-chip a')) {
        const r = el.getBoundingClientRect();
        if (r.width < 44 - 0.5 || r.height < 44 - 0.5) out.push(`${el.className || el.tagName} “${(el.textContent ?? '').trim().slice(0, 20)}” ${r.width.toFixed(0)}×${r.height.toFixed(0)}`);
      }
      return out;
    });
    assert.deepEqual(small, [], `touch targets under 44 px:\n${small.join('\n')}`);
    await page.context().close();
  });

  it('reminders: a fired reminder is snoozed from the panel (10 min, tomorrow 9:00 on the account clock), and read', async () => {
    const token = await account('snooze');
    const past = new Date(Date.now() - 60_000).toISOString();
    const due = new Date(Date.now() + 3 * 3600_000).toISOString();
    const bank = await create(token, { title: 'Call the bank', dueAt: due, reminders: [{ remindAt: past, channels: ['IN_APP'] }] });
    const plants = await create(token, { title: 'Water the plants', dueAt: due, reminders: [{ remindAt: past, channels: ['IN_APP'] }] });
    const page = await openApp(token, { hash: '#/tasks', fixedNow: null });
    // Both reminders fire (they were already due) and arrive live.
    const bell = page.getByRole('button', { name: 'Notifications, 2 unread' });
    await bell.waitFor({ timeout: 60_000 });
    await bell.click();
    const panel = page.getByRole('region', { name: 'Notifications' });

    const before10 = Date.now();
    await panel.getByRole('group', { name: 'Snooze “Call the bank”' }).getByRole('button', { name: 'Snooze 10 min' }).click();
    await page.getByRole('status').filter({ hasText: 'Snoozed “Call the bank” until' }).first().waitFor();
    const after10 = Date.now();
    const [r1] = await remindersOf(token, bank.id);
    assert.equal(r1.state, 'SCHEDULED');
    const at1 = Date.parse(r1.remindAt);
    assert.ok(at1 >= before10 + 10 * 60_000 - 1000 && at1 <= after10 + 10 * 60_000 + 1000, `snoozed to ${r1.remindAt}`);
    // Acting on it read it: one unread left.
    await page.getByRole('button', { name: 'Notifications, 1 unread' }).waitFor();

    await panel.getByRole('group', { name: 'Snooze “Water the plants”' }).getByRole('button', { name: 'Snooze Tomorrow 9:00' }).click();
    await page.getByRole('status').filter({ hasText: 'Snoozed “Water the plants” until' }).first().waitFor();
    const [r2] = await remindersOf(token, plants.id);
    assert.equal(r2.state, 'SCHEDULED');
    const tomorrow = berlin(Date.now() + 24 * 3600_000).date;
    const wall = berlin(Date.parse(r2.remindAt));
    assert.equal(`${wall.date} ${wall.hour}:${wall.minute}`, `${tomorrow} 09:00`, `snoozed to ${r2.remindAt}`);
    await page.getByRole('button', { name: 'Notifications', exact: true }).waitFor();

    // Snoozing the same notification again: its reminder is no longer the one that fired.
    await panel.getByRole('group', { name: 'Snooze “Call the bank”' }).getByRole('button', { name: 'Snooze 1 hour' }).click();
    await page.locator('.toast-error').filter({ hasText: 'was already rescheduled or removed' }).waitFor();
    assert.equal(Date.parse((await remindersOf(token, bank.id))[0].remindAt), at1);
    await page.context().close();
  });

  it('reminders: a custom snooze from the panel, at a wall-clock time on the account clock; a past time is refused', async () => {
    const token = await account('custom');
    // A relative reminder ("5 minutes before" a due time 4 minutes away: it fires at once).
    const due = new Date(Date.now() + 4 * 60_000).toISOString();
    const task = await create(token, { title: 'Pay the invoice', dueAt: due, reminders: [{ beforeDue: 5, channels: ['IN_APP'] }] });
    const page = await openApp(token, { hash: '#/tasks', fixedNow: null, bypassCSP: true });
    const bell = page.getByRole('button', { name: 'Notifications, 1 unread' });
    await bell.waitFor({ timeout: 60_000 });
    await bell.click();
    const panel = page.getByRole('region', { name: 'Notifications' });
    await panel.getByRole('group', { name: 'Snooze “Pay the invoice”' }).getByRole('button', { name: 'Snooze Custom…' }).click();
    const until = panel.getByLabel('Snooze until');
    const wall = (ms) => berlin(ms).local;
    await until.fill(wall(Date.now() - 3600_000));
    await panel.getByRole('button', { name: 'Snooze', exact: true }).click();
    await panel.getByRole('alert').filter({ hasText: 'Choose a time in the future.' }).waitFor();
    assert.equal((await remindersOf(token, task.id))[0].state, 'SENT');
    await shot(page, 'notifications-custom-snooze');
    await axe(page, 'the custom snooze form with its error');
    const target = Math.ceil((Date.now() + 2 * 3600_000) / 60_000) * 60_000;
    await until.fill(wall(target));
    await panel.getByRole('button', { name: 'Snooze', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Snoozed “Pay the invoice” until' }).first().waitFor();
    const [r] = await remindersOf(token, task.id);
    assert.equal(r.state, 'SCHEDULED');
    // The API snoozes by whole minutes from now: at the chosen minute, never before it.
    const at = Date.parse(r.remindAt);
    assert.ok(at >= target && at < target + 60_000, `snoozed to ${r.remindAt}, chose ${new Date(target).toISOString()}`);
    // Still "5 minutes before": a moved due date would bring it back to that offset.
    const d = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { reminders { beforeDue } } }', { id: task.id }, token);
    assert.equal(d.task.reminders[0].beforeDue, 5);
    await page.getByRole('button', { name: 'Notifications', exact: true }).waitFor();
    await page.context().close();
  });

  it('reminders: setting one that has already passed asks first; Cancel keeps editing, Save anyway saves', async () => {
    const token = await account('past');
    const page = await openApp(token, { hash: '#/tasks/new', fixedNow: null });
    await page.getByLabel('Title').fill('Renew the parking permit');
    await page.getByRole('button', { name: /Add reminder/ }).click();
    await page.getByLabel('Reminder 1 time').fill(berlin(Date.now() - 3600_000).local);
    await page.getByRole('button', { name: 'Create task' }).click();
    const dialog = page.getByRole('dialog', { name: 'This reminder has already passed' });
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /Reminder 1 \(.+\) would go off as soon as you save/);
    await axe(page, 'past reminder prompt');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Reminder 1 time');
    let list = await gql(env.baseUrl, '{ tasks { totalCount } }', {}, token);
    assert.equal(list.tasks.totalCount, 0, 'nothing saved on Cancel');

    // A time still ahead is saved without a question.
    await page.getByLabel('Reminder 1 time').fill(berlin(Date.now() + 2 * 3600_000).local);
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    assert.equal(await page.getByRole('dialog').count(), 0);

    // Changing it to the past asks again; Save anyway saves it (and it fires).
    await page.getByLabel('Reminder 1 time').fill(berlin(Date.now() - 600_000).local);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Save anyway' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).first().waitFor();
    list = await gql(env.baseUrl, '{ tasks { edges { node { reminders { remindAt } } } } }', {}, token);
    assert.ok(Date.parse(list.tasks.edges[0].node.reminders[0].remindAt) < Date.now());
    await page.context().close();
  });

  it('recurrence builder: the 2nd Tuesday of the month at 09:00, previewed by the server, saved and read back', async () => {
    const token = await account('nth');
    const task = await create(token, { title: 'Team retro', dueAt: '2026-12-08T10:00:00+01:00' });
    const page = await openApp(token, { hash: `#/tasks/${task.id}`, fixedNow: null });
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    await page.getByLabel('Repeat this task').check();
    await page.getByLabel('Repeats').selectOption('MONTHLY');
    // Tue 8 Dec is the 2nd Tuesday: the weekday choice starts there.
    await page.getByLabel('a weekday of the month').check();
    assert.equal(await page.getByLabel('Which one in the month').inputValue(), '2');
    assert.equal(await page.getByLabel('Day of the week').inputValue(), 'TU');
    await page.getByLabel('At (time of day)').fill('09:00');
    assert.equal(await page.getByTestId('rrule').textContent(), 'FREQ=MONTHLY;BYDAY=2TU;BYHOUR=9;BYMINUTE=0');
    await page.getByText('Every month on the 2nd Tuesday at 09:00', { exact: true }).waitFor();
    // The server's preview: second Tuesdays at 09:00 Berlin time.
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid=preview-dates] li')].some((li) => /Tue.*12 Jan.*2027.*09:00/.test(li.textContent ?? '')),
    );
    const previewed = await page.getByTestId('preview-dates').locator('li').allTextContents();
    assert.ok(previewed.some((t) => /Tue.*9 Feb.*2027.*09:00/.test(t)), previewed.join(' | '));
    assert.ok(previewed.every((t) => /^Tue/.test(t)), previewed.join(' | '));
    await axe(page, 'recurrence builder, nth weekday');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).first().waitFor();
    const saved = await gql(env.baseUrl, 'query($id: ID!) { task(id: $id) { recurrence { rule upcoming(limit: 2) } } }', { id: task.id }, token);
    assert.deepEqual(saved.task.recurrence.rule.split(';').sort(), ['BYDAY=2TU', 'BYHOUR=9', 'BYMINUTE=0', 'FREQ=MONTHLY']);
    assert.deepEqual(saved.task.recurrence.upcoming.map((u) => berlin(Date.parse(u)).local), ['2027-01-12T09:00', '2027-02-09T09:00']);
    // Read back from the saved rule: the builder shows the same choice.
    await page.reload();
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    assert.equal(await page.getByLabel('Repeats').inputValue(), 'MONTHLY');
    assert.equal(await page.getByLabel('Which one in the month').inputValue(), '2');
    assert.equal(await page.getByLabel('At (time of day)').inputValue(), '09:00');
    await page.getByText('Every month on the 2nd Tuesday at 09:00', { exact: true }).waitFor();
    await page.context().close();
  });

  it('history: sentences in the account zone, newest first, the raw entry and its hash one click away', async () => {
    const token = await account('history');
    const task = await create(token, { title: 'Dentist', dueAt: '2026-12-03T09:00:00+01:00' });
    const upd = 'mutation($id: ID!, $i: UpdateTaskInput!) { updateTask(id: $id, input: $i) { id } }';
    await gql(env.baseUrl, upd, { id: task.id, i: { title: 'Dentist (Dr Ito)' } }, token);
    await gql(env.baseUrl, upd, { id: task.id, i: { dueAt: '2026-12-06T09:00:00+01:00', priority: 'HIGH', tags: ['health'] } }, token);
    // The audit service writes entries on its own time: wait until all three are in the trail.
    const q = 'query($t: ID) { auditLog(taskId: $t) { totalCount edges { node { hash } } } }';
    let log;
    for (let i = 0; i < 300; i++) {
      log = (await gql(env.baseUrl, q, { t: task.id }, token)).auditLog;
      if (log.totalCount >= 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(log.totalCount, 3);
    const page = await openApp(token, { hash: `#/tasks/${task.id}` });
    await page.getByRole('heading', { name: 'Edit task' }).waitFor();
    await page.locator('summary', { hasText: 'History' }).click();
    const list = page.getByRole('list', { name: 'History, newest first' });
    await list.waitFor();
    assert.deepEqual(await list.locator('.audit-sentence').allTextContents(), [
      // Fields in the entry's (canonical, alphabetical) order.
      'You changed the due date from Thu 3 Dec to Sun 6 Dec, changed the priority from none to High and added the tag #health',
      'You changed the title from “Dentist” to “Dentist (Dr Ito)”',
      'You created “Dentist”, due Thu 3 Dec, 09:00',
    ]);
    // The raw entry, with its full hash, for those who verify.
    const newest = list.locator('li').first();
    await newest.getByText('Raw entry and hash').click();
    assert.equal(await newest.locator('code.hash').textContent(), log.edges[2].node.hash);
    assert.match(await newest.locator('pre').textContent(), /"action": "task.updated"/);
    await axe(page, 'history');
    await page.context().close();
  });

  for (const theme of ['light', 'dark']) {
    it(`axe-core finds no WCAG 2.2 AA violations on the calendar, snooze panel, nth-weekday builder and history in the ${theme} theme; screenshots`, async () => {
      const token = await account(`axe-${theme}`);
      await plan(token);
      const retro = await create(token, {
        title: 'Team retro',
        dueAt: '2026-12-08T09:00:00+01:00',
        recurrence: { rule: 'FREQ=MONTHLY;BYDAY=2TU;BYHOUR=9;BYMINUTE=0' },
      });
      const upd = 'mutation($id: ID!, $i: UpdateTaskInput!) { updateTask(id: $id, input: $i) { id } }';
      await gql(env.baseUrl, upd, { id: retro.id, i: { title: 'Team retrospective', priority: 'MEDIUM', tags: ['team'] } }, token);
      await create(token, {
        title: 'Call the bank',
        dueAt: new Date(Date.now() + 3 * 3600_000).toISOString(),
        reminders: [{ remindAt: new Date(Date.now() - 60_000).toISOString(), channels: ['IN_APP'] }],
      });
      // The audit service writes entries on its own time: wait until both of the retro's are in.
      for (let i = 0; i < 300; i++) {
        const d = await gql(env.baseUrl, 'query($t: ID) { auditLog(taskId: $t) { totalCount } }', { t: retro.id }, token);
        if (d.auditLog.totalCount >= 2) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const [vp, name] of [
        [DESKTOP, 'desktop'],
        [PHONE, 'phone'],
      ]) {
        const page = await openApp(token, { viewport: vp, colorScheme: theme, bypassCSP: true });
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
        await page.getByRole('heading', { name: 'Calendar', level: 1 }).waitFor();
        if (name === 'phone') await page.getByRole('button', { name: 'Next week' }).click();
        await page.locator('.cal-occurrence').first().waitFor();
        await axe(page, `calendar (${theme}, ${name})`);
        await shot(page, `calendar-${name}-${theme}`);
        if (name === 'desktop') {
          // The week view (a phone shows it by default).
          await page.getByRole('button', { name: 'Week', exact: true }).click();
          await page.getByRole('button', { name: 'Next week' }).click();
          await page.locator('.cal-occurrence').first().waitFor();
          await axe(page, `calendar week (${theme}, ${name})`);
          await shot(page, `calendar-week-${name}-${theme}`);
        }
        // The notifications panel with its snooze actions.
        await page.getByRole('button', { name: 'Notifications, 1 unread' }).waitFor({ timeout: 60_000 });
        await page.getByRole('button', { name: 'Notifications, 1 unread' }).click();
        await page.getByRole('button', { name: 'Snooze 10 min' }).waitFor();
        await axe(page, `notifications with snooze (${theme}, ${name})`);
        await shot(page, `snooze-${name}-${theme}`);
        await page.getByRole('button', { name: 'Close notifications' }).click();
        // A repeating task's editor: the nth-weekday builder and the history in sentences.
        await page.goto(`${env.baseUrl}/#/tasks/${retro.id}`);
        await page.getByRole('heading', { name: 'Edit task' }).waitFor();
        await page.locator('summary', { hasText: 'History' }).click();
        await page.getByRole('list', { name: 'History, newest first' }).locator('.audit-sentence').nth(1).waitFor();
        await axe(page, `history (${theme}, ${name})`);
        await page.getByLabel('Which one in the month').evaluate((el) => el.scrollIntoView({ block: 'center' }));
        await shot(page, `recurrence-nth-${name}-${theme}`);
        await page.getByRole('list', { name: 'History, newest first' }).evaluate((el) => el.scrollIntoView({ block: 'center' }));
        await shot(page, `history-${name}-${theme}`);
        await page.context().close();
      }
    });
  }

  it('no page errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
