// Browser tests for sections, the board and subtasks (issue 18): two users in two browser
// contexts against one real `taskstream up` — drag between columns by mouse and by keyboard, a
// concurrent reorder converging in both windows, indent/outdent as a subtask, sections managed
// from the page, and axe-core on the board and the sectioned list in both themes.
// TASKSTREAM_SCREENSHOTS=docs writes the screenshots to docs/screenshots/ (`npm run screenshots:board`).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gql, repoDir, screenshotDir, setup } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.TASKSTREAM_SCREENSHOTS === 'docs' ? path.join(repoDir, 'docs', 'screenshots') : screenshotDir;
const PASSWORD = 'correct horse 42';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let env;
const pageErrors = [];

let seq = 0;
async function account(tag, name = 'sam.doe') {
  const email = `${name}+${tag}${Date.now() % 100000}${++seq}@example.test`;
  const d = await gql(env.baseUrl, 'mutation($e: String!, $p: String!) { signUp(email: $e, password: $p, timezone: "Europe/Berlin") { token } }', { e: email, p: PASSWORD });
  return { email, token: d.signUp.token };
}

async function openApp(token, { viewport = DESKTOP, colorScheme = 'light', hash = '#/inbox', layout = null, projectId = null } = {}) {
  const ctx = await env.browser.newContext({ viewport, colorScheme, timezoneId: 'Europe/Berlin', locale: 'en-GB', bypassCSP: true });
  ctx.setDefaultTimeout(15_000);
  await ctx.addInitScript(
    ([t, l, p]) => {
      localStorage.setItem('taskstream.token', t);
      if (l && p) localStorage.setItem(`taskstream.projectLayout.${p}`, l);
    },
    [token, layout, projectId],
  );
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${env.baseUrl}/${hash}`);
  await page.locator('main#main').waitFor();
  return page;
}

async function axe(page, label) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => `${n.html} — ${n.failureSummary}`).slice(0, 4).join(' | ')}`);
  });
  assert.deepEqual(result, [], `axe-core WCAG 2.2 AA violations on ${label}:\n${result.join('\n')}`);
}

async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

const Q = {
  project: 'mutation($n: String!) { createProject(name: $n, color: "#2b8a3e") { id } }',
  section: 'mutation($p: ID!, $n: String!) { createSection(projectId: $p, name: $n) { id } }',
  task: 'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }',
  order:
    'query($p: ID!, $s: ID) { tasks(filter: { projectId: $p, sectionId: $s, topLevel: true }, orderBy: [{ field: MANUAL }], first: 200) { edges { node { title section { id } parent { id } } } } }',
  one: 'query($id: ID!) { task(id: $id) { title section { name } parent { title } } }',
};

/** A project with sections "To do" and "Doing" and tasks in "To do" (in this order). */
async function arrange(owner, titles, extraSections = []) {
  const projectId = (await gql(env.baseUrl, Q.project, { n: `Board ${++seq}` }, owner.token)).createProject.id;
  const todo = (await gql(env.baseUrl, Q.section, { p: projectId, n: 'To do' }, owner.token)).createSection.id;
  const doing = (await gql(env.baseUrl, Q.section, { p: projectId, n: 'Doing' }, owner.token)).createSection.id;
  for (const n of extraSections) await gql(env.baseUrl, Q.section, { p: projectId, n }, owner.token);
  const ids = {};
  for (const title of titles) ids[title] = (await gql(env.baseUrl, Q.task, { i: { title, sectionId: todo } }, owner.token)).createTask.id;
  return { projectId, todo, doing, ids };
}

async function share(owner, projectId, invitee) {
  const inv = await gql(env.baseUrl, 'mutation($p: ID!, $e: String!) { inviteToProject(projectId: $p, email: $e, role: EDITOR) { id } }', { p: projectId, e: invitee.email }, owner.token);
  await gql(env.baseUrl, 'mutation($id: ID!) { acceptInvitation(id: $id) { id } }', { id: inv.inviteToProject.id }, invitee.token);
}

const column = (page, name) => page.locator(`[data-testid="column-${name}"]`);
const titlesIn = (page, name) => column(page, name).locator(':scope > li.board-row > .board-row-main .task-title').allTextContents();
const handle = (page, title) => page.getByRole('button', { name: `Move “${title}”`, exact: true });

async function apiOrder(token, projectId, sectionId) {
  const d = await gql(env.baseUrl, Q.order, { p: projectId, s: sectionId }, token);
  return d.tasks.edges.map((e) => e.node.title);
}

/** Polls the page until the column shows `expected` (the live re-read is asynchronous). */
async function columnIs(page, name, expected) {
  await page.waitForFunction(
    ([n, exp]) => {
      const ul = document.querySelector(`[data-testid="column-${n}"]`);
      if (!ul) return false;
      const got = [...ul.querySelectorAll(':scope > li.board-row > .board-row-main .task-title')].map((a) => a.textContent);
      return JSON.stringify(got) === JSON.stringify(exp);
    },
    [name, expected],
  );
}

/** Waits for dnd-kit's (visually hidden) live region to say something matching `pattern`. */
async function announced(page, pattern, timeout = 15_000) {
  try {
    await page.waitForFunction((p) => [...document.querySelectorAll('[id^="DndLiveRegion"]')].some((el) => new RegExp(p).test(el.textContent ?? '')), pattern, { timeout });
  } catch (error) {
    const said = await page.evaluate(() => [...document.querySelectorAll('[id^="DndLiveRegion"]')].map((el) => el.textContent));
    throw new Error(`the live region never matched ${pattern}; it says ${JSON.stringify(said)}`, { cause: error });
  }
}

/**
 * Presses `key` until the live region matches `pattern`. dnd-kit's keyboard sensor ignores a key
 * that comes before it has measured the lists (the item then stays over its own place, `still`),
 * so the key is pressed again only while the region says it has not moved.
 */
async function pressUntilAnnounced(page, key, pattern, still) {
  for (let attempt = 1; ; attempt += 1) {
    await page.keyboard.press(key);
    try {
      await announced(page, pattern, 3_000);
      return;
    } catch (error) {
      const unmoved = await page.evaluate((s) => [...document.querySelectorAll('[id^="DndLiveRegion"]')].some((el) => new RegExp(s).test(el.textContent ?? '')), still);
      if (!unmoved || attempt === 5) throw error;
    }
  }
}

describe('Sections, board and subtasks in Chromium, two users', { timeout: 900_000 }, () => {
  before(async () => {
    env = await setup();
  }, { timeout: 240_000 });

  after(async () => {
    await env?.teardown();
  }, { timeout: 60_000 });

  it('moves a task between columns by mouse and by keyboard; the other window follows live', async () => {
    const ada = await account('drag', 'ada.lovelace');
    const bob = await account('drag', 'bob.hopper');
    const { projectId, todo, doing } = await arrange(ada, ['Write spec', 'Review spec', 'Ship it']);
    await share(ada, projectId, bob);
    const a = await openApp(ada.token, { hash: `#/projects/${projectId}` });
    const b = await openApp(bob.token, { hash: `#/projects/${projectId}`, layout: 'board', projectId });

    // The layout switch is kept per project (Bob's window was opened with "board" stored).
    await a.getByRole('button', { name: 'Board', exact: true }).click();
    await columnIs(a, 'To do', ['Write spec', 'Review spec', 'Ship it']);
    await columnIs(b, 'To do', ['Write spec', 'Review spec', 'Ship it']);
    assert.equal(await a.evaluate((p) => localStorage.getItem(`taskstream.projectLayout.${p}`), projectId), 'board');

    // Mouse: drag "Write spec" by its handle into the empty "Doing" column.
    const from = await handle(a, 'Write spec').boundingBox();
    const to = await column(a, 'Doing').boundingBox();
    await a.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await a.mouse.down();
    await a.mouse.move(from.x + 30, from.y + 10, { steps: 5 });
    await a.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 15 });
    await a.mouse.up();
    await columnIs(a, 'Doing', ['Write spec']);
    assert.deepEqual(await apiOrder(ada.token, projectId, doing), ['Write spec']);
    assert.deepEqual(await apiOrder(ada.token, projectId, todo), ['Review spec', 'Ship it']);
    // Bob's window shows it without a reload.
    await columnIs(b, 'Doing', ['Write spec']);
    await columnIs(b, 'To do', ['Review spec', 'Ship it']);

    // Keyboard (dnd-kit's sensor): Space lifts, → goes to the next column, Space drops.
    // The board re-reads after the mouse move: focus the handle once that read has settled.
    await a.waitForFunction(() => !document.querySelector('.section-board[aria-busy="true"]'));
    await handle(a, 'Ship it').focus();
    await a.keyboard.press('Space');
    // The live region says what happens; each key waits for the last one's announcement.
    // Picked up (the region may already say it is over its own place: whichever came last).
    await announced(a, '^(Picked up “Ship it”|“Ship it” is over “Ship it”)\\.$');
    await pressUntilAnnounced(a, 'ArrowRight', '^“Ship it” is over “(Doing|Write spec)”\\.$', '^(Picked up “Ship it”|“Ship it” is over “Ship it”)\\.$');
    await a.keyboard.press('Space');
    // Where in the column it lands depends on the pointer-free collision; the column is what counts.
    await a.waitForFunction(() => document.querySelectorAll('[data-testid="column-Doing"] > li.board-row').length === 2 && !document.querySelector('.section-board[aria-busy="true"]'));
    const doingNow = await apiOrder(ada.token, projectId, doing);
    assert.deepEqual([...doingNow].sort(), ['Ship it', 'Write spec']);
    await columnIs(a, 'Doing', doingNow);
    await columnIs(b, 'Doing', doingNow);

    // Keyboard shortcut: Alt+← takes it back to "To do" (appended), Alt+↑ then reorders there.
    await handle(a, 'Ship it').focus();
    await a.keyboard.press('Alt+ArrowLeft');
    await columnIs(a, 'To do', ['Review spec', 'Ship it']);
    await handle(a, 'Ship it').focus();
    await a.keyboard.press('Alt+ArrowUp');
    await columnIs(a, 'To do', ['Ship it', 'Review spec']);
    assert.deepEqual(await apiOrder(ada.token, projectId, todo), ['Ship it', 'Review spec']);
    await columnIs(b, 'To do', ['Ship it', 'Review spec']);
    // Focus stays on the moved task's handle, so the keys can be pressed again.
    assert.equal(await a.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Move “Ship it”');

    // Alt+← from the first section takes it out of every section (moveTask's toNoSection).
    await a.keyboard.press('Alt+ArrowLeft');
    await columnIs(a, 'No section', ['Ship it']);
    assert.deepEqual(await apiOrder(ada.token, projectId, todo), ['Review spec']);
    assert.deepEqual(pageErrors, []);
  });

  it('two people reordering the same column at once end with the same order in both windows', async () => {
    const ada = await account('race', 'ada.lovelace');
    const bob = await account('race', 'bob.hopper');
    const { projectId, todo } = await arrange(ada, ['One', 'Two', 'Three', 'Four']);
    await share(ada, projectId, bob);
    const a = await openApp(ada.token, { hash: `#/projects/${projectId}`, layout: 'board', projectId });
    const b = await openApp(bob.token, { hash: `#/projects/${projectId}`, layout: 'board', projectId });
    await columnIs(a, 'To do', ['One', 'Two', 'Three', 'Four']);
    await columnIs(b, 'To do', ['One', 'Two', 'Three', 'Four']);
    await handle(a, 'Four').focus();
    await handle(b, 'One').focus();
    // Both move at the same moment, each from the order it read.
    await Promise.all([a.keyboard.press('Alt+ArrowUp'), b.keyboard.press('Alt+ArrowDown')]);
    // Whatever the server decided, both windows end showing it.
    await a.waitForFunction(() => !document.querySelector('.section-board[aria-busy="true"]'));
    await b.waitForFunction(() => !document.querySelector('.section-board[aria-busy="true"]'));
    let final = await apiOrder(ada.token, projectId, todo);
    // The second window may still be reading: wait for both to show the server's order.
    await columnIs(a, 'To do', final);
    await columnIs(b, 'To do', final);
    final = await apiOrder(ada.token, projectId, todo);
    assert.deepEqual(await titlesIn(a, 'To do'), final);
    assert.deepEqual(await titlesIn(b, 'To do'), final);
    assert.deepEqual([...final].sort(), ['Four', 'One', 'Three', 'Two']);
    assert.notDeepEqual(final, ['One', 'Two', 'Three', 'Four']);
    assert.deepEqual(pageErrors, []);
  });

  it('indents a task under the one above and outdents it; progress, collapse, subtask add; sections managed on the page', async () => {
    const ada = await account('sub', 'ada.lovelace');
    const { projectId, ids } = await arrange(ada, ['Plan trip', 'Book flights']);
    const a = await openApp(ada.token, { hash: `#/projects/${projectId}` });
    await a.getByRole('button', { name: 'Sections', exact: true }).click();
    await columnIs(a, 'To do', ['Plan trip', 'Book flights']);

    // Alt+→ on "Book flights" puts it under "Plan trip".
    await handle(a, 'Book flights').focus();
    await a.keyboard.press('Alt+ArrowRight');
    await columnIs(a, 'To do', ['Plan trip']);
    const planRow = column(a, 'To do').locator(`li[data-task-id="${ids['Plan trip']}"]`);
    await planRow.getByTestId('subtask-progress').filter({ hasText: '0/1' }).waitFor();
    assert.equal((await gql(env.baseUrl, Q.one, { id: ids['Book flights'] }, ada.token)).task.parent.title, 'Plan trip');

    // Add a subtask from the row, complete it: progress 1/2.
    await planRow.getByRole('button', { name: 'Add subtask to “Plan trip”' }).click();
    await a.getByRole('textbox', { name: 'New subtask of “Plan trip”' }).fill('Pack bags');
    await a.getByRole('textbox', { name: 'New subtask of “Plan trip”' }).press('Enter');
    await planRow.getByRole('link', { name: 'Pack bags' }).waitFor();
    // Controlled by the server's answer: it turns checked once the list is re-read.
    await planRow.getByRole('checkbox', { name: 'Complete “Pack bags”' }).click();
    await planRow.getByTestId('subtask-progress').filter({ hasText: '1/2' }).waitFor();

    // Collapse hides the subtasks, expand shows them.
    await planRow.getByRole('button', { name: /Hide subtasks/ }).click();
    await planRow.getByRole('link', { name: 'Pack bags' }).waitFor({ state: 'detached' });
    await planRow.getByRole('button', { name: /Show subtasks/ }).click();
    await planRow.getByRole('link', { name: 'Pack bags' }).waitFor();

    // Alt+← on the subtask takes it back to the top level, right after its parent.
    await planRow.getByRole('link', { name: 'Book flights' }).focus();
    await a.keyboard.press('Alt+ArrowLeft');
    await columnIs(a, 'To do', ['Plan trip', 'Book flights']);
    assert.equal((await gql(env.baseUrl, Q.one, { id: ids['Book flights'] }, ada.token)).task.parent, null);

    // Sections: add one, rename it, delete it (the dialog says where its tasks go).
    await a.getByRole('textbox', { name: 'New section name' }).fill('Later');
    await a.getByRole('button', { name: 'Add section' }).click();
    await column(a, 'Later').waitFor();
    await a.getByRole('button', { name: 'Rename the section “Later”' }).click();
    await a.getByRole('textbox', { name: 'New name for the section “Later”' }).fill('Someday');
    await a.getByRole('button', { name: 'Save', exact: true }).click();
    await column(a, 'Someday').waitFor();
    await a.getByRole('button', { name: 'Delete the section “To do”' }).click();
    const dlg = a.getByRole('dialog', { name: 'Delete the section “To do”?' });
    await dlg.getByText('No task is deleted: its 2 tasks (with their subtasks) move, in their order, to the end of the tasks without a section.').waitFor();
    await dlg.getByRole('button', { name: 'Delete section' }).click();
    await columnIs(a, 'No section', ['Plan trip', 'Book flights']);
    await column(a, 'To do').waitFor({ state: 'detached' });
    assert.deepEqual(pageErrors, []);
  });

  it('an assignment made in the editor shows on the other user’s “Assigned to me” with initials; a saved filter opens from the sidebar and is deleted', async () => {
    const ada = await account('assign', 'ada.lovelace');
    const bob = await account('assign', 'bob.hopper');
    const { projectId, ids } = await arrange(ada, ['Order the cake', 'Hire a band']);
    await share(ada, projectId, bob);
    const b = await openApp(bob.token, { hash: '#/assigned' });
    await b.getByRole('heading', { name: 'Assigned to me', level: 1 }).waitFor();
    assert.equal(await b.locator('#sidebar a[href="#/assigned"]').getAttribute('aria-current'), 'page');

    // Ada assigns "Order the cake" to Bob in the editor (the picker lists the project's editors and owners).
    const a = await openApp(ada.token, { hash: `#/projects/${projectId}/${ids['Order the cake']}` });
    const picker = a.getByLabel('Assignee');
    await picker.locator(`option[value]:not([value=""])`).nth(1).waitFor({ state: 'attached' });
    const options = await picker.locator('option').allTextContents();
    assert.deepEqual([...options].sort(), ['Nobody', ada.email, bob.email].sort());
    await picker.selectOption({ label: bob.email });
    await a.getByRole('button', { name: 'Save changes' }).click();
    await a.locator(`.task-row[data-task-id="${ids['Order the cake']}"] [data-testid="assignee-avatar"]`, { hasText: 'BH' }).waitFor();

    // Bob's open "Assigned to me" shows it live, with his initials; the other task is not there.
    const bobRow = b.locator(`.task-row[data-task-id="${ids['Order the cake']}"]`);
    await bobRow.getByTestId('assignee-avatar').filter({ hasText: 'BH' }).waitFor();
    assert.equal(await b.locator(`.task-row[data-task-id="${ids['Hire a band']}"]`).count(), 0);

    // Saved filter: Bob searches, saves it under a name, opens it from the sidebar, deletes it.
    await b.goto(`${env.baseUrl}/#/tasks`);
    await b.getByRole('heading', { name: 'Tasks', level: 1 }).waitFor();
    await b.getByRole('searchbox').first().fill('band');
    await b.getByTestId('task-count').filter({ hasText: '1 task matching “band”' }).waitFor();
    await b.getByRole('button', { name: 'Save filter' }).click();
    await b.getByLabel('Filter name').fill('Music');
    await b.getByRole('button', { name: 'Save', exact: true }).click();
    const link = b.locator('#sidebar a', { hasText: 'Music' });
    await link.waitFor();
    const saved = await gql(env.baseUrl, '{ savedFilters { name filter } }', {}, bob.token);
    assert.equal(saved.savedFilters.length, 1);
    assert.equal(saved.savedFilters[0].filter.text, 'band');
    await b.getByRole('searchbox').first().fill('');
    await link.click();
    await b.getByRole('heading', { name: 'Music', level: 1 }).waitFor();
    await b.locator(`.task-row[data-task-id="${ids['Hire a band']}"]`).waitFor();
    await b.locator(`.task-row[data-task-id="${ids['Order the cake']}"]`).waitFor({ state: 'detached' });
    await b.getByRole('button', { name: 'Delete the filter “Music”' }).click();
    await b.getByRole('dialog', { name: 'Delete the filter “Music”?' }).getByRole('button', { name: 'Delete filter' }).click();
    await link.waitFor({ state: 'detached' });
    assert.deepEqual((await gql(env.baseUrl, '{ savedFilters { id } }', {}, bob.token)).savedFilters, []);
    await b.waitForURL(/#\/tasks$/);
    assert.deepEqual(pageErrors, []);
  });

  for (const theme of ['light', 'dark']) {
    it(`axe-core finds no WCAG 2.2 AA violations on the board and the sectioned list in the ${theme} theme; screenshots`, async () => {
      const ada = await account(theme, 'ada.lovelace');
      const { projectId, doing, ids } = await arrange(ada, ['Write the brief', 'Collect quotes', 'Pick a venue'], ['Done']);
      await gql(env.baseUrl, 'mutation($id: ID!, $s: ID) { moveTask(id: $id, sectionId: $s) { id } }', { id: ids['Pick a venue'], s: doing }, ada.token);
      for (const title of ['Call the caterer', 'Send invitations']) {
        await gql(env.baseUrl, Q.task, { i: { title, parentId: ids['Write the brief'] } }, ada.token);
      }
      for (const [vp, name] of [
        [DESKTOP, 'desktop'],
        [PHONE, 'phone'],
      ]) {
        for (const layout of ['board', 'list']) {
          const page = await openApp(ada.token, { viewport: vp, colorScheme: theme, hash: `#/projects/${projectId}`, layout, projectId });
          await columnIs(page, 'Doing', ['Pick a venue']);
          await page.getByTestId('subtask-progress').first().waitFor();
          await axe(page, `${layout} (${theme}, ${name})`);
          await shot(page, `${layout === 'board' ? 'board' : 'sections'}-${name}-${theme}`);
          await page.context().close();
        }
      }
      assert.deepEqual(pageErrors, []);
    });
  }
});
