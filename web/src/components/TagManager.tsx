import { useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { useTags } from '../lib/hooks';
import { DeleteTagDocument, RenameTagDocument, type TagFieldsFragment } from '../gql/graphql';
import { describeError } from '../lib/errors';
import { emit } from '../lib/events';
import { useToast } from './Toast';
import { useOfflineProps } from '../lib/offline';

/** Rename or delete the user's tags. */
export function TagManager() {
  const [{ data, error, fetching }, refetch] = useTags();
  const tags = data?.tags ?? [];
  const reload = () => refetch({ requestPolicy: 'network-only' });
  if (error && !data) return <p className="field-error">{describeError(error)?.message}</p>;
  if (!fetching && tags.length === 0) return <p className="hint">No tags yet. Add tags to a task to create them.</p>;
  return (
    <ul className="tag-manager">
      {tags.map((t) => (
        <TagRow key={t.id} tag={t} onChanged={reload} />
      ))}
    </ul>
  );
}

function TagRow({ tag, onChanged }: { tag: TagFieldsFragment; onChanged: () => void }) {
  const client = useClient();
  const toast = useToast();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(tag.name);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);
  const offline = useOfflineProps();

  async function rename(e: FormEvent) {
    e.preventDefault();
    const res = await client.mutation(RenameTagDocument, { id: tag.id, name: name.trim() }).toPromise();
    if (res.error) return setError(describeError(res.error, 'tag')?.message ?? 'Could not rename the tag.');
    setEditing(false);
    setError(null);
    toast(`Renamed #${tag.name} to #${res.data?.renameTag.name ?? name}`);
    onChanged();
    emit({ type: 'tags-changed' });
  }

  async function remove() {
    const res = await client.mutation(DeleteTagDocument, { id: tag.id }).toPromise();
    if (res.error) return setError(describeError(res.error, 'tag')?.message ?? 'Could not delete the tag.');
    toast(`Deleted #${tag.name}`);
    onChanged();
    emit({ type: 'tags-changed' });
  }

  return (
    <li className="tag-manager-row">
      {editing ? (
        <form onSubmit={(e) => void rename(e)} className="inline-form">
          <label className="visually-hidden" htmlFor={`rename-${tag.id}`}>
            New name for #{tag.name}
          </label>
          <input
            id={`rename-${tag.id}`}
            value={name}
            autoFocus
            maxLength={60}
            onChange={(e) => setName(e.target.value)}
            onKeyDown={(e) => e.key === 'Escape' && (setEditing(false), setName(tag.name))}
            aria-invalid={error ? true : undefined}
          />
          <button type="submit" className="small" {...offline}>
            Save
          </button>
          <button type="button" className="ghost small" onClick={() => { setEditing(false); setName(tag.name); setError(null); }}>
            Cancel
          </button>
        </form>
      ) : (
        <>
          <span className="tag">#{tag.name}</span>
          <span className="hint">{tag.openTaskCount} open</span>
          <span className="row-actions">
            <button type="button" className="ghost small" onClick={() => setEditing(true)} aria-label={`Rename tag ${tag.name}`}>
              Rename
            </button>
            {confirm ? (
              <>
                <button type="button" className="danger small" autoFocus onClick={() => void remove()} {...offline}>
                  Delete #{tag.name}
                </button>
                <button type="button" className="ghost small" onClick={() => setConfirm(false)}>
                  Keep
                </button>
              </>
            ) : (
              <button type="button" className="ghost small danger" onClick={() => setConfirm(true)} aria-label={`Delete tag ${tag.name}`}>
                Delete
              </button>
            )}
          </span>
        </>
      )}
      {error ? (
        <p className="field-error" role="alert">
          {error}
        </p>
      ) : null}
    </li>
  );
}
