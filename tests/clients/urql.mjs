// urql with its default options (GET for queries within the URL limit) against URL.
import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';
import { check, expect, recordingFetch, report, unique, url } from './lib.mjs';

const log = [];
let token = null;
const client = new Client({
  url,
  exchanges: [cacheExchange, fetchExchange],
  fetch: recordingFetch(log),
  // The only option set: the bearer token, as an app must.
  fetchOptions: () => (token ? { headers: { authorization: `Bearer ${token}` } } : {}),
});
const fresh = { requestPolicy: 'network-only' };

const SIGN_UP = gql`mutation SignUp($email: String!, $password: String!) {
  signUp(email: $email, password: $password) { token user { id email } } }`;
const ME = gql`query Me { me { id email timezone } }`;
const CREATE = gql`mutation Create($title: String!) { createTask(input: { title: $title }) { id title } }`;
const TASKS = gql`query Tasks($first: Int!) { tasks(first: $first) { totalCount edges { node { id title } } } }`;

let taskId;
await check('a mutation (signUp) is POSTed and answers a token', async () => {
  const result = await client.mutation(SIGN_UP, { email: `urql-${unique()}@example.com`, password: 'correct horse' }).toPromise();
  expect(!result.error, `signUp failed: ${result.error}`);
  token = result.data.signUp.token;
  expect(log.at(-1).method === 'POST', `signUp went as ${log.at(-1).method}`);
});
await check('a query is sent with GET and answers data', async () => {
  const result = await client.query(ME, {}, fresh).toPromise();
  expect(!result.error, `me failed: ${result.error}`);
  expect(result.data.me.timezone === 'UTC', JSON.stringify(result.data));
  expect(log.at(-1).method === 'GET', `me went as ${log.at(-1).method}`);
  expect(log.at(-1).type.startsWith('application/graphql-response+json'), log.at(-1).type);
});
await check('a mutation with variables changes data a later GET query sees', async () => {
  const created = await client.mutation(CREATE, { title: 'from urql' }).toPromise();
  expect(!created.error, `createTask failed: ${created.error}`);
  taskId = created.data.createTask.id;
  const listed = await client.query(TASKS, { first: 10 }, fresh).toPromise();
  expect(!listed.error, `tasks failed: ${listed.error}`);
  expect(listed.data.tasks.edges.some((e) => e.node.id === taskId), JSON.stringify(listed.data));
  expect(log.at(-1).method === 'GET', `tasks went as ${log.at(-1).method}`);
});
await check('a field error reaches the caller with its code', async () => {
  const saved = token;
  token = null;
  const result = await client.query(ME, {}, fresh).toPromise();
  token = saved;
  expect(result.error?.graphQLErrors[0]?.extensions?.code === 'UNAUTHENTICATED', String(result.error));
});
await check('a validation error (400 under graphql-response+json) is a GraphQL error, not a network error', async () => {
  const result = await client.query(gql`query Broken { me { noSuchField } }`, {}, fresh).toPromise();
  expect(!result.error?.networkError, `network error: ${result.error?.networkError}`);
  expect(result.error?.graphQLErrors[0]?.extensions?.code === 'BAD_USER_INPUT', String(result.error));
  expect(log.at(-1).status === 400, `status ${log.at(-1).status}`);
});
await check('a refused mutation reports BAD_USER_INPUT naming the field', async () => {
  const result = await client.mutation(CREATE, { title: '   ' }).toPromise();
  const error = result.error?.graphQLErrors[0];
  expect(error?.extensions?.code === 'BAD_USER_INPUT' && /title/.test(error.message), String(result.error));
});
report({ requests: log.map(({ method, status }) => `${method} ${status}`) });
