// Saved filters: "Save filter" under the filter bar keeps the list's filter and order under a
// name (the API stores them per account); the sidebar lists them, opens and deletes them.
import { useCallback, useId, useState, type FormEvent } from 'react';
import { useClient, useQuery } from 'urql';
import { DeleteSavedFilterDocument, SaveFilterDocument, SavedFiltersDocument, type SavedFilterFieldsFragment, type TaskFilter, type TaskOrder } from '../gql/graphql';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { navigate, useAppEvents } from '../lib/hooks';
import { useOfflineProps } from '../lib/offline';
import { ConfirmDialog } from './ConfirmDialog';
import { useToast } from './Toast';

/** The caller's saved filters, re-read when one is saved or deleted here. */
export function useSavedFilters(): { filters: SavedFilterFieldsFragment[]; loading: boolean } {
  const [{ data, fetching }, refetch] = useQuery({ query: SavedFiltersDocument, requestPolicy: 'cache-and-network' });
  const again = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useAppEvents((e) => {
    if (e.type === 'saved-filters-changed' || e.type === 'resync') again();
  });
  return { filters: data?.savedFilters ?? [], loading: fetching && !data };
}

/** The filter a saved one applies (the API keeps it as JSON: anything but an object is ignored). */
export function savedTaskFilter(f: SavedFilterFieldsFragment): TaskFilter {
  return f.filter && typeof f.filter === 'object' && !Array.isArray(f.filter) ? (f.filter as TaskFilter) : {};
}

/** Its order, or null for the list's own. */
export function savedOrder(f: SavedFilterFieldsFragment): TaskOrder[] | null {
  return Array.isArray(f.orderBy) ? (f.orderBy as TaskOrder[]) : null;
}

export function SaveFilterButton({ filter, orderBy }: { filter: TaskFilter; orderBy: TaskOrder[] | null }) {
  const client = useClient();
  const toast = useToast();
  const offline = useOfflineProps();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const ids = useId();
  async function submit(e: FormEvent) {
    e.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) {
      setError('Name: enter 1 to 100 characters.');
      return;
    }
    const res = await client.mutation(SaveFilterDocument, { name: trimmed, filter: filter, orderBy: orderBy }).toPromise();
    if (res.error || !res.data) {
      setError(describeError(res.error)?.message ?? 'Could not save the filter.');
      return;
    }
    setOpen(false);
    setName('');
    setError(null);
    emit({ type: 'saved-filters-changed' });
    toast(`Saved the filter “${trimmed}”; it is in the sidebar.`);
  }
  if (!open) {
    return (
      <button type="button" className="ghost save-filter" onClick={() => setOpen(true)} {...offline}>
        Save filter
      </button>
    );
  }
  return (
    <form className="save-filter-form" onSubmit={(e) => void submit(e)}>
      <label htmlFor={`${ids}-name`}>Filter name</label>
      <input id={`${ids}-name`} value={name} maxLength={100} autoFocus aria-describedby={error ? `${ids}-err` : undefined} aria-invalid={error ? true : undefined} onChange={(e) => setName(e.target.value)} />
      <button type="submit" {...offline}>
        Save
      </button>
      <button type="button" className="ghost" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {error ? (
        <p className="field-error" id={`${ids}-err`} role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}

/** The sidebar's list of saved filters. */
export function SavedFiltersNav({ current }: { current: string | null }) {
  const { filters } = useSavedFilters();
  const client = useClient();
  const toast = useToast();
  const offline = useOfflineProps();
  const [pending, setPending] = useState<SavedFilterFieldsFragment | null>(null);
  if (filters.length === 0) return null;
  async function remove(f: SavedFilterFieldsFragment) {
    const res = await client.mutation(DeleteSavedFilterDocument, { id: f.id }).toPromise();
    if (res.error) {
      toast(describeError(res.error)?.message ?? 'Could not delete the filter.', 'error');
      return;
    }
    emit({ type: 'saved-filters-changed' });
    toast(`Deleted the filter “${f.name}”`);
    if (current === f.id) navigate('/tasks');
  }
  return (
    <nav aria-labelledby="saved-filters-heading" className="side-filters">
      <div className="side-heading">
        <h2 id="saved-filters-heading">Filters</h2>
      </div>
      <ul className="side-list">
        {filters.map((f) => (
          <li key={f.id} className="side-filter">
            <a className="side-link" href={`#/filters/${encodeURIComponent(f.id)}`} aria-current={current === f.id ? 'page' : undefined}>
              <span className="side-label">{f.name}</span>
            </a>
            <button type="button" className="ghost icon-button" aria-label={`Delete the filter “${f.name}”`} onClick={() => setPending(f)} {...offline}>
              ×
            </button>
          </li>
        ))}
      </ul>
      {pending ? (
        <ConfirmDialog
          title={`Delete the filter “${pending.name}”?`}
          body="Only the saved filter goes; no task changes."
          confirmLabel="Delete filter"
          onConfirm={() => {
            const f = pending;
            setPending(null);
            void remove(f);
          }}
          onCancel={() => setPending(null)}
        />
      ) : null}
    </nav>
  );
}
