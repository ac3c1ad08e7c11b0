// Browser tests for two slices of issue 18 against one real `taskstream up`: a task dropped on
// "No section" (board by mouse, sectioned list by dnd-kit's keyboard sensor) leaves its section
// with moveTask(toNoSection); projects reordered in the sidebar (mouse and keyboard) with
// moveProject, the member's other window following live. axe-core on the sidebar in both themes.
// Screenshots go to e2e/screenshots/ (look at them).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gql, setup } from './harness.mjs';
import { announced, axe, createProject, createTask, drag, layoutStorage, openApp as open, PHONE, pressUntilAnnounced, share, shot, signUp } from './lib/app.mjs';

let env;
const pageErrors = [];

const account = (tag) => signUp(env, { tag, name: 'order' });

function openApp(token, { layout = null, projectId = null, ...opts } = {}) {
  return open(env, token, { pageErrors, ...opts, storage: layout && projectId ? layoutStorage(projectId, layout) : {} });
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
    const projectId = await createProject(env, ada, 'Garden');
    const todo = (await gql(env.baseUrl, 'mutation($p: ID!) { createSection(projectId: $p, name: "To do") { id } }', { p: projectId }, ada.token)).createSection.id;
    await gql(env.baseUrl, 'mutation($p: ID!) { createSection(projectId: $p, name: "Doing") { id } }', { p: projectId }, ada.token);
    const ids = {};
    await createTask(env, ada.token, { title: 'Buy seeds', projectId });
    for (const title of ['Dig beds', 'Plant roses']) ids[title] = (await createTask(env, ada.token, { title, sectionId: todo })).id;
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
    for (const name of ['Apple', 'Banana', 'Cherry']) await createProject(env, ada, name, '#3a7bd5');
    const shared = await createProject(env, ada, 'Shared');
    await share(env, ada, shared, bob, 'VIEWER');
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
