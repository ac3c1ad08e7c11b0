import { useState } from 'react';
import { useClient, useQuery } from 'urql';
import { AuditLogDocument, VerifyAuditLogDocument, type VerifyAuditLogQuery } from '../gql/graphql';
import { formatDateTime } from '../lib/datetime';
import { describeError } from '../lib/errors';
import { useAppEvents } from '../lib/hooks';
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

export function AuditTrail({ taskId }: { taskId?: string }) {
  const me = useMe();
  const [{ data, error, fetching }, refetch] = useQuery({
    query: AuditLogDocument,
    variables: { taskId: taskId ?? null, first: 100 },
    requestPolicy: 'cache-and-network',
  });
  useAppEvents((e) => {
    if (e.type === 'resync' || (e.type === 'tasks-changed' && (!taskId || e.taskId === taskId))) {
      setTimeout(() => refetch({ requestPolicy: 'network-only' }), 2500);
    }
  });
  const entries = data?.auditLog.edges.map((e) => e.node) ?? [];
  return (
    <div className="audit">
      <AuditVerify />
      {error ? <p className="field-error">{describeError(error)?.message}</p> : null}
      {fetching && !data ? <p className="hint">Loading history…</p> : null}
      {data && entries.length === 0 ? (
        <p className="hint" data-testid="audit-empty">
          No history recorded yet.
        </p>
      ) : null}
      {entries.length ? (
        <ol className="audit-list">
          {entries.map((a) => (
            <li key={a.id}>
              <div>
                <strong>{ACTION_LABELS[a.action] ?? a.action}</strong>{' '}
                <time dateTime={a.at}>{formatDateTime(a.at, me.timezone, { withYear: true })}</time>
                <span className="hint"> · by {a.actor === me.id ? 'you' : a.actor}</span>
              </div>
              {summarizeChanges(a.changes) ? <div className="audit-changes">{summarizeChanges(a.changes)}</div> : null}
              <code className="hash" title="Chain hash">
                {a.hash.slice(0, 16)}…
              </code>
            </li>
          ))}
        </ol>
      ) : null}
      {data && data.auditLog.totalCount > entries.length ? (
        <p className="hint">
          Showing {entries.length} of {data.auditLog.totalCount} entries.
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
