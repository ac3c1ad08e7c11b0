// One change's trace in Jaeger's UI, as docs/operations.md shows it (docs/screenshots/).
//
// Against a running `taskstream stack up --tracing --data-dir DIR`:
//   node web/scripts/jaeger-trace-screenshot.mjs DIR [OUT_DIR]
// A subscriber (a socket opened in Chromium on the gateway's origin, as the web app does) listens
// to taskEvents; createTask (a reminder, a daily recurrence) and completeTask are sent; once each
// change's trace in Jaeger holds the gateway's request, the relay's publish, the sidecars' spans,
// every worker's handling and the push to the socket, with no span whose parent is missing, its
// page in Jaeger's UI is screenshot (jaeger-trace-create.png, jaeger-trace-complete.png).
// Bounded: every wait has a deadline; the script exits non-zero naming what did not arrive.
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = process.argv[2];
if (!dataDir) {
  console.error('usage: node web/scripts/jaeger-trace-screenshot.mjs STACK_DATA_DIR [OUT_DIR]');
  process.exit(2);
}
const outDir = process.argv[3] ?? path.join(here, '..', '..', 'docs', 'screenshots');
const stack = JSON.parse(readFileSync(path.join(dataDir, 'run', 'stack.json'), 'utf8'));
if (!stack.jaeger) {
  console.error(`${dataDir}: this stack runs without Jaeger (start it with --tracing)`);
  process.exit(2);
}
const TRACE_DEADLINE_MS = 120_000;
const PUSH_DEADLINE_MS = 30_000;

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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The trace holding the publish of `event` about `taskId`, once it is whole: the worker spans
// and the push are in it and every span's parent is too (each process exports on its own).
async function wholeTrace(taskId, eventType, workers) {
  const tags = JSON.stringify({ 'cloudevents.event_subject': taskId, 'cloudevents.event_type': eventType });
  const deadline = Date.now() + TRACE_DEADLINE_MS;
  let last = 'no trace yet';
  while (Date.now() < deadline) {
    for (const service of ['taskstream-gateway-1', 'taskstream-gateway-2']) {
      const url = `${stack.jaeger}/api/traces?service=${service}&tags=${encodeURIComponent(tags)}&limit=5`;
      const found = await (await fetch(url)).json();
      for (const trace of found.data ?? []) {
        const ids = new Set(trace.spans.map((s) => s.spanID));
        const orphans = trace.spans.filter((s) =>
          s.references.some((r) => r.refType === 'CHILD_OF' && !ids.has(r.spanID)),
        );
        const serviceOf = (s) => trace.processes[s.processID].serviceName;
        const handled = new Set(
          trace.spans.filter((s) => s.operationName === `handle ${eventType}`).map(serviceOf),
        );
        const pushed = trace.spans.some((s) => s.operationName === 'push taskEvents');
        const missing = workers.filter((w) => !handled.has(`taskstream-${w}`));
        last = `${trace.spans.length} spans, orphans ${orphans.length}, push ${pushed}, missing ${missing}`;
        if (orphans.length === 0 && pushed && missing.length === 0) return trace;
      }
    }
    await sleep(1000);
  }
  throw new Error(`the trace of ${eventType} for ${taskId} never became whole (${last})`);
}

async function screenshot(page, trace, name) {
  await page.goto(`${stack.jaeger}/trace/${trace.traceID}`);
  await page.getByText('push taskEvents').first().waitFor({ timeout: 30_000 });
  await sleep(1000);
  const file = path.join(outDir, name);
  await page.screenshot({ path: file, fullPage: true });
  const services = [...new Set(Object.values(trace.processes).map((p) => p.serviceName))].sort();
  console.log(`${file}: trace ${trace.traceID}, ${trace.spans.length} spans, services ${services.join(', ')}`);
}

const { token } = (
  await gql('mutation($e: String!, $p: String!) { signUp(email: $e, password: $p) { token } }', {
    e: `traced-${Date.now()}@example.com`,
    p: 'correct horse battery',
  })
).signUp;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' });
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  // The subscriber: a graphql-transport-ws socket from the gateway's own origin.
  await page.goto(stack.url);
  await page.evaluate(
    ({ token }) =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(`${location.origin.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
        window.pushes = [];
        socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
        socket.onerror = () => reject(new Error('the subscription socket failed'));
        socket.onmessage = (message) => {
          const data = JSON.parse(message.data);
          if (data.type === 'connection_ack') {
            socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { taskEvents { kind taskId } }' } }));
            setTimeout(resolve, 500);
          } else if (data.type === 'next') window.pushes.push(data.payload.data.taskEvents);
        };
      }),
    { token },
  );
  const dueAt = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const { createTask } = await gql(
    'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }',
    { i: { title: 'Traced through the stack', dueAt, recurrence: { rule: 'FREQ=DAILY' }, reminders: [{ beforeDue: 30 }] } },
    token,
  );
  const pushedKinds = async (kind) => {
    await page.waitForFunction(
      ([id, kind]) => window.pushes.some((p) => p.taskId === id && p.kind === kind),
      [createTask.id, kind],
      { timeout: PUSH_DEADLINE_MS },
    );
  };
  await pushedKinds('CREATED');
  await gql('mutation($id: ID!) { completeTask(id: $id) { id } }', { id: createTask.id }, token);
  await pushedKinds('COMPLETED');
  mkdirSync(outDir, { recursive: true });
  const created = await wholeTrace(createTask.id, 'taskstream.task.created.v1', ['notifications', 'audit']);
  await screenshot(page, created, 'jaeger-trace-create.png');
  const completed = await wholeTrace(createTask.id, 'taskstream.task.completed.v1', ['recurrence', 'audit']);
  await screenshot(page, completed, 'jaeger-trace-complete.png');
} finally {
  await browser.close();
}
