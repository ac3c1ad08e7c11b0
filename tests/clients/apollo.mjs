// Apollo Client 4: its defaults, useGETForQueries, and the automatic persisted-query link.
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { check, expect, recordingFetch, report, unique, url } from './lib.mjs';

const log = [];
const sha256 = (text) => createHash('sha256').update(text).digest('hex');

function client({ token, http = {}, persisted = null } = {}) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const httpLink = new HttpLink({ uri: url, fetch: recordingFetch(log), headers, ...http });
  const link = persisted ? ApolloLink.from([new PersistedQueryLink({ sha256, ...persisted }), httpLink]) : httpLink;
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

const SIGN_UP = gql`mutation SignUp($email: String!, $password: String!) {
  signUp(email: $email, password: $password) { token } }`;
const CREATE = gql`mutation Create($title: String!) { createTask(input: { title: $title }) { id title } }`;
const fresh = { fetchPolicy: 'network-only' };

let token;
await check('defaults: a mutation and a query', async () => {
  const { data } = await client().mutate({ mutation: SIGN_UP, variables: { email: `apollo-${unique()}@example.com`, password: 'correct horse' } });
  token = data.signUp.token;
  const me = await client({ token }).query({ query: gql`query Me { me { id timezone } }`, ...fresh });
  expect(me.data.me.timezone === 'UTC', JSON.stringify(me.data));
  expect(log.at(-1).method === 'POST', log.at(-1).method);
});
await check('defaults: a validation error is a GraphQL error with its code', async () => {
  try {
    await client({ token }).query({ query: gql`query Broken { me { noSuchField } }`, ...fresh });
    throw new Error('no error');
  } catch (error) {
    expect(error.errors?.[0]?.extensions?.code === 'BAD_USER_INPUT', `${error.name}: ${error.message}`);
  }
});
await check('defaults: a field error is a GraphQL error with its code', async () => {
  try {
    await client().query({ query: gql`query MeAnonymous { me { id } }`, ...fresh });
    throw new Error('no error');
  } catch (error) {
    expect(error.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED', `${error.name}: ${error.message}`);
  }
});
await check('useGETForQueries: queries go as GET, mutations as POST', async () => {
  const getting = client({ token, http: { useGETForQueries: true } });
  const created = await getting.mutate({ mutation: CREATE, variables: { title: 'from apollo' } });
  expect(log.at(-1).method === 'POST', log.at(-1).method);
  const listed = await getting.query({ query: gql`query Tasks { tasks(first: 20) { edges { node { id } } } }`, ...fresh });
  expect(log.at(-1).method === 'GET', log.at(-1).method);
  expect(listed.data.tasks.edges.some((e) => e.node.id === created.data.createTask.id), JSON.stringify(listed.data));
});
for (const useGETForHashedQueries of [false, true]) {
  await check(`persisted queries (useGETForHashedQueries: ${useGETForHashedQueries}): hash, then text once, then hash alone`, async () => {
    const alias = `me_${unique()}`; // a document the gateway has never stored
    const query = gql(`query Persisted { ${alias}: me { timezone } }`);
    const before = log.length;
    const first = await client({ token, persisted: { useGETForHashedQueries } }).query({ query, ...fresh });
    expect(first.data[alias].timezone === 'UTC', JSON.stringify(first.data));
    const [miss, retry] = log.slice(before);
    expect(log.length - before === 2, `requests: ${JSON.stringify(log.slice(before))}`);
    expect(!('query' in miss.sent) && JSON.stringify(miss.sent.extensions).includes('sha256Hash'), JSON.stringify(miss));
    expect('query' in retry.sent, JSON.stringify(retry));
    expect(miss.method === (useGETForHashedQueries ? 'GET' : 'POST'), miss.method);
    const again = await client({ token, persisted: { useGETForHashedQueries } }).query({ query, ...fresh });
    expect(again.data[alias].timezone === 'UTC', JSON.stringify(again.data));
    expect(log.length - before === 3 && !('query' in log.at(-1).sent), JSON.stringify(log.slice(before)));
  });
}
await check('persisted queries: a mutation', async () => {
  const created = await client({ token, persisted: {} }).mutate({ mutation: CREATE, variables: { title: 'persisted' } });
  expect(created.data.createTask.title === 'persisted', JSON.stringify(created.data));
});
report({ requests: log.map(({ method, status }) => `${method} ${status}`) });
