// Browser tests for two slices of issue 18 against one real `taskstream up`: a task dropped on
// "No section" (board by mouse, sectioned list by dnd-kit's keyboard sensor) leaves its section
// with moveTask(toNoSection); projects reordered in the sidebar (mouse and keyboard) with
// moveProject, the member's other window following live. axe-core on the sidebar in both themes.
// Screenshots go to e2e/screenshots/ (look at them).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { gql, setup, shot } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const PASSWORD = 'correct horse 42';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let env;
const pageErrors = [];
let seq = 0;

async function account(tag) {
  const email = `order+${tag}${Date.now() % 100000}${++seq}@example.test`;
  const d = await gql(env.baseUrl, 'mutation($e: String!, $p: String!) { signUp(email: $e, password: $p, timezone: "Europe/Berlin") { token } }', { e: email, p: PASSWORD });
  return { email, token: d.signUp.token };
}

async function openApp(token, { hash = '#/inbox', viewport = DESKTOP, colorScheme = 'light', layout = null, projectId = null } = {}) {
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

/** Waits until dnd-kit's live region says something matching `pattern`. */
async function announced(page, pattern, timeout = 3_000) {
  await page.waitForFunction((p) => [...document.querySelectorAll('[id^="DndLiveRegion"]')].some((el) => new RegExp(p).test(el.textContent ?? '')), pattern, { timeout });
}

/** Presses `key` until the live region matches `pattern` (the sensor ignores keys before it has measured the list). */
async function pressUntilAnnounced(page, key, pattern) {
  for (let attempt = 1; ; attempt += 1) {
    await page.keyboard.press(key);
    try {
      await announced(page, pattern);
      return;
    } catch (error) {
      if (attempt === 5) {
        const said = await page.evaluate(() => [...document.querySelectorAll('[id^="DndLiveRegion"]')].map((el) => el.textContent));
        throw new Error(`the live region never matched ${pattern}; it says ${JSON.stringify(said)}`, { cause: error });
      }
    }
  }
}

async function drag(page, fromLocator, toLocator) {
  const from = await fromLocator.boundingBox();
  const to = await toLocator.boundingBox();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2 + 8, { steps: 4 });
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 15 });
  await page.mouse.up();
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

const TASK_PLACE = 'query($id: ID!) { task(id: $id) { section { name } project { id } } }';
const column = (page, name) => page.locator(`[data-testid="column-${name}"]`);
const rowsIn = (page, name) => column(page, name).locator(':scope > li.board-row > .board-row-main .task-title').allTextContents();

/** Polls until the column shows exactly these titles in any order (where a drop lands in it is the collision's choice). */
async function columnHolds(page, name, titles) {
  await page.waitForFunction(
    ([n, want]) => {
      const ul = document.querySelector(`[data-testid="column-${n}"]`);
      const got = ul ? [...ul.querySelectorAll(':scope > li.board-row > .board-row-main .task-title')].map((a) => a.textContent).sort() : [];
      return JSON.stringify(got) === JSON.stringify([...want].sort()) && !document.querySelector('.section-board[aria-busy="true"]');
    },
    [name, titles],
  );
}

const sidebarNames = (page) => page.locator('[data-testid="project-list"] .side-label').allTextContents();

async function sidebarIs(page, names) {
  await page.waitForFunction((want) => JSON.stringify([...document.querySelectorAll('[data-testid="project-list"] .side-label')].map((e) => e.textContent)) === JSON.stringify(want), names);
}

async function apiProjectNames(token) {
  return (await gql(env.baseUrl, '{ projects { name } }', {}, token)).projects.map((p) => p.name);
}

/** Polls the API until `projects` answers in this order (the sidebar shows a move before the server has it). */
async function apiOrderIs(token, names) {
  for (let waited = 0; ; waited += 200) {
    const got = await apiProjectNames(token);
    if (JSON.stringify(got) === JSON.stringify(names) || waited >= 10_000) {
      assert.deepEqual(got, names);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('Out of a section and the sidebar order in Chromium', { timeout: 600_000 }, () => {
  before(async () => {
    env = await setup();
  }, { timeout: 240_000 });

  after(async () => {
    await env?.teardown();
  }, { timeout: 60_000 });

  it('a task dropped on "No section" leaves its section: board by mouse, sectioned list by keyboard', async () => {
    const ada = await account('nosec');
    const projectId = (await gql(env.baseUrl, 'mutation { createProject(name: "Garden", color: "#2b8a3e") { id } }', {}, ada.token)).createProject.id;
    const todo = (await gql(env.baseUrl, 'mutation($p: ID!) { createSection(projectId: $p, name: "To do") { id } }', { p: projectId }, ada.token)).createSection.id;
    await gql(env.baseUrl, 'mutation($p: ID!) { createSection(projectId: $p, name: "Doing") { id } }', { p: projectId }, ada.token);
    const ids = {};
    await gql(env.baseUrl, 'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', { i: { title: 'Buy seeds', projectId } }, ada.token);
    for (const title of ['Dig beds', 'Plant roses']) {
      ids[title] = (await gql(env.baseUrl, 'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', { i: { title, sectionId: todo } }, ada.token)).createTask.id;
    }
    const a = await openApp(ada.token, { hash: `#/projects/${projectId}`, layout: 'board', projectId });
    await columnHolds(a, 'No section', ['Buy seeds']);
    await columnHolds(a, 'To do', ['Dig beds', 'Plant roses']);

    // Mouse: "Dig beds" by its handle onto the "No section" column.
    await drag(a, a.getByRole('button', { name: 'Move “Dig beds”', exact: true }), column(a, 'No section'));
    await columnHolds(a, 'No section', ['Buy seeds', 'Dig beds']);
    await columnHolds(a, 'To do', ['Plant roses']);
    const dug = (await gql(env.baseUrl, TASK_PLACE, { id: ids['Dig beds'] }, ada.token)).task;
    assert.deepEqual(dug, { section: null, project: { id: projectId } });
    await shot(a, 'no-section-board');

    // Keyboard in the sectioned list: Space lifts, ↑ goes over the "No section" group, Space drops.
    await a.getByRole('button', { name: 'Sections', exact: true }).click();
    await columnHolds(a, 'To do', ['Plant roses']);
    await a.getByRole('button', { name: 'Move “Plant roses”', exact: true }).focus();
    await a.keyboard.press('Space');
    await announced(a, '^(Picked up “Plant roses”|“Plant roses” is over “Plant roses”)\\.$', 15_000);
    await pressUntilAnnounced(a, 'ArrowUp', '^“Plant roses” is over “(No section|Buy seeds|Dig beds)”\\.$');
    await a.keyboard.press('Space');
    await columnHolds(a, 'No section', ['Buy seeds', 'Dig beds', 'Plant roses']);
    await columnHolds(a, 'To do', []);
    const planted = (await gql(env.baseUrl, TASK_PLACE, { id: ids['Plant roses'] }, ada.token)).task;
    assert.deepEqual(planted, { section: null, project: { id: projectId } });
    assert.deepEqual(await rowsIn(a, 'Doing'), []);
    await shot(a, 'no-section-list');
    assert.deepEqual(pageErrors, []);
  });

  it('reorders projects in the sidebar by mouse and by keyboard; the other window of the member follows', async () => {
    const ada = await account('sidebar');
    const bob = await account('sidebar');
    for (const name of ['Apple', 'Banana', 'Cherry']) {
      await gql(env.baseUrl, 'mutation($n: String!) { createProject(name: $n, color: "#3a7bd5") { id } }', { n: name }, ada.token);
    }
    const shared = (await gql(env.baseUrl, 'mutation { createProject(name: "Shared") { id } }', {}, ada.token)).createProject.id;
    const inv = await gql(env.baseUrl, 'mutation($p: ID!, $e: String!) { inviteToProject(projectId: $p, email: $e, role: VIEWER) { id } }', { p: shared, e: bob.email }, ada.token);
    await gql(env.baseUrl, 'mutation($id: ID!) { acceptInvitation(id: $id) { id } }', { id: inv.inviteToProject.id }, bob.token);
    const one = await openApp(ada.token);
    const two = await openApp(ada.token, { colorScheme: 'dark' });
    await sidebarIs(one, ['Apple', 'Banana', 'Cherry', 'Shared']);
    await sidebarIs(two, ['Apple', 'Banana', 'Cherry', 'Shared']);

    // Mouse: "Cherry" by its handle onto "Apple" goes first.
    const handle = (page, name) => page.getByRole('button', { name: `Move the project “${name}”`, exact: true });
    await drag(one, handle(one, 'Cherry'), one.locator('[data-testid="project-list"] li', { hasText: 'Apple' }));
    await sidebarIs(one, ['Cherry', 'Apple', 'Banana', 'Shared']);
    await apiOrderIs(ada.token, ['Cherry', 'Apple', 'Banana', 'Shared']);
    // The other window follows live (projectEvents MOVED), without a reload.
    await sidebarIs(two, ['Cherry', 'Apple', 'Banana', 'Shared']);

    // Keyboard (dnd-kit's sensor): Space lifts "Apple", ↓ goes over "Banana", Space drops.
    await handle(one, 'Apple').focus();
    await one.keyboard.press('Space');
    await announced(one, '^(Picked up the project “Apple”|“Apple” is over “Apple”)\\.$', 15_000);
    await pressUntilAnnounced(one, 'ArrowDown', '^“Apple” is over “Banana”\\.$');
    await one.keyboard.press('Space');
    await sidebarIs(one, ['Cherry', 'Banana', 'Apple', 'Shared']);
    await apiOrderIs(ada.token, ['Cherry', 'Banana', 'Apple', 'Shared']);
    await sidebarIs(two, ['Cherry', 'Banana', 'Apple', 'Shared']);
    // The focus stays on the moved project's handle: the keys can be pressed again.
    await one.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Move the project “Apple”');
    // Each member orders their own sidebar: Bob's is untouched.
    assert.deepEqual(await apiProjectNames(bob.token), ['Shared']);
    assert.deepEqual(await sidebarNames(two), ['Cherry', 'Banana', 'Apple', 'Shared']);

    await axe(one, 'sidebar with project handles (light)');
    await axe(two, 'sidebar with project handles (dark)');
    await shot(one, 'sidebar-order-light');
    await shot(two, 'sidebar-order-dark');
    const phone = await openApp(ada.token, { viewport: PHONE });
    await phone.getByRole('button', { name: /Menu/ }).click();
    await sidebarIs(phone, ['Cherry', 'Banana', 'Apple', 'Shared']);
    await axe(phone, 'sidebar drawer on a phone');
    await shot(phone, 'sidebar-order-phone');
    assert.deepEqual(pageErrors, []);
  });
});
