import { describe, expect, it } from 'vitest';
import { describeEntry } from './history';

const ME = 'u-1';
const TZ = 'Europe/Berlin';
const NOW = Date.parse('2026-12-04T09:00:00Z');
const say = (action: string, changes: unknown, actor = ME) => describeEntry({ action, actor, at: '2026-12-04T09:00:00Z', changes }, ME, TZ, NOW);

describe('history in sentences', () => {
  it('says a due date moved by days, keeping the time out when it stayed', () => {
    expect(say('task.updated', { dueAt: { before: '2026-12-03T08:00:00Z', after: '2026-12-06T08:00:00Z' } })).toBe(
      'You changed the due date from Thu 3 Dec to Sun 6 Dec',
    );
    // Local times, not UTC: 23:30 UTC on the 1st is already the 2nd in Berlin.
    expect(say('task.updated', { dueAt: { before: '2026-12-01T23:30:00Z', after: '2026-12-02T09:00:00Z' } })).toBe(
      'You moved the due time from Wed 2 Dec, 00:30 to 10:00',
    );
    expect(say('task.updated', { dueAt: { before: '2026-12-08T08:00:00Z', after: '2027-01-05T09:00:00Z' } })).toBe(
      'You changed the due date from Tue 8 Dec, 09:00 to Tue 5 Jan 2027, 10:00',
    );
    expect(say('task.updated', { dueAt: { before: null, after: '2026-12-08T08:00:00Z' } })).toBe('You set the due date to Tue 8 Dec, 09:00');
    expect(say('task.updated', { dueAt: { before: '2026-12-08T08:00:00Z', after: null } })).toBe('You removed the due date (was Tue 8 Dec, 09:00)');
  });

  it('joins several fields into one sentence', () => {
    expect(
      say('task.updated', {
        title: { before: 'Buy milk', after: 'Buy oat milk' },
        priority: { before: 'NONE', after: 'HIGH' },
        tags: { before: ['home'], after: ['errands', 'shop'] },
      }),
    ).toBe('You changed the title from “Buy milk” to “Buy oat milk”, changed the priority from none to High and added the tags #errands, #shop and removed the tag #home');
  });

  it('says repeats and reminders in words', () => {
    expect(say('task.updated', { recurrence: { before: null, after: { rule: 'FREQ=MONTHLY;BYDAY=2TU', repeatFrom: 'DUE_DATE', timezone: TZ } } })).toBe(
      'You made it repeat every month on the 2nd Tuesday',
    );
    expect(say('task.updated', { recurrence: { before: { rule: 'FREQ=DAILY' }, after: null }, seriesId: { before: 's', after: null } })).toBe(
      'You stopped it repeating',
    );
    const sent = { id: 'r1', remindAt: '2026-12-04T08:00:00Z', beforeDue: null, channels: ['IN_APP'], state: 'SENT', sentAt: '2026-12-04T08:00:01Z' };
    expect(
      say(
        'task.updated',
        { reminders: { before: [{ ...sent, state: 'SCHEDULED', sentAt: null }], after: [sent] } },
        'notifications',
      ),
    ).toBe('The notifications service sent a reminder');
    expect(say('task.updated', { reminders: { before: [sent], after: [{ ...sent, state: 'SCHEDULED', remindAt: '2026-12-05T08:00:00Z', sentAt: null }] } })).toBe(
      'You snoozed a reminder to Sat 5 Dec, 09:00',
    );
    // A relative reminder stays relative when snoozed: still a snooze, not "changed a reminder".
    const relative = { ...sent, beforeDue: 1 };
    expect(say('task.updated', { reminders: { before: [relative], after: [{ ...relative, state: 'SCHEDULED', remindAt: '2026-12-04T08:10:00Z', sentAt: null }] } })).toBe(
      'You snoozed a reminder to Fri 4 Dec, 09:10',
    );
    expect(say('task.updated', { reminders: { before: [], after: [{ ...sent, id: 'r2', beforeDue: 15, state: 'SCHEDULED' }] } })).toBe(
      'You added a reminder 15 minutes before the due time',
    );
    expect(say('task.updated', { reminders: { before: [sent], after: [] } })).toBe('You removed a reminder');
  });

  it('names the task on creation and deletion, and other actors', () => {
    const task = { title: 'Dentist', dueAt: '2026-12-08T08:30:00Z', recurrence: null };
    expect(say('task.created', { task })).toBe('You created “Dentist”, due Tue 8 Dec, 09:30');
    expect(say('task.deleted', { task })).toBe('You deleted “Dentist”');
    expect(say('task.completed', { status: { before: 'OPEN', after: 'DONE' } })).toBe('You completed the task');
    expect(say('task.created', { task: { ...task, recurrence: { rule: 'FREQ=DAILY' } } }, 'recurrence')).toBe(
      'The recurrence service created “Dentist”, due Tue 8 Dec, 09:30, repeating every day',
    );
    expect(say('task.reopened', {}, 'f2c4a9e0-0000-4000-8000-000000000000')).toBe('Someone else (f2c4a9e0) reopened the task');
  });

  it('says every other event type in words, never as raw JSON', () => {
    const task = { title: 'Dentist', dueAt: null, recurrence: null };
    expect(say('task.restored', { task })).toBe('You restored “Dentist”');
    expect(say('tag.renamed', { name: { before: 'work', after: 'job' } })).toBe('You renamed the tag #work to #job');
    expect(say('tag.deleted', { name: { before: 'work', after: null } })).toBe('You deleted the tag #work');
    expect(say('webhook.registered', { url: 'https://hooks.example.com/t' })).toBe('You registered the webhook https://hooks.example.com/t');
    expect(say('notification.sent', { channel: 'PUSH', title: 'Dentist', body: '' }, 'notifications')).toBe(
      'The notifications service sent a reminder by browser push',
    );
    expect(say('notification.failed', { channel: 'EMAIL', error: 'mailbox full' }, 'notifications')).toBe(
      'The notifications service could not deliver a reminder by email (mailbox full)',
    );
    expect(say('project.member.changed', { memberId: 'm', role: 'EDITOR', previousRole: 'VIEWER' })).toBe(
      "You changed a member's role from viewer to editor",
    );
    expect(say('project.section.deleted', { name: 'Later', movedTaskCount: 2 })).toBe('You deleted the section “Later”, moving 2 tasks out of it');
    expect(say('project.invitation.answered', { role: 'EDITOR', state: 'ACCEPTED' })).toBe('You accepted an invitation');
  });
});
