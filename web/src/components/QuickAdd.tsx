import { forwardRef, useId, useMemo, useState, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import { useClient } from 'urql';
import { CreateTaskDocument, type CreateTaskInput } from '../gql/graphql';
import { formatDateTime } from '../lib/datetime';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { PRIORITY_LABELS } from '../lib/filters';
import { parseQuickAdd, quickAddError, QUICK_ADD_MAX, type QuickAddResult } from '../lib/quickAdd';
import { OFFLINE_REASON, useOfflineProps } from '../lib/offline';
import { humanRule } from '../lib/recurrence';
import { useMe } from './MeContext';
import { useToast } from './Toast';

/** The typed text with what the parser understood marked, so it can be checked before saving. */
function Highlighted({ text, result }: { text: string; result: QuickAddResult }) {
  const out: ReactNode[] = [];
  let at = 0;
  for (const s of result.spans) {
    if (s.start < at) continue;
    if (s.start > at) out.push(text.slice(at, s.start));
    out.push(
      <mark key={`${s.kind}-${s.start}`} className={`qa-${s.kind}`} data-kind={s.kind}>
        {text.slice(s.start, s.end)}
      </mark>,
    );
    at = s.end;
  }
  out.push(text.slice(at));
  return <>{out}</>;
}

export function quickAddInput(result: QuickAddResult): CreateTaskInput {
  const input: CreateTaskInput = { title: result.title, priority: result.priority };
  if (result.tags.length) input.tags = result.tags;
  if (result.dueAt) input.dueAt = result.dueAt;
  if (result.rule) input.recurrence = { rule: result.rule, repeatFrom: 'DUE_DATE' };
  return input;
}

/** One line that becomes a task: "Call mum tomorrow 5pm #home p1". */
export const QuickAdd = forwardRef<HTMLInputElement, { projectId?: string | null }>(function QuickAdd({ projectId = null }, ref) {
  const me = useMe();
  const client = useClient();
  const toast = useToast();
  const ids = useId();
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const offline = useOfflineProps();
  const result = useMemo(() => (text.trim() ? parseQuickAdd(text, me.timezone) : null), [text, me.timezone]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!result || saving || offline['aria-disabled']) return;
    const problem = quickAddError(result);
    if (problem) {
      setError(problem);
      return;
    }
    setSaving(true);
    const input = quickAddInput(result);
    if (projectId) input.projectId = projectId;
    const res = await client.mutation(CreateTaskDocument, { input }).toPromise();
    setSaving(false);
    if (res.error || !res.data) {
      setError(describeError(res.error, projectId ? 'task' : 'task-save')?.message ?? 'Could not add the task.');
      return;
    }
    setText('');
    setError(null);
    toast(`Added “${res.data.createTask.title}”`);
    emit({ type: 'tasks-changed', taskId: res.data.createTask.id });
  }

  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    if (e.key === 'Escape') {
      e.preventDefault();
      if (text) setText('');
      else e.currentTarget.blur();
      setError(null);
    }
  }

  const understood: string[] = [];
  if (result?.dueAt) understood.push(`Due ${formatDateTime(result.dueAt, me.timezone)}`);
  if (result?.rule) understood.push(humanRule(result.rule, result.dueAt, me.timezone));
  if (result?.tags.length) understood.push(result.tags.map((t) => `#${t}`).join(' '));
  if (result && result.priority !== 'NONE') understood.push(`${PRIORITY_LABELS[result.priority]} priority`);

  return (
    <form className="quick-add" onSubmit={(e) => void submit(e)} aria-busy={saving}>
      <div className="quick-add-row">
        <input
          ref={ref}
          id={`${ids}-qa`}
          className="quick-add-input"
          aria-label="Quick add"
          aria-describedby={`${ids}-qa-help ${ids}-qa-understood`}
          aria-invalid={error ? true : undefined}
          aria-keyshortcuts="q"
          placeholder="Add a task: Call mum tomorrow 5pm #home p1"
          value={text}
          maxLength={QUICK_ADD_MAX}
          autoComplete="off"
          onChange={(e) => {
            setText(e.target.value);
            setError(null);
          }}
          onKeyDown={onKeyDown}
          readOnly={offline['aria-disabled']}
          {...offline}
        />
        <button type="submit" className="primary" disabled={!result || saving} {...offline}>
          Add
        </button>
      </div>
      <p id={`${ids}-qa-help`} className="visually-hidden">
        Dates like tomorrow 5pm or fri, repeats like every weekday at 9, tags with #, priority p1 to p4. Enter adds the task.{offline['aria-disabled'] ? ` ${OFFLINE_REASON}` : ''}
      </p>
      {error ? (
        <p className="field-error" role="alert">
          {error}
        </p>
      ) : null}
      <div id={`${ids}-qa-understood`} className="quick-add-preview" data-testid="quick-add-preview" aria-live="polite">
        {result && result.spans.length ? (
          <>
            <p className="qa-text">
              <Highlighted text={text} result={result} />
            </p>
            <p className="qa-summary" data-testid="quick-add-summary">
              <span className="visually-hidden">Understood: </span>
              {result.title ? <strong>{result.title}</strong> : null}
              {understood.map((u) => (
                <span key={u} className="qa-chip">
                  {u}
                </span>
              ))}
            </p>
          </>
        ) : null}
      </div>
    </form>
  );
});
