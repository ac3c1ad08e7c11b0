import { describe, expect, it } from 'vitest';
import { isEditable, SHORTCUTS, shortcutFor } from './shortcuts';
import { resolveTheme } from './theme';

const key = (k: string, target: EventTarget | null = document.body, mods: Partial<KeyboardEvent> = {}) =>
  shortcutFor({ key: k, ctrlKey: false, metaKey: false, altKey: false, target, ...mods } as KeyboardEvent);

describe('shortcuts', () => {
  it('maps the documented keys', () => {
    expect([key('q'), key('n'), key('/'), key('j'), key('k'), key('x'), key('e'), key('Delete'), key('#'), key('?'), key('Escape')]).toEqual([
      'quick-add',
      'new',
      'search',
      'next',
      'previous',
      'complete',
      'edit',
      'delete',
      'delete',
      'help',
      'close',
    ]);
    expect(key('z', document.body, { ctrlKey: true })).toBe('undo');
    expect(key('z', document.body, { metaKey: true })).toBe('undo');
    expect(key('a')).toBeNull();
  });

  it('never fires while typing in a field (Esc still closes)', () => {
    const input = document.createElement('input');
    const area = document.createElement('textarea');
    const box = document.createElement('input');
    box.type = 'checkbox';
    expect(isEditable(input)).toBe(true);
    expect(isEditable(area)).toBe(true);
    expect(isEditable(box)).toBe(false);
    expect(key('q', input)).toBeNull();
    expect(key('j', area)).toBeNull();
    expect(key('x', box)).toBe('complete');
    // Ctrl+Z in a field is the field's own undo.
    expect(key('z', input, { ctrlKey: true })).toBeNull();
    expect(key('Escape', input)).toBe('close');
    expect(key('q', document.body, { ctrlKey: true })).toBeNull();
  });

  it('the overlay lists every shortcut the handler knows', () => {
    const names = new Set(SHORTCUTS.map((s) => s.name));
    for (const n of ['quick-add', 'new', 'search', 'next', 'previous', 'complete', 'edit', 'delete', 'close', 'undo', 'help']) {
      expect(names.has(n as never)).toBe(true);
    }
  });
});

describe('theme', () => {
  it('follows the system unless a theme was chosen', () => {
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('dark', false)).toBe('dark');
  });
});
