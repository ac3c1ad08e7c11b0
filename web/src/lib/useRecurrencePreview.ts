// Live preview of a recurrence rule that is not saved yet, via `previewRecurrence`.
import { useMemo } from 'react';
import { useQuery } from 'urql';
import { PreviewRecurrenceDocument } from '../gql/graphql';
import { describeError } from './errors';
import { useDebounced } from './hooks';
import type { PreviewVariables } from './recurrence';

export interface RecurrencePreview {
  /** The next dates of the rule last answered (kept while a newer one loads). */
  dates: string[] | null;
  /** The server's refusal, e.g. "Repeat rule: unsupported BYDAY value". */
  error: string | null;
  /** The builder changed and its dates are not in yet. */
  pending: boolean;
}

export const PREVIEW_DEBOUNCE_MS = 300;

/** Asks the server for the next dates of `vars`, debounced; `vars` null pauses it. */
export function useRecurrencePreview(vars: PreviewVariables | null, delayMs = PREVIEW_DEBOUNCE_MS): RecurrencePreview {
  const key = vars ? JSON.stringify(vars) : null;
  const debouncedKey = useDebounced(key, delayMs);
  const debounced = useMemo(() => (debouncedKey ? (JSON.parse(debouncedKey) as PreviewVariables) : null), [debouncedKey]);
  const [{ data, error, fetching, operation }] = useQuery({
    query: PreviewRecurrenceDocument,
    variables: debounced ?? { rule: '', repeatFrom: 'DUE_DATE', limit: 1 },
    pause: !debounced,
    requestPolicy: 'cache-first',
  });
  if (!key) return { dates: null, error: null, pending: false };
  const answered = operation && debouncedKey === key && JSON.stringify(operation.variables) === key;
  const pending = debouncedKey !== key || fetching || !answered;
  const described = error ? describeError(error) : null;
  return {
    dates: data?.previewRecurrence ?? null,
    error: answered && described ? described.message : null,
    pending,
  };
}
