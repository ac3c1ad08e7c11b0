import { beforeEach, describe, expect, it } from 'vitest';
import { childrenByParent, groupBySection, indentParent, isWithin, loadLayout, NO_SECTION, outdentMove, placementAt, progress, saveLayout, stepPlacement } from './board';

const t = (id: string, position: string, section: string | null = null) => ({ id, position, section: section ? { id: section } : null });

describe('groupBySection', () => {
  it('puts unsectioned tasks first and sections in position order, tasks in manual order', () => {
    const sections = [
      { id: 's2', name: 'Doing', position: 'b' },
      { id: 's1', name: 'To do', position: 'a' },
    ];
    const groups = groupBySection([t('x', 'c', 's1'), t('y', 'a', 's1'), t('z', 'b'), t('w', 'a', 's2')], sections);
    expect(groups.map((g) => g.key)).toEqual([NO_SECTION, 's1', 's2']);
    expect(groups.map((g) => g.tasks.map((x) => x.id))).toEqual([['z'], ['y', 'x'], ['w']]);
  });

  it('compares positions by code point, not by locale', () => {
    // 'Z' (0x5A) sorts before 'a' (0x61) by code point; localeCompare would put 'a' first.
    const groups = groupBySection([t('lower', 'a'), t('upper', 'Z')], []);
    expect(groups[0]!.tasks.map((x) => x.id)).toEqual(['upper', 'lower']);
  });

  it('keeps a task of an unknown section with the unsectioned ones', () => {
    const groups = groupBySection([t('x', 'a', 'gone')], [{ id: 's1', name: 'A', position: 'a' }]);
    expect(groups[0]!.tasks.map((x) => x.id)).toEqual(['x']);
    expect(groups[1]!.tasks).toEqual([]);
  });
});

describe('placementAt', () => {
  it('gives the neighbours of a drop in another list', () => {
    expect(placementAt(['a', 'b', 'c'], 'x', 1)).toEqual({ afterId: 'a', beforeId: 'b' });
    expect(placementAt(['a', 'b'], 'x', 0)).toEqual({ afterId: null, beforeId: 'a' });
    expect(placementAt(['a', 'b'], 'x', 2)).toEqual({ afterId: 'b', beforeId: null });
    expect(placementAt([], 'x', 0)).toEqual({ afterId: null, beforeId: null });
  });

  it('leaves the moved task out of its own neighbours', () => {
    // a b c → drop b at index 2 of [a, c]: after c.
    expect(placementAt(['a', 'b', 'c'], 'b', 2)).toEqual({ afterId: 'c', beforeId: null });
    expect(placementAt(['a', 'b', 'c'], 'c', 0)).toEqual({ afterId: null, beforeId: 'a' });
  });
});

describe('stepPlacement', () => {
  it('moves one step up or down and stops at the ends', () => {
    expect(stepPlacement(['a', 'b', 'c'], 'b', -1)).toEqual({ afterId: null, beforeId: 'a' });
    expect(stepPlacement(['a', 'b', 'c'], 'b', 1)).toEqual({ afterId: 'c', beforeId: null });
    expect(stepPlacement(['a', 'b', 'c'], 'a', -1)).toBeNull();
    expect(stepPlacement(['a', 'b', 'c'], 'c', 1)).toBeNull();
    expect(stepPlacement(['a'], 'zz', 1)).toBeNull();
  });
});

describe('indentParent and progress', () => {
  it('indents under the previous sibling, not the first row', () => {
    expect(indentParent(['a', 'b', 'c'], 'c')).toBe('b');
    expect(indentParent(['a', 'b'], 'a')).toBeNull();
  });

  it('counts done subtasks', () => {
    expect(progress([{ status: 'DONE' }, { status: 'OPEN' }, { status: 'DONE' }, { status: 'OPEN' }, { status: 'OPEN' }])).toBe('2/5');
    expect(progress([])).toBeNull();
  });
});

describe('layout per project', () => {
  beforeEach(() => localStorage.clear());
  it('is kept per project and defaults to the flat list', () => {
    expect(loadLayout('p1')).toBe('flat');
    saveLayout('p1', 'board');
    saveLayout('p2', 'list');
    expect(loadLayout('p1')).toBe('board');
    expect(loadLayout('p2')).toBe('list');
    localStorage.setItem('taskstream.projectLayout.p3', 'bogus');
    expect(loadLayout('p3')).toBe('flat');
  });
});

describe('the subtask tree', () => {
  const sub = (id: string, parent: string, position: string) => ({ id, position, parent: { id: parent } });

  it('groups subtasks under their parents in manual order, at any level', () => {
    const children = childrenByParent([sub('c', 'a', 'b'), sub('b', 'a', 'a'), sub('d', 'b', 'a'), { id: 'top', position: 'a', parent: null }]);
    expect(children.get('a')!.map((t) => t.id)).toEqual(['b', 'c']);
    expect(children.get('b')!.map((t) => t.id)).toEqual(['d']);
    expect(children.has('top')).toBe(false);
    expect(progress([...children.get('a')!].map((t, i) => ({ ...t, status: i === 0 ? 'DONE' : 'OPEN' })))).toBe('1/2');
  });

  it('knows a task is within its own subtree (no drop under itself or its subtasks)', () => {
    const parentOf = new Map<string, string | null>([
      ['a', null],
      ['b', 'a'],
      ['c', 'b'],
      ['x', null],
    ]);
    expect(isWithin('c', 'a', parentOf)).toBe(true);
    expect(isWithin('a', 'a', parentOf)).toBe(true);
    expect(isWithin('x', 'a', parentOf)).toBe(false);
    expect(isWithin('a', 'c', parentOf)).toBe(false);
  });

  it('outdents one level: under the grandparent after the parent, or to the top level', () => {
    expect(outdentMove('p', 'g')).toEqual({ parentId: 'g', afterId: 'p' });
    expect(outdentMove('p', null)).toEqual({ toTopLevel: true, afterId: 'p' });
  });
});
