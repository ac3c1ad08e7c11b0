import { useCallback, useEffect, useRef, useState } from 'react';
import { useClient, type CombinedError } from 'urql';
import { AuditLogDocument, VerifyAuditLogDocument, type AuditLogQuery, type VerifyAuditLogQuery } from '../gql/graphql';
import { formatDateTime } from '../lib/datetime';
import { describeError } from '../lib/errors';
import { describeEntry } from '../lib/history';
import { useAppEvents } from '../lib/hooks';
import './History.css';
import { useMe } from './MeContext';

const ACTION_LABELS: Record<string, string> = {
  'task.created': 'Created',
  'task.updated': 'Updated',
  'task.completed': 'Completed',
  'task.reopened': 'Reopened',
  'task.deleted': 'Deleted',
  'reminder.sent': 'Reminder sent',
};

/** Short text for an entry's `changes` JSON: "title: "a" → "b"". */
export function summarizeChanges(changes: unknown): string {
  if (!changes || typeof changes !== 'object') return '';
  const parts: string[] = [];
  for (const [field, value] of Object.entries(changes as Record<string, unknown>)) {
    if (value && typeof value === 'object' && 'before' in value && 'after' in value) {
      const v = value as { before: unknown; after: unknown };
      parts.push(`${field}: ${JSON.stringify(v.before)} → ${JSON.stringify(v.after)}`);
    } else if (Array.isArray(value) && value.length === 2) {
      parts.push(`${field}: ${JSON.stringify(value[0])} → ${JSON.stringify(value[1])}`);
    } else {
      parts.push(`${field}: ${JSON.stringify(value)}`);
    }
  }
  return parts.join('; ');
}

/** Pages of 200 read to the chain's end (it is oldest first), at most this many. */
export const HISTORY_PAGE = 200;
export const HISTORY_PAGES = 10;

type AuditNode = AuditLogQuery['auditLog']['edges'][number]['node'];

export function AuditTrail({ taskId }: { taskId?: string }) {
  const me = useMe();
  const client = useClient();
  const [entries, setEntries] = useState<AuditNode[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<CombinedError | null>(null);
  const seq = useRef(0);

  // The API gives the chain oldest first; newest first means reading to its end (bounded).
  const load = useCallback(async () => {
    const n = ++seq.current;
    const all: AuditNode[] = [];
    let after: string | null = null;
    for (let page = 0; page < HISTORY_PAGES; page++) {
      const res = await client
        .query(AuditLogDocument, { taskId: taskId ?? null, first: HISTORY_PAGE, after }, { requestPolicy: 'network-only' })
        .toPromise();
      if (n !== seq.current) return;
      if (!res.data) {
        setError(res.error ?? null);
        return;
      }
      all.push(...res.data.auditLog.edges.map((e) => e.node));
      setTotal(res.data.auditLog.totalCount);
      if (!res.data.auditLog.pageInfo.hasNextPage) break;
      after = res.data.auditLog.pageInfo.endCursor;
    }
    setError(null);
    setEntries(all.reverse());
  }, [client, taskId]);
  useEffect(() => {
    void load();
  }, [load]);

  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  useAppEvents((e) => {
    if (e.type === 'resync' || (e.type === 'tasks-changed' && (!taskId || e.taskId === taskId))) {
      // The audit service writes the entry shortly after the change.
      clearTimeout(timer.current);
      timer.current = setTimeout(() => void load(), 2500);
    }
  });

  return (
    <div className="audit">
      <AuditVerify />
      {error ? <p className="field-error">{describeError(error)?.message}</p> : null}
      {entries === null && !error ? <p className="hint">Loading history…</p> : null}
      {entries && entries.length === 0 ? (
        <p className="hint" data-testid="audit-empty">
          No history recorded yet.
        </p>
      ) : null}
      {entries?.length ? (
        <ol className="audit-list" aria-label="History, newest first">
          {entries.map((a) => (
            <li key={a.id} data-action={a.action}>
              <p className="audit-sentence">{describeEntry(a, me.id, me.timezone)}</p>
              <p className="hint">
                <time dateTime={a.at}>{formatDateTime(a.at, me.timezone, { withYear: true })}</time> · {ACTION_LABELS[a.action] ?? a.action}
              </p>
              <details className="audit-raw">
                <summary>Raw entry and hash</summary>
                <pre className="audit-changes">{JSON.stringify({ id: a.id, at: a.at, actor: a.actor, action: a.action, taskId: a.taskId, changes: a.changes }, null, 2)}</pre>
                <code className="hash" title="Chain hash (SHA-256)">
                  {a.hash}
                </code>
              </details>
            </li>
          ))}
        </ol>
      ) : null}
      {entries && total > entries.length ? (
        <p className="hint">
          Showing the first {entries.length} of {total} entries, newest of them first.
        </p>
      ) : null}
    </div>
  );
}

export function AuditVerify() {
  const client = useClient();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<VerifyAuditLogQuery['verifyAuditLog'] | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function verify() {
    setBusy(true);
    setError(null);
    const res = await client.query(VerifyAuditLogDocument, {}, { requestPolicy: 'network-only' }).toPromise();
    setBusy(false);
    if (res.data) setResult(res.data.verifyAuditLog);
    else setError(describeError(res.error)?.message ?? 'Could not verify.');
  }
  return (
    <div className="audit-verify">
      <button type="button" className="secondary small" onClick={() => void verify()} disabled={busy}>
        {busy ? 'Verifying…' : 'Verify audit chain'}
      </button>
      <span role="status" aria-live="polite" data-testid="audit-verify-result">
        {error ? <span className="field-error">{error}</span> : null}
        {result && !busy ? (
          result.ok ? (
            <span className="ok">
              ✓ Chain intact — {result.checked} {result.checked === 1 ? 'entry' : 'entries'} checked
            </span>
          ) : (
            <span className="field-error">
              ✗ Chain broken at entry {result.firstBroken ?? '?'} ({result.checked} checked)
            </span>
          )
        ) : null}
      </span>
    </div>
  );
}
