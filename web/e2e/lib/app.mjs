// What the browser specs share: accounts signed up over the API, a logged-in page in its own
// browser context, axe-core's WCAG 2.2 AA check, screenshots, and projects arranged and shared.
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
  },
) {
  const ctx = await env.browser.newContext({ viewport, colorScheme, reducedMotion, timezoneId, locale: 'en-GB', bypassCSP, serviceWorkers });
  ctx.setDefaultTimeout(15_000);
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
