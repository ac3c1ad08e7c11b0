import { describe, expect, it } from 'vitest';
import { createRequest, makeOperation, type Operation } from '@urql/core';
import { parse } from 'graphql';
import { RETRYABLE_CLOSE_CODE, retryableCloseCode, retryingWebSocket, withIdempotencyKey } from './client';

describe('WebSocket close codes', () => {
  it('turns every code graphql-ws would give up on into one it retries', () => {
    for (const code of [1002, 1003, 1007, 1008, 1009, 1010, 1011, 4400, 4500, 4409, 4429]) {
      expect(retryableCloseCode(code)).toBe(RETRYABLE_CLOSE_CODE);
    }
  });
  it('keeps codes it already retries and the auth refusals', () => {
    for (const code of [1000, 1001, 1006, 1012, 4401, 4403, 4408, 4499]) expect(retryableCloseCode(code)).toBe(code);
  });
  it('rewrites the close event a handler sees, keeping the original code in the reason', () => {
    const seen: CloseEvent[] = [];
    class FakeSocket extends EventTarget {
      static readonly CONNECTING = 0;
      static readonly OPEN = 1;
      static readonly CLOSING = 2;
      static readonly CLOSED = 3;
      private h: ((ev: CloseEvent) => unknown) | null = null;
      constructor(_url: string | URL, _protocols?: string | string[]) {
        super();
      }
      get onclose() {
        return this.h;
      }
      set onclose(h) {
        this.h = h;
      }
      fire(code: number) {
        this.h?.(new CloseEvent('close', { code, reason: 'boom' }));
      }
    }
    // A subclass of the socket (as test tools install): onclose lives further up the chain.
    class SubSocket extends FakeSocket {}
    const Impl = retryingWebSocket(SubSocket as unknown as typeof WebSocket);
    const s = new Impl('ws://x') as unknown as FakeSocket & WebSocket;
    s.onclose = (ev) => seen.push(ev);
    s.fire(1011);
    s.fire(1006);
    expect(seen.map((e) => [e.code, e.reason])).toEqual([
      [RETRYABLE_CLOSE_CODE, '1011 boom'],
      [1006, 'boom'],
    ]);
  });
});

describe('Idempotency-Key', () => {
  const operation = (kind: 'query' | 'mutation'): Operation =>
    makeOperation(kind, createRequest(parse(`${kind} { x }`), {}), {
      url: '/graphql',
      requestPolicy: 'network-only',
      fetchOptions: () => ({ headers: { authorization: 'Bearer t' } }),
    }) as Operation;
  const headers = (op: Operation) =>
    (op.context.fetchOptions as RequestInit | undefined)?.headers as Record<string, string> | undefined;

  it('gives each mutation its own key and keeps the other headers', () => {
    const one = headers(withIdempotencyKey(operation('mutation')));
    const two = headers(withIdempotencyKey(operation('mutation')));
    expect(one?.authorization).toBe('Bearer t');
    expect(one?.['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(two?.['idempotency-key']).not.toBe(one?.['idempotency-key']);
  });
  it('leaves queries alone', () => {
    const query = operation('query');
    expect(withIdempotencyKey(query)).toBe(query);
  });
});
