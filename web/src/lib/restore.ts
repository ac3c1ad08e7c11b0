import type { Client } from 'urql';
import { RestoreTaskDocument, type TaskDetailFragment } from '../gql/graphql';
import { describeError } from './errors';

/** Brings a just-deleted task back (restoreTask): the task, or the message to show. */
export async function restoreDeleted(client: Client, id: string): Promise<{ task: TaskDetailFragment } | { error: string }> {
  const res = await client.mutation(RestoreTaskDocument, { id }).toPromise();
  const task = res.data?.restoreTask;
  if (task) return { task };
  // Past the window the API answers NOT_FOUND: say so plainly rather than "not found".
  const code = res.error?.graphQLErrors[0]?.extensions?.code;
  if (code === 'NOT_FOUND') return { error: 'Too late to undo: the task is gone for good.' };
  if (code === 'CONFLICT') return { error: 'The task is back already.' };
  return { error: describeError(res.error, 'task')?.message ?? 'Could not undo the deletion.' };
}
