import { describe, expect, it } from 'vitest';
import { changedIds } from './flash';

describe('changedIds', () => {
  it('highlights nothing on a first load', () => {
    expect(changedIds(null, [{ id: 'a', version: 1 }])).toEqual([]);
  });
  it('highlights new rows and rows at a higher version only', () => {
    const before = new Map([
      ['a', 1],
      ['b', 4],
    ]);
    expect(
      changedIds(before, [
        { id: 'a', version: 1 },
        { id: 'b', version: 5 },
        { id: 'c', version: 1 },
      ]),
    ).toEqual(['b', 'c']);
  });
  it('leaves out the versions our own changes produced, not a later one', () => {
    const before = new Map([
      ['a', 1],
      ['b', 1],
    ]);
    const own = new Map([
      ['a', 2],
      ['b', 2],
    ]);
    expect(
      changedIds(
        before,
        [
          { id: 'a', version: 2 },
          { id: 'b', version: 3 },
        ],
        own,
      ),
    ).toEqual(['b']);
  });
});
