// graphql-http's serverAudits (the GraphQL-over-HTTP specification's audit) against URL.
import { serverAudits } from 'graphql-http';
import { url } from './lib.mjs';

const results = await Promise.all(serverAudits({ url }).map(({ fn }) => fn()));
const counts = { ok: 0, warn: 0, error: 0 };
for (const result of results) counts[result.status] += 1;
const problems = results
  .filter((result) => result.status !== 'ok')
  .map(({ id, name, status, reason }) => ({ id, name, status, reason }));
console.log(JSON.stringify({ counts, problems }));
process.exit(problems.length ? 1 : 0);
