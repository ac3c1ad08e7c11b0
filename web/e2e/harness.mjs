// Starts a private `taskstream up` (temp data dir, free port) and a headless Debian Chromium
// for the browser end-to-end tests. Nothing here downloads anything.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const webDir = path.resolve(here, '..');
export const repoDir = path.resolve(webDir, '..');
export const screenshotDir = path.join(here, 'screenshots');

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns `taskstream up` and resolves once it prints its URL line. */
export async function startServer({ port, dataDir, timeoutMs = 180_000 }) {
  const bin = process.env.TASKSTREAM_BIN ?? path.join(repoDir, '.venv', 'bin', 'taskstream');
  if (!existsSync(bin)) throw new Error(`${bin} not found: run the repository's bootstrap first`);
  const child = spawn(bin, ['up', '--port', String(port), '--data-dir', dataDir], {
    cwd: repoDir,
    // Every test signs up and logs in from 127.0.0.1: lift the per-address log-in limit.
    env: {
      ...process.env,
      TASKSTREAM_WEBHOOK_ALLOW_PRIVATE: '1',
      TASKSTREAM_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE: '100000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`taskstream up did not start in ${timeoutMs} ms:\n${log.slice(-4000)}`)), timeoutMs);
    const onData = (chunk) => {
      log += chunk.toString();
      const m = /Taskstream is up at (http:\/\/\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`taskstream up exited with ${code}:\n${log.slice(-4000)}`));
    });
  });
  child.stdout.removeAllListeners('data');
  child.stderr.removeAllListeners('data');
  child.removeAllListeners('exit');
  // Keep draining output so the pipe never fills.
  child.stdout.resume();
  child.stderr.resume();
  return { child, url, log: () => log };
}

export async function stopServer(child, timeoutMs = 30_000) {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(t);
}

export async function setup() {
  mkdirSync(screenshotDir, { recursive: true });
  if (!existsSync(path.join(webDir, 'dist', 'index.html'))) throw new Error('web/dist is missing: run `npm run build` first');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ts-web-e2e-'));
  const port = await freePort();
  const server = await startServer({ port, dataDir });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  return {
    port,
    dataDir,
    server,
    browser,
    baseUrl: server.url,
    async teardown() {
      await browser.close().catch(() => {});
      await stopServer(this.server.child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Plain GraphQL over HTTP, for arranging data and checking what the UI did. */
export async function gql(baseUrl, query, variables = {}, token = null) {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Saves a screenshot of what the viewport shows (or the whole page), scrolled to the top. */
export async function shot(page, name, { fullPage = false, keepScroll = false } = {}) {
  if (!keepScroll) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage });
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Fails with every WCAG 2.2 AA violation axe-core finds on the page (its context needs bypassCSP). */
export async function axe(page, label) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => `${n.html} — ${n.failureSummary}`).slice(0, 4).join(' | ')}`);
  });
  assert.deepEqual(result, [], `axe-core WCAG 2.2 AA violations on ${label}:\n${result.join('\n')}`);
}
