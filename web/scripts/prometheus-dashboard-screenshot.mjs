// The Grafana dashboard's panels, rendered by Prometheus's own UI over a running stack's metrics.
//
// Grafana itself cannot be installed here (docs/operations.md says why); Prometheus can (Debian's
// `prometheus` package). Against a running `taskstream stack up --data-dir DIR`:
//   node web/scripts/prometheus-dashboard-screenshot.mjs DIR [OUT_DIR] [LOAD_SECONDS]
// Prometheus scrapes every service's /metrics listener and every sidecar's metrics port (5 s
// interval, exemplar storage on); a bounded load (createTask with a reminder due seconds later,
// a page of tasks, completeTask) runs for LOAD_SECONDS (default 150); then Prometheus's graph page
// shows each panel of infra/helm/taskstream/dashboards/taskstream.json (its queries as written,
// $namespace set) and is screenshot as prometheus-dashboard.png. Prometheus is stopped at the end.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.join(here, '..', '..');
const [dataDir, outArg, loadArg] = process.argv.slice(2);
if (!dataDir) {
  console.error('usage: node web/scripts/prometheus-dashboard-screenshot.mjs STACK_DATA_DIR [OUT_DIR] [LOAD_SECONDS]');
  process.exit(2);
}
const outDir = outArg ?? path.join(repo, 'docs', 'screenshots');
const loadSeconds = Math.min(Number(loadArg ?? 150), 600);
const NAMESPACE = 'taskstream';
const stack = JSON.parse(readFileSync(path.join(dataDir, 'run', 'stack.json'), 'utf8'));
const dashboard = JSON.parse(
  readFileSync(path.join(repo, 'infra', 'helm', 'taskstream', 'dashboards', 'taskstream.json'), 'utf8'),
);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// Scrape targets labelled as the chart's ServiceMonitor labels them: service and namespace.
function scrapeConfig() {
  const job = (name, targets) => `  - job_name: ${name}\n    static_configs:\n${targets.join('\n')}\n`;
  const target = (port, service) =>
    `      - targets: ['127.0.0.1:${port}']\n        labels: {service: '${service}', namespace: '${NAMESPACE}'}`;
  const services = Object.entries(stack.services);
  return (
    'global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\nscrape_configs:\n' +
    job('taskstream', services.map(([name, s]) => target(s.metricsPort, name))) +
    job('dapr', services.filter(([, s]) => s.daprMetricsPort).map(([name, s]) => target(s.daprMetricsPort, `daprd-${name}`)))
  );
}

async function gql(query, variables, token) {
  const response = await fetch(`${stack.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`${query.slice(0, 40)}…: ${JSON.stringify(body.errors)}`);
  return body.data;
}

// A person's day, sped up: tasks with a reminder a few seconds out, the list, some completed.
async function load(seconds) {
  const { token } = (
    await gql('mutation($e: String!, $p: String!) { signUp(email: $e, password: $p) { token } }', {
      e: `dashboard-${Date.now()}@example.com`,
      p: 'correct horse battery',
    })
  ).signUp;
  const until = Date.now() + seconds * 1000;
  let changes = 0;
  while (Date.now() < until) {
    const remindAt = new Date(Date.now() + 5000).toISOString();
    const { createTask } = await gql(
      'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }',
      { i: { title: `dashboard ${changes}`, reminders: [{ remindAt }] } },
      token,
    );
    await gql('{ tasks(first: 20) { edges { node { id } } } }', {}, token);
    if (changes % 2 === 0) await gql('mutation($id: ID!) { completeTask(id: $id) { id } }', { id: createTask.id }, token);
    changes += 1;
    await sleep(500);
  }
  return changes;
}

// The words of a target's Grafana legend ("{{service}} p99" -> "p99"): its series keep their labels.
const legend = (target, index) =>
  (target.legendFormat ?? '').replace(/\{\{[^}]*\}\}/g, '').replaceAll('"', '').trim() || target.refId || `${index}`;

// One graph per panel: its targets joined, each series labelled with the target's legend.
function panelExpression(panel) {
  const exprs = panel.targets.map((t) => t.expr.replaceAll('$namespace', NAMESPACE));
  if (exprs.length === 1) return exprs[0];
  return panel.targets.map((t, i) => `label_replace(${exprs[i]}, "target", "${legend(t, i)}", "", "")`).join(' or ');
}

const workDir = path.join(dataDir, 'run', 'prometheus');
mkdirSync(workDir, { recursive: true });
writeFileSync(path.join(workDir, 'prometheus.yml'), scrapeConfig());
const port = await freePort();
const prometheus = spawn(
  process.env.PROMETHEUS ?? '/usr/bin/prometheus',
  [
    `--config.file=${path.join(workDir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(workDir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--enable-feature=exemplar-storage',
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let prometheusLog = '';
prometheus.stderr.on('data', (chunk) => (prometheusLog = (prometheusLog + chunk).slice(-4000)));
const base = `http://127.0.0.1:${port}`;
try {
  for (let tries = 0; ; tries += 1) {
    try {
      if ((await fetch(`${base}/-/ready`)).ok) break;
    } catch {}
    if (tries > 100 || prometheus.exitCode !== null) throw new Error(`Prometheus did not start:\n${prometheusLog}`);
    await sleep(300);
  }
  const changes = await load(loadSeconds);
  await sleep(10_000); // the last scrapes
  const targets = (await (await fetch(`${base}/api/v1/targets`)).json()).data.activeTargets;
  const down = targets.filter((t) => t.health !== 'up').map((t) => t.scrapeUrl);
  console.log(`${changes} changes; ${targets.length} targets scraped, down: ${down.join(', ') || 'none'}`);
  const params = new URLSearchParams();
  dashboard.panels.forEach((panel, i) => {
    params.set(`g${i}.expr`, panelExpression(panel));
    params.set(`g${i}.tab`, '0');
    params.set(`g${i}.range_input`, `${Math.ceil(loadSeconds / 60) + 2}m`);
  });
  for (const panel of dashboard.panels) {
    const result = await (await fetch(`${base}/api/v1/query?${new URLSearchParams({ query: panelExpression(panel) })}`)).json();
    console.log(`${panel.title}: ${result.data?.result?.length ?? 0} series now`);
  }
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${base}/graph?${params}`);
    await sleep(5000);
    // The fixed navigation bar would be drawn across the middle of a full-page screenshot.
    await page.addStyleTag({ content: '.navbar-fixed-top { position: absolute !important; }' });
    mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, 'prometheus-dashboard.png');
    await page.screenshot({ path: file, fullPage: true });
    console.log(file);
  } finally {
    await browser.close();
  }
} finally {
  prometheus.kill('SIGTERM');
}
