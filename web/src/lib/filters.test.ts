import { describe, expect, it } from 'vitest';
import { activeFilterCount, defaultFilters, filtersToVariables, type FilterState } from './filters';

const TZ = 'Europe/Berlin';
const NOW = Date.parse('2026-11-28T20:00:00Z'); // Saturday 21:00 in Berlin
const f = (patch: Partial<FilterState>): FilterState => ({ ...defaultFilters(), ...patch });

describe('filter chips → TaskFilter variables', () => {
  it('defaults to open tasks in the server’s default order', () => {
    expect(filtersToVariables(defaultFilters(), TZ, NOW)).toEqual({ filter: { status: 'OPEN' }, orderBy: null });
    expect(filtersToVariables(f({ status: 'ALL' }), TZ, NOW)).toEqual({ filter: null, orderBy: null });
  });

  it('maps text, priorities (in a stable order), tags, overdue and recurring', () => {
    expect(
      filtersToVariables(
        f({ text: '  meeting ', priorities: ['LOW', 'URGENT'], tags: ['work', 'home'], overdue: true, recurring: 'no', status: 'DONE' }),
        TZ,
        NOW,
      ).filter,
    ).toEqual({ text: 'meeting', status: 'DONE', priorities: ['URGENT', 'LOW'], anyTags: ['work', 'home'], overdue: true, recurring: false });
    expect(filtersToVariables(f({ tags: ['a', 'b'], tagMode: 'all' }), TZ, NOW).filter).toEqual({ status: 'OPEN', allTags: ['a', 'b'] });
    expect(filtersToVariables(f({ recurring: 'yes' }), TZ, NOW).filter?.recurring).toBe(true);
  });

  it('computes due windows in the user’s zone', () => {
    expect(filtersToVariables(f({ due: 'today' }), TZ, NOW).filter).toMatchObject({
      dueFrom: '2026-11-28T00:00:00+01:00',
      dueTo: '2026-11-28T23:59:59+01:00',
    });
    expect(filtersToVariables(f({ due: 'next7' }), TZ, NOW).filter).toMatchObject({
      dueFrom: '2026-11-28T00:00:00+01:00',
      dueTo: '2026-12-04T23:59:59+01:00',
    });
    expect(filtersToVariables(f({ due: 'today' }), 'America/New_York', NOW).filter).toMatchObject({
      dueFrom: '2026-11-28T00:00:00-05:00',
    });
    expect(filtersToVariables(f({ due: 'custom', dueFrom: '2026-03-28', dueTo: '2026-03-29' }), TZ, NOW).filter).toMatchObject({
      dueFrom: '2026-03-28T00:00:00+01:00',
      dueTo: '2026-03-29T23:59:59+02:00',
    });
    expect(filtersToVariables(f({ due: 'custom', dueFrom: '', dueTo: '' }), TZ, NOW).filter).toEqual({ status: 'OPEN' });
  });

  it('sorts by the chosen field and direction; RELEVANCE only while searching', () => {
    expect(filtersToVariables(f({ sort: 'PRIORITY', direction: 'DESC' }), TZ, NOW).orderBy).toEqual([{ field: 'PRIORITY', direction: 'DESC' }]);
    expect(filtersToVariables(f({ sort: 'RELEVANCE', direction: 'DESC' }), TZ, NOW).orderBy).toBeNull();
    expect(filtersToVariables(f({ sort: 'RELEVANCE', direction: 'DESC', text: 'x' }), TZ, NOW).orderBy).toEqual([
      { field: 'RELEVANCE', direction: 'DESC' },
    ]);
  });

  it('counts active chips', () => {
    expect(activeFilterCount(defaultFilters())).toBe(0);
    expect(activeFilterCount(f({ status: 'ALL', overdue: true, tags: ['x'], text: 'not a chip' }))).toBe(3);
  });
});
