// Unsaved editor forms, per task ("new" for the new-task form), for this browser session.
import { defaultDraft } from './recurrence';
import type { TaskForm } from './taskForm';

const PREFIX = 'taskstream.draft.';
/** A draft bigger than this is not kept (sessionStorage is small and shared). */
export const DRAFT_MAX_CHARS = 100_000;

export function saveDraft(taskId: string, form: TaskForm): void {
  try {
    const text = JSON.stringify(form);
    if (text.length <= DRAFT_MAX_CHARS) sessionStorage.setItem(PREFIX + taskId, text);
  } catch {
    /* storage full or blocked: nothing more to do */
  }
}

export function loadDraft(taskId: string): TaskForm | null {
  try {
    const raw = sessionStorage.getItem(PREFIX + taskId);
    if (!raw) return null;
    const v = JSON.parse(raw) as Partial<TaskForm>;
    if (typeof v.title !== 'string' || !Array.isArray(v.tags) || !Array.isArray(v.reminders) || typeof v.recurrence !== 'object') return null;
    // A draft kept by an older version of the app lacks the builder's newer fields.
    return { ...(v as TaskForm), recurrence: { ...defaultDraft(), ...(v.recurrence as TaskForm['recurrence']) } };
  } catch {
    return null;
  }
}

export function clearDraft(taskId: string): void {
  try {
    sessionStorage.removeItem(PREFIX + taskId);
  } catch {
    /* ignore */
  }
}
