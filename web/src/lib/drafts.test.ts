import { describe, expect, it } from 'vitest';
import { loadDraft } from './drafts';

describe('loadDraft', () => {
  it('fills in builder fields a draft kept by an older version lacks', () => {
    const old = {
      title: 'T',
      notes: '',
      priority: 'NONE',
      tags: [],
      due: '',
      repeat: true,
      reminders: [],
      recurrence: { preset: 'MONTHLY', interval: 2, byDay: [], end: { kind: 'never' }, repeatFrom: 'DUE_DATE', custom: '' },
    };
    sessionStorage.setItem('taskstream.draft.old', JSON.stringify(old));
    const d = loadDraft('old');
    expect(d?.recurrence).toEqual({ ...old.recurrence, monthly: { kind: 'date' }, time: '' });
  });
});
