// Keyboard shortcuts: one table for the handler and the "?" overlay, so they never disagree.
import type { ShortcutName } from './events';

export interface Shortcut {
  keys: string[];
  /** What the overlay says. */
  label: string;
  name: ShortcutName | 'help' | 'new';
}

export const SHORTCUTS: Shortcut[] = [
  { keys: ['q'], label: 'Quick add a task', name: 'quick-add' },
  { keys: ['n'], label: 'New task in the full editor', name: 'new' },
  { keys: ['/'], label: 'Search tasks', name: 'search' },
  { keys: ['j'], label: 'Next task', name: 'next' },
  { keys: ['k'], label: 'Previous task', name: 'previous' },
  { keys: ['x'], label: 'Complete or reopen the task', name: 'complete' },
  { keys: ['e', 'Enter'], label: 'Edit the task', name: 'edit' },
  { keys: ['Delete', '#'], label: 'Delete the task (asks first)', name: 'delete' },
  { keys: ['Esc'], label: 'Close the editor or dialog', name: 'close' },
  { keys: ['Ctrl+Z', '⌘Z'], label: 'Undo complete, reopen or delete', name: 'undo' },
  { keys: ['?'], label: 'Show these shortcuts', name: 'help' },
];

/** The shortcuts that would change something (offline they say why instead of acting). */
export const CHANGING_SHORTCUTS: ReadonlySet<Shortcut['name']> = new Set(['complete', 'delete', 'undo']);

/** Typing in a field must never trigger a shortcut. */
export function isEditable(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) {
    return !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(target.type);
  }
  return false;
}

/** The shortcut a key press means, or null. Enter is left to the focused link or button. */
export function shortcutFor(e: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey' | 'target'>): Shortcut['name'] | null {
  if (e.key === 'Escape') return 'close';
  if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'z') return isEditable(e.target) ? null : 'undo';
  if (e.ctrlKey || e.metaKey || e.altKey || isEditable(e.target)) return null;
  switch (e.key) {
    case 'q':
      return 'quick-add';
    case 'n':
      return 'new';
    case '/':
      return 'search';
    case 'j':
      return 'next';
    case 'k':
      return 'previous';
    case 'x':
      return 'complete';
    case 'e':
      return 'edit';
    case 'Delete':
    case '#':
      return 'delete';
    case '?':
      return 'help';
    default:
      return null;
  }
}
