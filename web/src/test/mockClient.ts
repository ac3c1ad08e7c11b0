// A urql Client whose network is a function: tests answer operations by name.
import { Client, makeResult, type Exchange, type Operation } from '@urql/core';
import { filter, fromPromise, mergeMap, pipe } from 'wonka';

export interface MockResponse {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export type Handler = (name: string, variables: Record<string, unknown>, op: Operation) => MockResponse | Promise<MockResponse>;

export function operationName(op: Operation): string {
  for (const d of op.query.definitions) if (d.kind === 'OperationDefinition' && d.name) return d.name.value;
  return '';
}

export function mockClient(handler: Handler) {
  const calls: { name: string; variables: Record<string, unknown> }[] = [];
  const exchange: Exchange = () => (ops$) =>
    pipe(
      ops$,
      filter((op) => op.kind !== 'teardown' && op.kind !== 'subscription'),
      mergeMap((op) => {
        const name = operationName(op);
        const variables = (op.variables ?? {}) as Record<string, unknown>;
        calls.push({ name, variables });
        return fromPromise(Promise.resolve(handler(name, variables, op)).then((r) => makeResult(op, { data: r.data ?? null, errors: r.errors } as never)));
      }),
    );
  const client = new Client({ url: 'http://test/graphql', exchanges: [exchange], requestPolicy: 'network-only' });
  return { client, calls };
}

export const ME = { __typename: 'User' as const, id: 'u1', email: 'ada@example.test', timezone: 'Europe/Berlin' };
