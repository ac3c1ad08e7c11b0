// Writes src/gql/trusted-documents.json: every GraphQL document the app sends, by SHA-256.
//
// The gateway's trusted-documents policy (TASKSTREAM_GRAPHQL_TRUSTED_DOCUMENTS_ONLY) runs only
// these for anonymous callers and ordinary accounts. The texts are what urql really sends: each
// generated document goes through the app's own client set-ups (src/lib/client.ts adds
// __typename through cacheExchange; the sign-in screen's client does not), with a fetch and a
// subscription transport that only record. `--check` fails when the committed file is stale.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';

const GENERATED = new URL('../src/gql/graphql.ts', import.meta.url);
const MANIFEST = new URL('../src/gql/trusted-documents.json', import.meta.url);
const DOCUMENT = /^export const (\w+)Document = (\{.*\}) as unknown as DocumentNode</;

const documents = readFileSync(GENERATED, 'utf8')
  .split('\n')
  .map((line) => DOCUMENT.exec(line))
  .filter(Boolean)
  .map(([, name, json]) => ({ name, document: JSON.parse(json) }));
if (documents.length === 0) throw new Error(`no documents found in ${GENERATED.pathname}`);

const texts = new Set();
const recordingFetch = async (_url, init) => {
  texts.add(JSON.parse(init.body).query);
  return new Response('{"data":null}', { headers: { 'content-type': 'application/json' } });
};
const recordingSubscriptions = subscriptionExchange({
  forwardSubscription(request) {
    texts.add(request.query);
    return { subscribe: (sink) => (sink.complete(), { unsubscribe() {} }) };
  },
});
const setups = [
  [cacheExchange, fetchExchange, recordingSubscriptions], // src/lib/client.ts
  [fetchExchange, recordingSubscriptions], // src/components/AuthScreen.tsx
];
for (const exchanges of setups) {
  const client = new Client({ url: 'http://app.invalid/graphql', preferGetMethod: false, fetch: recordingFetch, exchanges });
  for (const { document } of documents) {
    const operation = document.definitions.find((d) => d.kind === 'OperationDefinition').operation;
    const method = operation === 'subscription' ? 'subscription' : operation;
    await client[method](document, {}, { requestPolicy: 'network-only' }).toPromise();
  }
}

const manifest = Object.fromEntries(
  [...texts].map((text) => [createHash('sha256').update(text).digest('hex'), text]).sort(([a], [b]) => a.localeCompare(b)),
);
const output = `${JSON.stringify(manifest, null, 2)}\n`;
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(MANIFEST, 'utf8');
  } catch {}
  if (committed !== output) {
    console.error("web: src/gql/trusted-documents.json is stale: run 'cd web && npm run codegen' and commit it");
    process.exit(1);
  }
} else {
  writeFileSync(MANIFEST, output);
  console.log(`trusted documents: ${Object.keys(manifest).length} texts of ${documents.length} operations`);
}
