import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { defaultDraft, type RecurrenceDraft } from '../lib/recurrence';
import { RecurrenceBuilder } from './RecurrenceBuilder';

function Harness({ upcoming = null, changed = true, due }: { upcoming?: string[] | null; changed?: boolean; due?: string }) {
  const [d, setD] = useState<RecurrenceDraft>(defaultDraft());
  return <RecurrenceBuilder value={d} onChange={setD} timeZone="Europe/Berlin" upcoming={upcoming} skipped={[]} changed={changed} {...(due ? { due } : {})} />;
}

describe('RecurrenceBuilder', () => {
  it('builds the nth weekday of the month (from the due date by default) and a time of day', async () => {
    const user = userEvent.setup();
    // Tue 8 Dec 2026 is the 2nd Tuesday of December.
    render(<Harness due="2026-12-08T10:00" />);
    await user.selectOptions(screen.getByLabelText('Repeats'), 'MONTHLY');
    expect(screen.getByTestId('rrule').textContent).toBe('FREQ=MONTHLY');
    await user.click(screen.getByLabelText('a weekday of the month'));
    expect(screen.getByTestId('rrule').textContent).toBe('FREQ=MONTHLY;BYDAY=2TU');
    expect(screen.getByText('Every month on the 2nd Tuesday')).toBeTruthy();
    await user.selectOptions(screen.getByLabelText('Which one in the month'), 'last');
    await user.selectOptions(screen.getByLabelText('Day of the week'), 'Friday');
    await user.type(screen.getByLabelText('At (time of day)'), '18:30');
    expect(screen.getByTestId('rrule').textContent).toBe('FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18;BYMINUTE=30');
    expect(screen.getByText('Every month on the last Friday at 18:30')).toBeTruthy();
    await user.click(screen.getByLabelText('the due date’s day of the month'));
    expect(screen.getByTestId('rrule').textContent).toBe('FREQ=MONTHLY;BYHOUR=18;BYMINUTE=30');
  });


  it('builds a weekly rule on chosen days that ends after N times', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    expect(screen.getByTestId('rrule').textContent).toBe('FREQ=DAILY');
    await user.selectOptions(screen.getByLabelText('Repeats'), 'WEEKLY');
    await user.click(screen.getByLabelText('Thu'));
    await user.click(screen.getByLabelText('Mon'));
    await user.click(screen.getByLabelText('After'));
    const count = screen.getByLabelText('Number of occurrences');
    await user.clear(count);
    await user.type(count, '5');
    await user.clear(screen.getByLabelText('Every'));
    await user.type(screen.getByLabelText('Every'), '2');
    await user.click(screen.getByLabelText('when I complete it'));
    expect(screen.getByTestId('rrule').textContent).toBe('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=5');
    expect(screen.getByText('Every 2 weeks on Mon, Thu, 5 times, counted from completion')).toBeTruthy();
  });

  it('says "Every 1 week" and "Every 2 weeks", never "1 weeks"', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.selectOptions(screen.getByLabelText('Repeats'), 'WEEKLY');
    const suffix = () => screen.getByLabelText('Every').parentElement?.querySelector('span')?.textContent;
    expect(suffix()).toBe('week');
    await user.clear(screen.getByLabelText('Every'));
    await user.type(screen.getByLabelText('Every'), '2');
    expect(suffix()).toBe('weeks');
  });

  it('ends on a date (UNTIL in UTC) and flags a missing date', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByLabelText('On'));
    expect(screen.getByText('Choose the last date')).toBeTruthy();
    await user.type(screen.getByLabelText('Last date'), '2026-12-31');
    expect(screen.getByTestId('rrule').textContent).toBe('FREQ=DAILY;UNTIL=20261231T225959Z');
  });

  it('previews the saved rule’s next dates from Recurrence.upcoming', () => {
    render(<Harness upcoming={['2030-01-10T08:00:00+00:00', '2030-01-14T08:00:00+00:00']} changed={false} />);
    const items = screen.getByTestId('upcoming').querySelectorAll('li');
    expect(items).toHaveLength(2);
    expect(items[0]?.textContent).toMatch(/Thu.*10.*2030.*09:00/);
  });

  it('shows the server preview of a changed or new rule, and its refusal inline', () => {
    const { rerender } = render(
      <RecurrenceBuilder
        value={defaultDraft()}
        onChange={() => {}}
        timeZone="Europe/Berlin"
        upcoming={['2030-01-10T08:00:00+00:00']}
        skipped={[]}
        changed
        preview={{ dates: ['2030-01-08T08:00:00+00:00', '2030-01-09T08:00:00+00:00'], error: null, pending: false }}
      />,
    );
    expect(screen.queryByTestId('upcoming')).toBeNull();
    const items = screen.getByTestId('preview-dates').querySelectorAll('li');
    expect(items).toHaveLength(2);
    expect(items[0]?.textContent).toMatch(/Tue.*8.*2030.*09:00/);
    expect(screen.getByText('Next dates of the changed rule (not saved yet):')).toBeTruthy();
    rerender(
      <RecurrenceBuilder
        value={{ ...defaultDraft(), preset: 'CUSTOM', custom: 'FREQ=DAILY;BYDAY=XX' }}
        onChange={() => {}}
        timeZone="Europe/Berlin"
        upcoming={null}
        skipped={[]}
        changed
        preview={{ dates: null, error: 'Repeat rule: invalid BYDAY', pending: false }}
      />,
    );
    expect(screen.getByText('Repeat rule: invalid BYDAY')).toBeTruthy();
    expect(screen.getByLabelText('RRULE').getAttribute('aria-invalid')).toBe('true');
    expect(screen.queryByTestId('preview-dates')).toBeNull();
  });

  it('accepts a custom RRULE and rejects minutely ones', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.selectOptions(screen.getByLabelText('Repeats'), 'CUSTOM');
    await user.type(screen.getByLabelText('RRULE'), 'FREQ=MINUTELY');
    expect(screen.getByText('Rules more frequent than hourly are not allowed')).toBeTruthy();
    expect(screen.getByLabelText('RRULE').getAttribute('aria-invalid')).toBe('true');
  });
});
