import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { ReminderDraft } from '../lib/taskForm';
import { RemindersEditor } from './RemindersEditor';

const reminder = (amount: number): ReminderDraft => ({ key: 'r1', mode: 'before', amount, unit: 'minutes', at: '', channels: ['IN_APP'] });

describe('RemindersEditor wording', () => {
  it('says "1 minute before" and "5 minutes before"', () => {
    const { rerender } = render(<RemindersEditor value={[reminder(1)]} onChange={() => {}} hasDue errors={{}} />);
    const options = () => [...(screen.getByLabelText('Reminder 1 unit') as HTMLSelectElement).options].map((o) => o.textContent);
    expect(options()).toEqual(['minute before', 'hour before', 'day before']);
    rerender(<RemindersEditor value={[reminder(5)]} onChange={() => {}} hasDue errors={{}} />);
    expect(options()).toEqual(['minutes before', 'hours before', 'days before']);
  });
});
