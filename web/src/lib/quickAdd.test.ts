import { describe, expect, it } from 'vitest';
import type { Priority } from '../gql/graphql';
import table from '../test/quick-add-table.json';
import { parseQuickAdd, quickAddError } from './quickAdd';

// Friday 4 December 2026, 10:00 in Berlin (09:00 UTC).
const NOW = Date.parse(table.now);
const TZ = table.timezone;

type Row = [phrase: string, title: string, due: string | null, tags: string[], priority: Priority, rule: string | null];

// The table is shared with the browser test (e2e/quickadd.e2e.test.mjs).
const QUICK_ADD_TABLE: Row[] = table.rows.map((r) => [r.phrase, r.title, r.dueAt, r.tags, r.priority as Priority, r.rule]);

describe('parseQuickAdd', () => {
  it('has at least 30 phrases', () => {
    expect(QUICK_ADD_TABLE.length).toBeGreaterThanOrEqual(30);
  });
  it.each(QUICK_ADD_TABLE)('%s', (phrase, title, due, tags, priority, rule) => {
    const r = parseQuickAdd(phrase, TZ, NOW);
    expect({ title: r.title, due: r.dueAt, tags: r.tags, priority: r.priority, rule: r.rule }).toEqual({ title, due, tags, priority, rule });
  });

  it('reads dates in the user’s zone, not the browser’s', () => {
    // 10:00 in Berlin is 04:00 in New York: "5pm" is 17:00 New York time, same day there.
    const r = parseQuickAdd('Call 5pm', 'America/New_York', NOW);
    expect(r.dueAt).toBe('2026-12-04T17:00:00-05:00');
  });

  it('moves a bare time that has passed today to tomorrow', () => {
    const evening = Date.parse('2026-12-04T18:00:00Z'); // 19:00 in Berlin
    expect(parseQuickAdd('Cake 5pm', TZ, evening).dueAt).toBe('2026-12-05T17:00:00+01:00');
  });

  it('marks each understood part with its offsets', () => {
    const text = 'Call mum tomorrow 5pm #home p1';
    const r = parseQuickAdd(text, TZ, NOW);
    expect(r.spans.map((s) => [s.kind, text.slice(s.start, s.end)])).toEqual([
      ['date', 'tomorrow 5pm'],
      ['tag', '#home'],
      ['priority', 'p1'],
    ]);
  });

  it('ends a repeat phrase at its time, before the tags and priority after it', () => {
    const text = 'Standup every weekday at 9 #team p2';
    const r = parseQuickAdd(text, TZ, NOW);
    expect(r.spans.map((s) => [s.kind, text.slice(s.start, s.end)])).toEqual([
      ['repeat', 'every weekday at 9'],
      ['tag', '#team'],
      ['priority', 'p2'],
    ]);
    expect(parseQuickAdd('Gym every day at 7 pm', TZ, NOW).dueAt).toBe('2026-12-04T19:00:00+01:00');
  });

  it('refuses an empty title and names what is allowed', () => {
    expect(quickAddError(parseQuickAdd('tomorrow #home', TZ, NOW))).toMatch(/Type what the task is/);
    expect(quickAddError(parseQuickAdd(`${'x'.repeat(501)} today`, TZ, NOW))).toMatch(/500 characters/);
    expect(quickAddError(parseQuickAdd('Call mum', TZ, NOW))).toBeNull();
  });
});
