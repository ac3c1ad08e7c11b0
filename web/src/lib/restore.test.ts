import { describe, expect, it } from 'vitest';
import { mockClient } from '../test/mockClient';
import { restoreDeleted } from './restore';

describe('restoreDeleted', () => {
  it('calls restoreTask with the deleted id and hands back the task', async () => {
    const task = { __typename: 'Task', id: 't1', title: 'Back again', version: 3 };
    const { client, calls } = mockClient((name) => (name === 'RestoreTask' ? { data: { restoreTask: task } } : { data: null }));
    const result = await restoreDeleted(client, 't1');
    expect(calls).toEqual([{ name: 'RestoreTask', variables: { id: 't1' } }]);
    expect(result).toEqual({ task });
  });

  it('says plainly when it is too late or already back', async () => {
    const answer = (code: string) =>
      mockClient(() => ({ errors: [{ message: 'id: …', extensions: { code } }] })).client;
    expect(await restoreDeleted(answer('NOT_FOUND'), 't1')).toEqual({ error: 'Too late to undo: the task is gone for good.' });
    expect(await restoreDeleted(answer('CONFLICT'), 't1')).toEqual({ error: 'The task is back already.' });
  });
});
