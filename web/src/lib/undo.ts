// What Ctrl/Cmd+Z and a toast's Undo button take back: the latest reversible action, while its
// toast is on screen (an undo long after the fact would surprise more than help).

export interface UndoEntry {
  id: number;
  /** Reverses the action through the API, so other windows see it live. */
  run: () => Promise<void>;
  /** Called once the entry is used or expires (the toast goes away). */
  onSettled?: () => void;
}

const MAX_ENTRIES = 20;
let seq = 0;
const stack: UndoEntry[] = [];

export function pushUndo(run: () => Promise<void>, onSettled?: () => void): number {
  const id = ++seq;
  stack.push({ id, run, ...(onSettled ? { onSettled } : {}) });
  while (stack.length > MAX_ENTRIES) stack.shift()?.onSettled?.();
  return id;
}

/** Forgets an entry without running it (its toast expired). */
export function dropUndo(id: number): void {
  const i = stack.findIndex((e) => e.id === id);
  if (i >= 0) stack.splice(i, 1);
}

/** Runs the entry `id`, or the latest one; false when there is nothing to undo. */
export async function runUndo(id?: number): Promise<boolean> {
  const i = id === undefined ? stack.length - 1 : stack.findIndex((e) => e.id === id);
  if (i < 0) return false;
  const [entry] = stack.splice(i, 1);
  if (!entry) return false;
  entry.onSettled?.();
  await entry.run();
  return true;
}

export function undoDepth(): number {
  return stack.length;
}
