import { describe, expect, it } from 'vitest';
import { customSnoozeMinutes, firedReminder, pastReminders, snoozeMinutes } from './reminders';
import { emptyForm, newKey, type ReminderDraft, type TaskForm } from './taskForm';

const TZ = 'Europe/Berlin';
// Friday 4 December 2026, 10:00:30 in Berlin.
const NOW = Date.parse('2026-12-04T09:00:30Z');

const at = (value: string, extra: Partial<ReminderDraft> = {}): ReminderDraft => ({
  key: newKey(),
  mode: 'at',
  amount: 15,
  unit: 'minutes',
  at: value,
  channels: ['IN_APP'],
  ...extra,
});
const before = (amount: number, unit: ReminderDraft['unit'], extra: Partial<ReminderDraft> = {}): ReminderDraft => ({
  ...at(''),
  mode: 'before',
  amount,
  unit,
  ...extra,
});
const form = (patch: Partial<TaskForm>): TaskForm => ({ ...emptyForm(), title: 'T', ...patch });

describe('snoozeMinutes', () => {
  it('is 10 and 60 for the fixed choices', () => {
    expect(snoozeMinutes('10m', TZ, NOW)).toBe(10);
    expect(snoozeMinutes('1h', TZ, NOW)).toBe(60);
  });

  it('reaches 09:00 tomorrow on the account clock, never earlier', () => {
    // 10:00:30 → 09:00 next day: 22 h 59.5 min, rounded up.
    expect(snoozeMinutes('tomorrow', TZ, NOW)).toBe(22 * 60 + 60);
    // In New York it is 04:00:30 on the 4th: tomorrow 09:00 is 28 h 59.5 min away.
    expect(snoozeMinutes('tomorrow', 'America/New_York', NOW)).toBe(29 * 60);
    // Across the spring DST change (Sat 27 → Sun 28 Mar 2027 in Berlin): 23 wall hours are 22 real ones.
    expect(snoozeMinutes('tomorrow', TZ, Date.parse('2027-03-27T09:00:00Z'))).toBe(22 * 60);
  });
});

describe('firedReminder', () => {
  const rs = [
    { id: 'a', state: 'SENT' as const, sentAt: '2026-12-04T08:00:00Z' },
    { id: 'b', state: 'SENT' as const, sentAt: '2026-12-04T09:00:01Z' },
    { id: 'c', state: 'SCHEDULED' as const, sentAt: null },
  ];
  it('picks the SENT reminder sent closest to the notification', () => {
    expect(firedReminder(rs, '2026-12-04T09:00:02Z')?.id).toBe('b');
    expect(firedReminder(rs, '2026-12-04T08:00:05Z')?.id).toBe('a');
  });
  it('is null when none was sent (already snoozed, or removed)', () => {
    expect(firedReminder([rs[2] as (typeof rs)[number]], '2026-12-04T09:00:02Z')).toBeNull();
  });
});

describe('pastReminders', () => {
  it('finds new reminders that would fire before now, absolute and relative', () => {
    const f = form({
      due: '2026-12-04T10:05',
      reminders: [at('2026-12-04T09:30'), at('2026-12-04T11:00'), before(10, 'minutes'), before(1, 'minutes'), before(1, 'days')],
    });
    // 09:30 passed; 11:00 not; 09:55 passed; 10:04 not; 3 Dec 10:05 passed.
    expect(pastReminders(f, null, TZ, NOW)).toEqual([0, 2, 4]);
  });

  it('leaves saved, untouched reminders alone but flags them when the due date moves them into the past', () => {
    const initial = form({ due: '2026-12-04T12:00', reminders: [before(1, 'hours', { id: 'r1', state: 'SCHEDULED' }), at('2026-12-01T09:00', { id: 'r2', state: 'SENT' })] });
    expect(pastReminders(initial, initial, TZ, NOW)).toEqual([]);
    const moved = { ...initial, due: '2026-12-04T10:30' };
    expect(pastReminders(moved, initial, TZ, NOW)).toEqual([0]);
  });

  it('cannot tell without a due date, so does not ask', () => {
    expect(pastReminders(form({ reminders: [before(10, 'minutes')] }), null, TZ, NOW)).toEqual([]);
  });
});

describe('customSnoozeMinutes', () => {
  it('counts the minutes to a wall-clock time in the account zone, refusing the past and far future', () => {
    // 2026-12-04T09:00:00Z is 10:00 in Berlin.
    const now = Date.parse('2026-12-04T09:00:00Z');
    expect(customSnoozeMinutes('2026-12-04T10:30', 'Europe/Berlin', now)).toBe(30);
    expect(customSnoozeMinutes('2026-12-04T10:30', 'UTC', now)).toBe(90);
    expect(customSnoozeMinutes('2026-12-04T09:59', 'Europe/Berlin', now)).toEqual({ error: 'Choose a time in the future.' });
    expect(customSnoozeMinutes('', 'Europe/Berlin', now)).toEqual({ error: 'Choose a date and time.' });
    expect(customSnoozeMinutes('2027-01-04T10:01', 'Europe/Berlin', now)).toEqual({ error: 'Choose a time within the next 30 days.' });
  });
});
