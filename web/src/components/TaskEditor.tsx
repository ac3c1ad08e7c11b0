import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import {
  CompleteTaskDocument,
  CreateTaskDocument,
  DeleteTaskDocument,
  ReopenTaskDocument,
  SkipOccurrenceDocument,
  SnoozeReminderDocument,
  TaskDocument,
  UpdateTaskDocument,
  type Priority,
  type ProjectFieldsFragment,
  type TaskDetailFragment,
} from '../gql/graphql';
import { formatDateTime } from '../lib/datetime';
import { describeError, type UserError } from '../lib/errors';
import { emit } from '../lib/events';
import { PRIORITIES, PRIORITY_LABELS } from '../lib/filters';
import { navigate, useAppEvents } from '../lib/hooks';
import { useListView } from '../lib/nav';
import { useOfflineProps } from '../lib/offline';
import { draftToRRule, previewVariables } from '../lib/recurrence';
import { useRecurrencePreview } from '../lib/useRecurrencePreview';
import { clearDraft, loadDraft, saveDraft } from '../lib/drafts';
import {
  emptyForm,
  formFromTask,
  formToCreateInput,
  formToUpdateInput,
  isDirty,
  validateForm,
  type TaskForm,
} from '../lib/taskForm';
import { fireTime, pastReminders } from '../lib/reminders';
import { AuditTrail } from './AuditTrail';
import { ConfirmDialog } from './ConfirmDialog';
import { ErrorBanner, FieldError } from './ErrorMessage';
import { useMe } from './MeContext';
import { useProjectIfKnown, useProjectMembers } from './ProjectsContext';
import { RecurrenceBuilder } from './RecurrenceBuilder';
import { RemindersEditor } from './RemindersEditor';
import { TagInput } from './TagInput';
import { TagManager } from './TagManager';
import { useToast } from './Toast';
import { restoreDeleted } from '../lib/restore';

export function TaskEditor({ taskId }: { taskId: string }) {
  const isNew = taskId === 'new';
  const me = useMe();
  const tz = me.timezone;
  const client = useClient();
  const toast = useToast();
  const ids = useId();
  // Where "back" goes and where a new task lands: the list this editor was opened from.
  const view = useListView();

  const [task, setTask] = useState<TaskDetailFragment | null>(null);
  const [loading, setLoading] = useState(!isNew);
  const [initial, setInitial] = useState<TaskForm>(emptyForm);
  const [form, setForm] = useState<TaskForm>(emptyForm);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState<UserError | null>(null);
  const [saving, setSaving] = useState(false);
  const offline = useOfflineProps();
  const [busyAction, setBusyAction] = useState<string | null>(null);
  const [newerVersion, setNewerVersion] = useState<number | null>(null);
  const [deletedElsewhere, setDeletedElsewhere] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  // Reminders being set that have already passed: asked about before saving (they fire at once).
  const [pastAsk, setPastAsk] = useState<{ overwrite: boolean; indexes: number[] } | null>(null);

  const headingRef = useRef<HTMLHeadingElement>(null);
  const bannerRef = useRef<HTMLDivElement>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const titleRef = useRef<HTMLInputElement>(null);
  const dirty = isDirty(form, initial, tz);
  // Only a project's tasks are assigned (in the inbox the only candidate is the caller).
  const assignable = useProjectIfKnown(task?.project?.id ?? (isNew ? view.projectId : null));
  const recurrenceChanged =
    !task?.recurrence || !form.repeat
      ? true
      : draftToRRule(form.recurrence, tz) !== draftToRRule(initial.recurrence, tz) || form.recurrence.repeatFrom !== initial.recurrence.repeatFrom;
  // A new or changed rule is previewed by the server as it is edited (saved rules use Recurrence.upcoming).
  const preview = useRecurrencePreview(form.repeat && recurrenceChanged ? previewVariables(form.recurrence, form.due, tz) : null);
  // The newest version this editor has seen, updated synchronously (our own saves emit events
  // before React re-renders, and they must not look like someone else's change).
  // A half-typed edit survives closing the editor: kept per task for this browser session.
  const [restoredDraft, setRestoredDraft] = useState(false);
  const latest = useRef({ form, dirty: false });
  const draftChecked = useRef(false);

  const knownVersion = useRef(0);
  latest.current = { form, dirty };
  useEffect(
    () => () => {
      if (latest.current.dirty) saveDraft(taskId, latest.current.form);
      else clearDraft(taskId);
    },
    [taskId],
  );

  const adopt = useCallback(
    (t: TaskDetailFragment) => {
      knownVersion.current = Math.max(knownVersion.current, t.version);
      const f = formFromTask(t, tz);
      setTask(t);
      setInitial(f);
      setForm(f);
      setNewerVersion(null);
    },
    [tz],
  );

  const restoreDraft = useCallback(() => {
    if (draftChecked.current) return;
    draftChecked.current = true;
    const draft = loadDraft(taskId);
    if (draft) {
      setForm(draft);
      setRestoredDraft(true);
    }
  }, [taskId]);

  const load = useCallback(async () => {
    setLoading(true);
    const res = await client.query(TaskDocument, { id: taskId }, { requestPolicy: 'network-only' }).toPromise();
    setLoading(false);
    if (res.data?.task) {
      adopt(res.data.task);
      restoreDraft();
      return res.data.task;
    }
    setBanner(res.error ? describeError(res.error, 'task') : describeError({ graphQLErrors: [{ message: 'not found', extensions: { code: 'NOT_FOUND' } }] }, 'task'));
    return null;
  }, [client, taskId, adopt]);

  useEffect(() => {
    if (!isNew) void load();
    else {
      restoreDraft();
      setTimeout(() => titleRef.current?.focus(), 0);
    }
  }, [isNew, load, restoreDraft]);

  useEffect(() => {
    if (!isNew && !loading) headingRef.current?.focus();
  }, [isNew, loading]);

  // Someone else (another tab, device or service) changed or deleted this task.
  useAppEvents((e) => {
    if (e.type !== 'tasks-changed' || !task || e.taskId !== task.id) return;
    if (e.deleted) setDeletedElsewhere(true);
    else if (e.task && e.task.version > knownVersion.current) {
      if (dirty) setNewerVersion(e.task.version);
      else void load();
    }
  });

  function showBanner(err: UserError | null) {
    setBanner(err);
    setTimeout(() => bannerRef.current?.focus(), 0);
  }

  function focusFirstInvalid() {
    setTimeout(() => {
      const el = formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
      el?.focus();
    }, 0);
  }

  async function save(e?: FormEvent, overwrite = false, pastConfirmed = false) {
    e?.preventDefault();
    if (offline['aria-disabled']) return;
    const problems = validateForm(form);
    setErrors(problems);
    if (Object.keys(problems).length) {
      focusFirstInvalid();
      return;
    }
    if (!pastConfirmed) {
      const past = pastReminders(form, isNew ? null : initial, tz);
      if (past.length) {
        setPastAsk({ overwrite, indexes: past });
        return;
      }
    }
    setSaving(true);
    setBanner(null);
    try {
      let version = task?.version ?? 0;
      if (overwrite && task) {
        const latest = await client.query(TaskDocument, { id: task.id }, { requestPolicy: 'network-only' }).toPromise();
        if (latest.data?.task) version = latest.data.task.version;
      }
      const res = isNew
        ? await client
            .mutation(CreateTaskDocument, { input: { ...formToCreateInput(form, tz), ...(view.projectId ? { projectId: view.projectId } : {}) } })
            .toPromise()
        : await client.mutation(UpdateTaskDocument, { id: taskId, input: formToUpdateInput(form, initial, tz, version) }).toPromise();
      const saved = res.data ? ('createTask' in res.data ? res.data.createTask : res.data.updateTask) : null;
      if (!saved) {
        const ue = describeError(res.error, 'task-save');
        if (ue?.code === 'BAD_USER_INPUT' && ue.field) {
          setErrors({ [ue.field]: ue.detail ?? ue.message });
          focusFirstInvalid();
          showBanner({ ...ue, message: `Not saved. ${ue.message}` });
        } else showBanner(ue);
        return;
      }
      adopt(saved);
      emit({ type: 'tasks-changed', taskId: saved.id, task: saved });
      emit({ type: 'tags-changed' });
      if (isNew) {
        latest.current = { form, dirty: false };
        clearDraft('new');
        toast(`Created “${saved.title}”`);
        navigate(`${view.basePath}/${saved.id}`);
      } else toast('Saved');
    } finally {
      setSaving(false);
    }
  }

  async function act(name: 'complete' | 'reopen' | 'skip' | 'delete') {
    if (!task || offline['aria-disabled']) return;
    setBusyAction(name);
    setBanner(null);
    try {
      if (name === 'delete') {
        const res = await client.mutation(DeleteTaskDocument, { id: task.id }).toPromise();
        if (res.error) return showBanner(describeError(res.error, 'task'));
        latest.current = { form, dirty: false };
        clearDraft(task.id);
        emit({ type: 'tasks-changed', taskId: task.id, deleted: true });
        emit({ type: 'tags-changed' });
        const deleted = task;
        toast(`Deleted “${deleted.title}”`, 'info', {
          undo: async () => {
            const restored = await restoreDeleted(client, deleted.id);
            if ('error' in restored) {
              toast(restored.error, 'error');
              return;
            }
            emit({ type: 'tasks-changed', taskId: deleted.id, task: restored.task });
            emit({ type: 'tags-changed' });
          },
        });
        navigate(view.basePath);
        return;
      }
      const doc = name === 'complete' ? CompleteTaskDocument : name === 'reopen' ? ReopenTaskDocument : SkipOccurrenceDocument;
      const res = await client.mutation(doc, { id: task.id }).toPromise();
      const data = res.data as Record<string, TaskDetailFragment> | undefined;
      const updated = data ? Object.values(data)[0] : undefined;
      if (!updated) return showBanner(describeError(res.error, 'task'));
      adopt(updated);
      emit({ type: 'tasks-changed', taskId: updated.id, task: updated });
      emit({ type: 'tags-changed' });
      if (name === 'skip') toast(`Skipped to ${updated.dueAt ? formatDateTime(updated.dueAt, tz) : 'the next date'}`);
      else {
        const back = name === 'complete' ? ReopenTaskDocument : CompleteTaskDocument;
        toast(name === 'complete' ? `Completed “${updated.title}”` : `Reopened “${updated.title}”`, 'info', {
          undo: async () => {
            const r = await client.mutation(back, { id: updated.id }).toPromise();
            const d = r.data as Record<string, TaskDetailFragment> | undefined;
            const reverted = d ? Object.values(d)[0] : undefined;
            if (!reverted) {
              toast(describeError(r.error, 'task')?.message ?? 'Could not undo.', 'error');
              return;
            }
            emit({ type: 'tasks-changed', taskId: reverted.id, task: reverted });
          },
        });
      }
    } finally {
      setBusyAction(null);
    }
  }

  async function snooze(id: string, minutes: number) {
    const res = await client.mutation(SnoozeReminderDocument, { id, minutes }).toPromise();
    if (res.error) return showBanner(describeError(res.error, 'task'));
    toast(`Reminder snoozed for ${minutes >= 60 ? `${minutes / 60} h` : `${minutes} min`}`);
    void load();
  }

  if (loading && !task) return <p className="muted editor-loading">Loading task…</p>;
  if (!isNew && !task) {
    return (
      <div className="editor">
        <ErrorBanner ref={bannerRef} error={banner} />
        <a href={`#${view.basePath}`}>Back to tasks</a>
      </div>
    );
  }

  const set = (patch: Partial<TaskForm>) => setForm((f) => ({ ...f, ...patch }));
  const err = (field: string) => errors[field];
  const describedBy = (field: string) => (errors[field] ? `${ids}-${field}-error` : undefined);
  const recurrenceError = errors['recurrence.rule'] ?? errors['recurrence'] ?? errors['recurrence.timezone'] ?? errors['recurrence.repeatFrom'];
  const isDone = task?.status === 'DONE';

  return (
    <div className="editor">
      <div className="editor-header">
        <a href={`#${view.basePath}`} className="back-link">
          <span aria-hidden="true">←</span> Tasks
        </a>
        <h2 ref={headingRef} tabIndex={-1}>
          {isNew ? 'New task' : 'Edit task'}
        </h2>
        {task ? (
          <span className={`badge ${isDone ? 'status-done' : 'status-open'}`} data-testid="task-status">
            {isDone ? 'Done' : 'Open'}
          </span>
        ) : null}
      </div>

      <ErrorBanner ref={bannerRef} error={banner}>
        {banner?.code === 'CONFLICT' ? (
          <div className="banner-actions">
            <button type="button" onClick={() => { setBanner(null); void load(); }}>
              Load latest (discard my edits)
            </button>
            <button type="button" className="secondary" onClick={() => void save(undefined, true)} {...offline}>
              Save mine anyway
            </button>
          </div>
        ) : null}
      </ErrorBanner>
      {newerVersion !== null && banner?.code !== 'CONFLICT' ? (
        <div className="banner banner-warn" role="status">
          <p>This task was changed elsewhere while you were editing (now version {newerVersion}).</p>
          <div className="banner-actions">
            <button type="button" onClick={() => void load()}>
              Load latest (discard my edits)
            </button>
          </div>
        </div>
      ) : null}
      {restoredDraft && dirty ? (
        <div className="banner banner-info" role="status" data-testid="draft-restored">
          <p>Your unsaved changes were kept from last time.</p>
          <div className="banner-actions">
            <button
              type="button"
              className="ghost"
              onClick={() => {
                setForm(initial);
                setRestoredDraft(false);
                clearDraft(taskId);
              }}
            >
              Discard them
            </button>
          </div>
        </div>
      ) : null}
      {deletedElsewhere ? (
        <div className="banner banner-warn" role="status">
          <p>This task was deleted elsewhere.</p>
        </div>
      ) : null}

      {task ? (
        <div className="task-actions" role="group" aria-label="Task actions">
          {isDone ? (
            <button type="button" className="secondary" disabled={!!busyAction} onClick={() => void act('reopen')} {...offline}>
              Reopen
            </button>
          ) : (
            <button type="button" className="success" disabled={!!busyAction} onClick={() => void act('complete')} {...offline}>
              ✓ Complete
            </button>
          )}
          {task.recurrence && !isDone ? (
            <button type="button" className="secondary" disabled={!!busyAction} onClick={() => void act('skip')} {...offline}>
              Skip this occurrence
            </button>
          ) : null}
          {confirmDelete ? (
            <span className="confirm" role="group" aria-label="Confirm delete">
              <span>Delete this task?</span>
              <button type="button" className="danger" autoFocus disabled={!!busyAction} onClick={() => void act('delete')}>
                Yes, delete
              </button>
              <button type="button" className="ghost" onClick={() => setConfirmDelete(false)}>
                Cancel
              </button>
            </span>
          ) : (
            <button type="button" className="ghost danger" onClick={() => setConfirmDelete(true)} {...offline}>
              Delete…
            </button>
          )}
        </div>
      ) : null}

      {pastAsk ? (
        <ConfirmDialog
          title={pastAsk.indexes.length > 1 ? 'These reminders have already passed' : 'This reminder has already passed'}
          body={`${pastAsk.indexes
            .map((i) => {
              const at = fireTime(form, i, tz);
              return `Reminder ${i + 1} (${at === null ? 'no time' : formatDateTime(new Date(at).toISOString(), tz)})`;
            })
            .join(', ')} would go off as soon as you save. Save anyway, or change ${pastAsk.indexes.length > 1 ? 'them' : 'it'}?`}
          confirmLabel="Save anyway"
          onConfirm={() => {
            const ask = pastAsk;
            setPastAsk(null);
            void save(undefined, ask.overwrite, true);
          }}
          onCancel={() => {
            const n = (pastAsk.indexes[0] ?? 0) + 1;
            setPastAsk(null);
            setTimeout(() => formRef.current?.querySelector<HTMLElement>(`[aria-label="Reminder ${n} time"], [aria-label="Reminder ${n} amount"]`)?.focus(), 0);
          }}
        />
      ) : null}
      <form ref={formRef} onSubmit={(e) => void save(e)} noValidate aria-label={isNew ? 'New task' : 'Edit task'}>
        <div className="field">
          <label htmlFor={`${ids}-title`}>Title</label>
          <input
            id={`${ids}-title`}
            ref={titleRef}
            value={form.title}
            onChange={(e) => set({ title: e.target.value })}
            maxLength={600}
            required
            aria-invalid={err('title') ? true : undefined}
            aria-describedby={describedBy('title')}
          />
          <FieldError id={`${ids}-title-error`} message={err('title')} />
        </div>

        <div className="field">
          <label htmlFor={`${ids}-notes`}>Notes</label>
          <textarea
            id={`${ids}-notes`}
            rows={3}
            value={form.notes}
            onChange={(e) => set({ notes: e.target.value })}
            aria-invalid={err('notes') ? true : undefined}
            aria-describedby={describedBy('notes')}
          />
          <FieldError id={`${ids}-notes-error`} message={err('notes')} />
        </div>

        {assignable ? <AssigneePicker project={assignable} value={form.assigneeId ?? ''} onChange={(v) => set({ assigneeId: v })} /> : null}
        <div className="field-row">
          <div className="field">
            <label htmlFor={`${ids}-priority`}>Priority</label>
            <select id={`${ids}-priority`} value={form.priority} onChange={(e) => set({ priority: e.target.value as Priority })}>
              {[...PRIORITIES].reverse().map((p) => (
                <option key={p} value={p}>
                  {PRIORITY_LABELS[p]}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${ids}-due`}>Due</label>
            <div className="input-with-button">
              <input
                id={`${ids}-due`}
                type="datetime-local"
                value={form.due}
                onChange={(e) => set({ due: e.target.value })}
                aria-invalid={err('dueAt') ? true : undefined}
                aria-describedby={`${ids}-due-hint${err('dueAt') ? ` ${ids}-dueAt-error` : ''}`}
              />
              {form.due ? (
                <button type="button" className="ghost small" onClick={() => set({ due: '' })} aria-label="Clear due date">
                  Clear
                </button>
              ) : null}
            </div>
            <p id={`${ids}-due-hint`} className="hint">
              Time zone: {tz.replace(/_/g, ' ')}
              {form.repeat && !form.due ? ' · a repeating task without a date starts at its first occurrence' : ''}
            </p>
            <FieldError id={`${ids}-dueAt-error`} message={err('dueAt')} />
          </div>
        </div>

        <div className="field">
          <span className="label" id={`${ids}-tags-label`}>
            Tags
          </span>
          <TagInput
            value={form.tags}
            onChange={(tags) => set({ tags })}
            invalid={!!(err('tags') || Object.keys(errors).some((k) => k.startsWith('tags[')))}
            describedBy={describedBy('tags')}
          />
          <FieldError id={`${ids}-tags-error`} message={err('tags') ?? Object.entries(errors).find(([k]) => k.startsWith('tags['))?.[1]} />
          <details className="manage-tags">
            <summary>Manage tags</summary>
            <TagManager />
          </details>
        </div>

        <fieldset className="section">
          <legend>Repeat</legend>
          <label className="check">
            <input type="checkbox" checked={form.repeat} onChange={(e) => set({ repeat: e.target.checked })} />
            Repeat this task
          </label>
          {form.repeat ? (
            <RecurrenceBuilder
              value={form.recurrence}
              onChange={(recurrence) => set({ recurrence })}
              timeZone={tz}
              upcoming={task?.recurrence ? task.recurrence.upcoming : null}
              skipped={task?.recurrence?.skipped ?? []}
              changed={recurrenceChanged}
              serverError={recurrenceError}
              preview={preview}
              due={form.due}
            />
          ) : null}
        </fieldset>

        <fieldset className="section">
          <legend>Reminders</legend>
          <RemindersEditor
            value={form.reminders}
            onChange={(reminders) => set({ reminders })}
            hasDue={!!form.due || form.repeat}
            errors={errors}
            {...(task ? { onSnooze: (id: string, m: number) => void snooze(id, m) } : {})}
          />
          <FieldError id={`${ids}-reminders-error`} message={err('reminders')} />
        </fieldset>

        <div className="form-actions">
          <button type="submit" className="primary" disabled={saving || (!isNew && !dirty)} {...offline}>
            {saving ? 'Saving…' : isNew ? 'Create task' : 'Save changes'}
          </button>
          {!isNew && dirty ? (
            <button type="button" className="ghost" onClick={() => { setForm(initial); setErrors({}); setBanner(null); }}>
              Discard changes
            </button>
          ) : null}
          {isNew ? (
            <a className="button ghost" href={`#${view.basePath}`}>
              Cancel
            </a>
          ) : null}
        </div>
      </form>

      {task ? (
        <>
          <p className="meta-line">
            Created {formatDateTime(task.createdAt, tz, { withYear: true })} · updated {formatDateTime(task.updatedAt, tz, { withYear: true })} ·
            version {task.version}
            {task.completedAt ? ` · completed ${formatDateTime(task.completedAt, tz, { withYear: true })}` : ''}
          </p>
          <details className="section history">
            <summary>History</summary>
            <AuditTrail taskId={task.id} />
          </details>
        </>
      ) : null}
    </div>
  );
}

/** Nobody, or one of the project's editors and owners (viewers cannot hold a task). */
function AssigneePicker({ project, value, onChange }: { project: ProjectFieldsFragment; value: string; onChange: (v: string) => void }) {
  const id = useId();
  const members = useProjectMembers(project);
  const candidates = (members ?? []).filter((m) => m.role !== 'VIEWER');
  return (
    <div className="field">
      <label htmlFor={`${id}-assignee`}>Assignee</label>
      <select id={`${id}-assignee`} value={value} onChange={(e) => onChange(e.target.value)} disabled={members === null}>
        <option value="">Nobody</option>
        {/* The current assignee stays listed while the members load (or after losing the role). */}
        {value && !candidates.some((m) => m.user.id === value) ? <option value={value}>{members === null ? 'Loading…' : 'A former editor'}</option> : null}
        {candidates.map((m) => (
          <option key={m.user.id} value={m.user.id}>
            {m.user.email}
          </option>
        ))}
      </select>
    </div>
  );
}
