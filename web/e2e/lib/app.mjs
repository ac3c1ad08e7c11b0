// What the browser specs share: accounts signed up over the API, a logged-in page in its own
// browser context (a project's layout, permissions, the service worker in control), axe-core's
// WCAG 2.2 AA check, screenshots, projects arranged and shared, dnd-kit's live region and drags.
// Every wait here has a timeout: a test that waits forever hangs the whole run.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { gql, repoDir, screenshotDir } from '../harness.mjs';

// axe-core's check is the harness's: one copy for every spec.
export { axe } from '../harness.mjs';

/** TASKSTREAM_SCREENSHOTS=docs writes the screenshots to docs/screenshots/ (`npm run screenshots`). */
export const SHOTS = process.env.TASKSTREAM_SCREENSHOTS === 'docs' ? path.join(repoDir, 'docs', 'screenshots') : screenshotDir;
export const PASSWORD = 'correct horse 42';
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

let seq = 0;

/**
 * A new account, signed up over the API: `{ email, token }`. `name` ("ada.lovelace") makes the
 * avatars' initials; `tag` keeps the addresses of one test apart from another's.
 */
export async function signUp(env, { tag, name = 'sam.doe', timezone = 'Europe/Berlin' }) {
  const email = `${name}+${tag}${Date.now() % 100000}${++seq}@example.test`;
  const d = await gql(
    env.baseUrl,
    'mutation($e: String!, $p: String!, $tz: String) { signUp(email: $e, password: $p, timezone: $tz) { token } }',
    { e: email, p: PASSWORD, tz: timezone },
  );
  return { email, token: d.signUp.token };
}

/**
 * A logged-in page in a new browser context: the token (and any other `storage` entries) is put
 * in localStorage before the app starts; page errors are collected in `pageErrors`.
 * bypassCSP lets axe-core be injected as a script (the page's Content-Security-Policy refuses it).
 */
export async function openApp(
  env,
  token,
  {
    pageErrors,
    hash = '#/inbox',
    viewport = DESKTOP,
    colorScheme = 'light',
    reducedMotion = 'no-preference',
    timezoneId = 'Europe/Berlin',
    bypassCSP = true,
    fixedNow = null,
    storage = {},
    serviceWorkers = 'allow',
    permissions = [],
  },
) {
  const ctx = await env.browser.newContext({ viewport, colorScheme, reducedMotion, timezoneId, locale: 'en-GB', bypassCSP, serviceWorkers });
  ctx.setDefaultTimeout(15_000);
  if (permissions.length) await ctx.grantPermissions(permissions, { origin: env.baseUrl });
  await ctx.addInitScript(
    ([t, entries]) => {
      localStorage.setItem('taskstream.token', t);
      for (const [k, v] of entries) localStorage.setItem(k, v);
    },
    [token, Object.entries(storage)],
  );
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  if (fixedNow) await page.clock.setFixedTime(new Date(fixedNow));
  await page.goto(`${env.baseUrl}/${hash}`);
  await page.locator('main#main').waitFor();
  return page;
}

/** The localStorage entry (for `openApp`'s `storage`) that opens a project in a layout: 'list' (Sections) or 'board'. */
export function layoutStorage(projectId, layout) {
  return { [`taskstream.projectLayout.${projectId}`]: layout };
}

/** Waits until the service worker (public/sw.js, production builds) controls the page. */
export async function controlledByServiceWorker(page, timeout = 20_000) {
  await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout });
}

/** Saves what the viewport shows as SHOTS/<name>.png. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** A project of `owner`'s; its id. */
export async function createProject(env, owner, name, color = '#2b8a3e') {
  const d = await gql(env.baseUrl, 'mutation($n: String!, $c: String) { createProject(name: $n, color: $c) { id } }', { n: name, c: color }, owner.token);
  return d.createProject.id;
}

/** Invites `invitee` to the project with `role` and accepts for them. */
export async function share(env, owner, projectId, invitee, role = 'EDITOR') {
  const inv = await gql(
    env.baseUrl,
    'mutation($p: ID!, $e: String!, $r: ProjectRole!) { inviteToProject(projectId: $p, email: $e, role: $r) { id } }',
    { p: projectId, e: invitee.email, r: role },
    owner.token,
  );
  await gql(env.baseUrl, 'mutation($id: ID!) { acceptInvitation(id: $id) { id } }', { id: inv.inviteToProject.id }, invitee.token);
}

/** A task created over the API: `{ id, title, version }`. */
export async function createTask(env, token, input) {
  const d = await gql(env.baseUrl, 'mutation($i: CreateTaskInput!) { createTask(input: $i) { id title version } }', { i: input }, token);
  return d.createTask;
}

const LIVE_REGION = '[id^="DndLiveRegion"]';

/** Waits for dnd-kit's (visually hidden) live region to say something matching `pattern`. */
export async function announced(page, pattern, timeout = 15_000) {
  try {
    await page.waitForFunction(([sel, p]) => [...document.querySelectorAll(sel)].some((el) => new RegExp(p).test(el.textContent ?? '')), [LIVE_REGION, pattern], { timeout });
  } catch (error) {
    const said = await page.evaluate((sel) => [...document.querySelectorAll(sel)].map((el) => el.textContent), LIVE_REGION);
    throw new Error(`the live region never matched ${pattern}; it says ${JSON.stringify(said)}`, { cause: error });
  }
}

/**
 * Presses `key` until the live region matches `pattern` (at most 5 times). dnd-kit's keyboard
 * sensor ignores a key that comes before it has measured the lists; with `still` (what the region
 * says while the item has not moved) the key is pressed again only while it says that.
 */
export async function pressUntilAnnounced(page, key, pattern, still = null) {
  for (let attempt = 1; ; attempt += 1) {
    await page.keyboard.press(key);
    try {
      await announced(page, pattern, 3_000);
      return;
    } catch (error) {
      const unmoved =
        still === null || (await page.evaluate(([sel, s]) => [...document.querySelectorAll(sel)].some((el) => new RegExp(s).test(el.textContent ?? '')), [LIVE_REGION, still]));
      if (!unmoved || attempt === 5) throw error;
    }
  }
}

/** Drags by mouse from the middle of one element to the middle of another (past dnd-kit's activation distance first). */
export async function drag(page, fromLocator, toLocator) {
  const from = await fromLocator.boundingBox();
  const to = await toLocator.boundingBox();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2 + 8, { steps: 4 });
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 15 });
  await page.mouse.up();
}
