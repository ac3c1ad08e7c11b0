// graphql-sse's own client (distinct connections mode, its default) against URL: a live
// subscription, a query over the stream, and an unauthenticated subscription.
import { createClient } from 'graphql-sse';
import { check, expect, report, unique, url } from './lib.mjs';

async function graphql(query, variables, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return response.json();
}

function sseClient(token) {
  return createClient({ url, headers: token ? { authorization: `Bearer ${token}` } : {}, retryAttempts: 0 });
}

const signedUp = await graphql(
  'mutation($e: String!) { signUp(email: $e, password: "correct horse") { token } }',
  { e: `sse-${unique()}@example.com` },
);
const token = signedUp.data.signUp.token;

await check('a subscription streams the caller\'s task events', async () => {
  const client = sseClient(token);
  const events = client.iterate({ query: 'subscription { taskEvents { kind task { title } } }' });
  // Nothing tells a client when the server's subscription is in place: changes are made
  // until the first one arrives (each is a CREATED event of the same shape).
  const first = events.next();
  const timer = setInterval(() => {
    graphql('mutation { createTask(input: { title: "over SSE" }) { id } }', {}, token);
  }, 300);
  const { value } = await first;
  clearInterval(timer);
  expect(value.data?.taskEvents?.kind === 'CREATED', JSON.stringify(value));
  expect(value.data.taskEvents.task.title === 'over SSE', JSON.stringify(value));
  await events.return();
  client.dispose();
});
await check('a query over the stream answers once and completes', async () => {
  const client = sseClient(token);
  const results = [];
  for await (const result of client.iterate({ query: '{ me { timezone } }' })) results.push(result);
  expect(results.length === 1 && results[0].data.me.timezone === 'UTC', JSON.stringify(results));
  client.dispose();
});
await check('an unauthenticated subscription gets UNAUTHENTICATED', async () => {
  const client = sseClient(null);
  const results = [];
  try {
    for await (const result of client.iterate({ query: 'subscription { taskEvents { kind } }' })) results.push(result);
  } catch (error) {
    results.push({ thrown: String(error) });
  }
  const codes = results.flatMap((r) => (r.errors ?? []).map((e) => e.extensions?.code));
  expect(codes.includes('UNAUTHENTICATED'), JSON.stringify(results));
  client.dispose();
});
report();
