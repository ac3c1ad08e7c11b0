import { describe, expect, it } from 'vitest';
import {
  defaultDraft,
  PREVIEW_LIMIT,
  previewVariables,
  describeDraft,
  draftToRRule,
  normalizeCustom,
  rruleToDraft,
  untilToDate,
  untilValue,
  validateDraft,
  type RecurrenceDraft,
} from './recurrence';

const TZ = 'Europe/Berlin';
const draft = (patch: Partial<RecurrenceDraft>): RecurrenceDraft => ({ ...defaultDraft(), ...patch });

describe('recurrence builder → RRULE', () => {
  it('builds each preset', () => {
    expect(draftToRRule(draft({ preset: 'DAILY' }), TZ)).toBe('FREQ=DAILY');
    expect(draftToRRule(draft({ preset: 'WEEKDAYS' }), TZ)).toBe('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR');
    expect(draftToRRule(draft({ preset: 'WEEKLY', byDay: ['TH', 'MO'] }), TZ)).toBe('FREQ=WEEKLY;BYDAY=MO,TH');
    expect(draftToRRule(draft({ preset: 'WEEKLY', byDay: [] }), TZ)).toBe('FREQ=WEEKLY');
    expect(draftToRRule(draft({ preset: 'MONTHLY' }), TZ)).toBe('FREQ=MONTHLY');
    expect(draftToRRule(draft({ preset: 'YEARLY' }), TZ)).toBe('FREQ=YEARLY');
  });

  it('adds interval, COUNT and UNTIL', () => {
    expect(draftToRRule(draft({ preset: 'DAILY', interval: 3 }), TZ)).toBe('FREQ=DAILY;INTERVAL=3');
    expect(draftToRRule(draft({ preset: 'MONTHLY', end: { kind: 'count', count: 6 } }), TZ)).toBe('FREQ=MONTHLY;COUNT=6');
    // The last day counts whole, in the rule's zone: 23:59:59 Berlin (winter) = 22:59:59 UTC.
    expect(draftToRRule(draft({ preset: 'WEEKLY', byDay: ['FR'], interval: 2, end: { kind: 'until', date: '2026-12-31' } }), TZ)).toBe(
      'FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;UNTIL=20261231T225959Z',
    );
    expect(untilValue('2026-07-31', TZ)).toBe('20260731T215959Z');
  });

  it('passes a custom rule through, normalized', () => {
    expect(draftToRRule(draft({ preset: 'CUSTOM', custom: ' rrule:freq=monthly;byday=1mo ' }), TZ)).toBe('FREQ=MONTHLY;BYDAY=1MO');
    expect(normalizeCustom('FREQ=HOURLY; INTERVAL=4')).toBe('FREQ=HOURLY;INTERVAL=4');
  });
});

describe('RRULE → recurrence builder', () => {
  it('recognizes presets whatever the order of the parts', () => {
    expect(rruleToDraft('FREQ=WEEKLY;COUNT=5;BYDAY=TH,MO', TZ)).toMatchObject({
      preset: 'WEEKLY',
      byDay: ['MO', 'TH'],
      end: { kind: 'count', count: 5 },
    });
    expect(rruleToDraft('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', TZ).preset).toBe('WEEKDAYS');
    expect(rruleToDraft('FREQ=DAILY;INTERVAL=2', TZ)).toMatchObject({ preset: 'DAILY', interval: 2, end: { kind: 'never' } });
    expect(rruleToDraft('RRULE:FREQ=YEARLY', TZ).preset).toBe('YEARLY');
  });

  it('reads UNTIL back as a date in the zone', () => {
    expect(rruleToDraft('FREQ=DAILY;UNTIL=20261231T225959Z', TZ).end).toEqual({ kind: 'until', date: '2026-12-31' });
    expect(untilToDate('20261231', TZ)).toBe('2026-12-31');
    expect(untilToDate('20261231T235959', TZ)).toBe('2026-12-31');
    expect(untilToDate('nonsense', TZ)).toBeNull();
  });

  it('keeps the repeat-from setting', () => {
    expect(rruleToDraft('FREQ=DAILY', TZ, 'COMPLETION').repeatFrom).toBe('COMPLETION');
  });

  it('falls back to CUSTOM for what the presets cannot say', () => {
    for (const rule of ['FREQ=HOURLY', 'FREQ=MONTHLY;BYMONTHDAY=15', 'FREQ=MONTHLY;BYDAY=5MO', 'FREQ=MONTHLY;BYDAY=1MO,3MO', 'FREQ=MONTHLY;BYDAY=2TU;BYSETPOS=1', 'FREQ=WEEKLY;BYDAY=2TU', 'FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0', 'FREQ=DAILY;BYHOUR=9', 'FREQ=DAILY;BYHOUR=24;BYMINUTE=0', 'FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=30', 'FREQ=DAILY;BYDAY=MO', 'FREQ=WEEKLY;WKST=SU', 'garbage', 'FREQ=DAILY;COUNT=0']) {
      const d = rruleToDraft(rule, TZ);
      expect(d.preset, rule).toBe('CUSTOM');
      expect(d.custom).toBe(normalizeCustom(rule));
    }
  });

  it('round-trips every preset combination', () => {
    const drafts: RecurrenceDraft[] = [
      draft({ preset: 'DAILY', interval: 1 }),
      draft({ preset: 'DAILY', interval: 5, end: { kind: 'count', count: 3 } }),
      draft({ preset: 'WEEKDAYS', end: { kind: 'until', date: '2027-02-28' } }),
      draft({ preset: 'WEEKLY', byDay: ['MO', 'WE', 'SU'], interval: 2 }),
      draft({ preset: 'MONTHLY', interval: 3, end: { kind: 'count', count: 12 } }),
      draft({ preset: 'YEARLY', repeatFrom: 'COMPLETION' }),
    ];
    for (const d of drafts) {
      const rule = draftToRRule(d, TZ);
      expect(rruleToDraft(rule, TZ, d.repeatFrom), rule).toEqual(d);
    }
  });
});

describe('validation and description', () => {
  it('flags bad numbers and missing dates', () => {
    expect(validateDraft(draft({ interval: 0 })).interval).toBeDefined();
    expect(validateDraft(draft({ interval: Number.NaN })).interval).toBeDefined();
    expect(validateDraft(draft({ end: { kind: 'count', count: 0 } })).count).toBeDefined();
    expect(validateDraft(draft({ end: { kind: 'until', date: '' } })).until).toBeDefined();
    expect(validateDraft(draft({ preset: 'CUSTOM', custom: 'BYDAY=MO' })).custom).toMatch(/FREQ/);
    expect(validateDraft(draft({ preset: 'CUSTOM', custom: 'FREQ=MINUTELY' })).custom).toMatch(/hourly/);
    expect(validateDraft(draft({ preset: 'WEEKLY', byDay: ['MO'] }))).toEqual({});
  });

  it('describes the rule in words', () => {
    expect(describeDraft(draft({ preset: 'WEEKLY', byDay: ['MO', 'TH'], end: { kind: 'count', count: 5 } }))).toBe(
      'Every week on Mon, Thu, 5 times',
    );
    expect(describeDraft(draft({ preset: 'MONTHLY', interval: 2, repeatFrom: 'COMPLETION' }))).toBe(
      'Every 2 months, counted from completion',
    );
    expect(describeDraft(draft({ preset: 'WEEKDAYS', end: { kind: 'until', date: '2026-12-31' } }))).toBe(
      'Every week on weekdays, until 2026-12-31',
    );
  });
});

describe('previewVariables', () => {
  it('sends the rule as saved, the due date as start in the zone, and repeatFrom', () => {
    const d = { ...defaultDraft(), preset: 'WEEKLY' as const, byDay: ['TH' as const, 'MO' as const], repeatFrom: 'COMPLETION' as const };
    expect(previewVariables(d, '2030-01-07T09:00', 'Europe/Berlin')).toEqual({
      rule: 'FREQ=WEEKLY;BYDAY=MO,TH',
      start: '2030-01-07T09:00:00+01:00',
      timezone: 'Europe/Berlin',
      repeatFrom: 'COMPLETION',
      limit: PREVIEW_LIMIT,
    });
  });

  it('omits the start without a due date and skips drafts the builder already refuses', () => {
    expect(previewVariables(defaultDraft(), '', 'UTC')?.start).toBeNull();
    expect(previewVariables({ ...defaultDraft(), interval: 0 }, '', 'UTC')).toBeNull();
    expect(previewVariables({ ...defaultDraft(), preset: 'CUSTOM', custom: 'BYDAY=MO' }, '', 'UTC')).toBeNull();
    expect(previewVariables({ ...defaultDraft(), preset: 'CUSTOM', custom: 'rrule:freq=monthly;byday=1mo' }, '', 'UTC')?.rule).toBe(
      'FREQ=MONTHLY;BYDAY=1MO',
    );
  });
});

describe('humanRule', () => {
  it('says the rule in words with the time of day from the due date, in the user’s zone', async () => {
    const { humanRule } = await import('./recurrence');
    expect(humanRule('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', '2026-12-07T08:00:00Z', 'Europe/Berlin')).toBe('every weekday at 09:00');
    expect(humanRule('FREQ=MONTHLY;BYDAY=2TU', '2026-12-08T17:30:00Z', 'Europe/Berlin')).toBe('every month on the 2nd Tuesday at 18:30');
    expect(humanRule('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO', null, 'Europe/Berlin')).toBe('every 2 weeks on Monday');
    expect(humanRule('not a rule', null, 'UTC')).toBe('Repeats');
    // The rule's own time of day wins over the due date's.
    expect(humanRule('FREQ=MONTHLY;BYDAY=2TU;BYHOUR=9;BYMINUTE=0', '2026-12-08T17:30:00Z', 'Europe/Berlin')).toBe('every month on the 2nd Tuesday at 09:00');
    expect(humanRule('FREQ=DAILY;BYHOUR=7;BYMINUTE=5', null, 'UTC')).toBe('every day at 07:05');
  });
});

describe('nth weekday of the month and time of day', () => {
  it('builds BYDAY=2TU, BYDAY=-1FR and BYHOUR/BYMINUTE', () => {
    expect(draftToRRule(draft({ preset: 'MONTHLY', monthly: { kind: 'weekday', nth: 2, day: 'TU' } }), TZ)).toBe('FREQ=MONTHLY;BYDAY=2TU');
    expect(draftToRRule(draft({ preset: 'MONTHLY', monthly: { kind: 'weekday', nth: -1, day: 'FR' }, time: '18:30' }), TZ)).toBe(
      'FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18;BYMINUTE=30',
    );
    expect(draftToRRule(draft({ preset: 'WEEKDAYS', time: '09:00' }), TZ)).toBe('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0');
    // The nth weekday only means something monthly.
    expect(draftToRRule(draft({ preset: 'WEEKLY', monthly: { kind: 'weekday', nth: 2, day: 'TU' } }), TZ)).toBe('FREQ=WEEKLY');
  });

  it('says it in words', () => {
    expect(describeDraft(draft({ preset: 'MONTHLY', monthly: { kind: 'weekday', nth: 2, day: 'TU' }, time: '09:00' }))).toBe(
      'Every month on the 2nd Tuesday at 09:00',
    );
    expect(describeDraft(draft({ preset: 'MONTHLY', interval: 3, monthly: { kind: 'weekday', nth: -1, day: 'FR' } }))).toBe(
      'Every 3 months on the last Friday',
    );
    expect(describeDraft(draft({ preset: 'DAILY', time: '07:15' }))).toBe('Every day at 07:15');
  });

  it('round-trips through RRULE text, BYSETPOS spelling included', () => {
    for (const [rule, want] of [
      ['FREQ=MONTHLY;BYDAY=2TU;BYHOUR=9;BYMINUTE=0', { nth: 2, day: 'TU', time: '09:00' }],
      ['FREQ=MONTHLY;BYDAY=-1FR', { nth: -1, day: 'FR', time: '' }],
      ['FREQ=MONTHLY;BYDAY=+3WE;BYHOUR=18;BYMINUTE=5;BYSECOND=0', { nth: 3, day: 'WE', time: '18:05' }],
      ['FREQ=MONTHLY;BYDAY=TH;BYSETPOS=-1', { nth: -1, day: 'TH', time: '' }],
    ] as const) {
      const d = rruleToDraft(rule, TZ);
      expect(d.preset, rule).toBe('MONTHLY');
      expect(d.monthly, rule).toEqual({ kind: 'weekday', nth: want.nth, day: want.day });
      expect(d.time, rule).toBe(want.time);
      // Built again, the rule means the same dates (the canonical spelling).
      expect(rruleToDraft(draftToRRule(d, TZ), TZ)).toEqual(d);
    }
    const daily = rruleToDraft('FREQ=DAILY;INTERVAL=2;BYHOUR=6;BYMINUTE=45;COUNT=3', TZ);
    expect([daily.preset, daily.interval, daily.time, daily.end]).toEqual(['DAILY', 2, '06:45', { kind: 'count', count: 3 }]);
    expect(draftToRRule(daily, TZ)).toBe('FREQ=DAILY;INTERVAL=2;BYHOUR=6;BYMINUTE=45;COUNT=3');
  });

  it('refuses a malformed time', () => {
    expect(validateDraft(draft({ preset: 'DAILY', time: '25:00' })).time).toMatch(/time of day/);
    expect(validateDraft(draft({ preset: 'DAILY', time: '' })).time).toBeUndefined();
  });
});
