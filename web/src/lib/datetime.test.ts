import { describe, expect, it } from 'vitest';
import { dateInZone, formatDateTime, formatRfc3339, localizeUtcTimes, localInputToRfc3339, offsetMinutesAt, relativeDay, rfc3339ToLocalInput, startOfDay, timeZoneNames } from './datetime';

describe('time-zone conversions', () => {
  it('reads a datetime-local value in the user’s zone, not the browser’s', () => {
    expect(localInputToRfc3339('2026-12-01T09:00', 'Europe/Berlin')).toBe('2026-12-01T09:00:00+01:00');
    expect(localInputToRfc3339('2026-07-01T09:00', 'Europe/Berlin')).toBe('2026-07-01T09:00:00+02:00');
    expect(localInputToRfc3339('2026-12-01T09:00', 'America/New_York')).toBe('2026-12-01T09:00:00-05:00');
    expect(localInputToRfc3339('2026-12-01T09:00', 'Asia/Kolkata')).toBe('2026-12-01T09:00:00+05:30');
    expect(localInputToRfc3339('2026-12-01T09:00', 'UTC')).toBe('2026-12-01T09:00:00+00:00');
  });

  it('moves a time in the spring-forward gap forward by the gap', () => {
    expect(localInputToRfc3339('2026-03-29T02:30', 'Europe/Berlin')).toBe('2026-03-29T03:30:00+02:00');
  });

  it('picks the earlier instant in the autumn overlap', () => {
    expect(localInputToRfc3339('2026-10-25T02:30', 'Europe/Berlin')).toBe('2026-10-25T02:30:00+02:00');
  });

  it('rejects what is not a datetime-local value', () => {
    expect(localInputToRfc3339('', 'Europe/Berlin')).toBeNull();
    expect(localInputToRfc3339('tomorrow', 'Europe/Berlin')).toBeNull();
  });

  it('shows an instant as the wall clock of the zone', () => {
    expect(rfc3339ToLocalInput('2026-12-01T08:00:00+00:00', 'Europe/Berlin')).toBe('2026-12-01T09:00');
    expect(rfc3339ToLocalInput('2026-12-01T08:00:00Z', 'America/Los_Angeles')).toBe('2026-12-01T00:00');
    expect(rfc3339ToLocalInput(null, 'Europe/Berlin')).toBe('');
  });

  it('round-trips every instant around spring forward (no wall time is ambiguous then)', () => {
    for (let m = 0; m < 48 * 60; m += 30) {
      const ms = Date.UTC(2026, 2, 28, 12) + m * 60000;
      const local = rfc3339ToLocalInput(new Date(ms).toISOString(), 'Europe/Berlin');
      expect(Date.parse(localInputToRfc3339(local, 'Europe/Berlin') ?? ''), local).toBe(ms);
      expect(Date.parse(formatRfc3339(ms, 'Europe/Berlin'))).toBe(ms);
    }
  });

  it('knows offsets, days and day starts in a zone', () => {
    expect(offsetMinutesAt(Date.UTC(2026, 0, 1), 'Europe/Berlin')).toBe(60);
    expect(offsetMinutesAt(Date.UTC(2026, 6, 1), 'America/New_York')).toBe(-240);
    expect(dateInZone(Date.UTC(2026, 0, 1, 23, 30), 'Europe/Berlin')).toBe('2026-01-02');
    expect(new Date(startOfDay(Date.UTC(2026, 0, 1, 23, 30), 'Europe/Berlin')).toISOString()).toBe('2026-01-01T23:00:00.000Z');
    expect(new Date(startOfDay(Date.UTC(2026, 0, 1, 12), 'Europe/Berlin', 1)).toISOString()).toBe('2026-01-01T23:00:00.000Z');
  });

  it('says today / tomorrow / n days by calendar day in the zone', () => {
    const now = Date.parse('2026-06-10T12:00:00Z');
    expect(relativeDay('2026-06-10T21:00:00Z', 'Europe/Berlin', now)).toBe('today');
    expect(relativeDay('2026-06-10T22:30:00Z', 'Europe/Berlin', now)).toBe('tomorrow');
    expect(relativeDay('2026-06-08T10:00:00Z', 'Europe/Berlin', now)).toBe('2 days ago');
    expect(relativeDay('2026-06-13T10:00:00Z', 'Europe/Berlin', now)).toBe('in 3 days');
  });

  it('names far dates by their date, not "in 41 days"', () => {
    const now = Date.parse('2026-06-10T12:00:00Z');
    expect(relativeDay('2026-07-21T10:00:00Z', 'Europe/Berlin', now)).toBe('Tue 21 Jul');
    expect(relativeDay('2026-05-01T10:00:00Z', 'Europe/Berlin', now)).toBe('Fri 1 May');
    expect(relativeDay('2027-01-14T10:00:00Z', 'Europe/Berlin', now)).toBe('Thu 14 Jan 2027');
  });
});

describe('localizeUtcTimes', () => {
  it('rewrites UTC stamps in server texts into the user’s zone', () => {
    const berlin = formatDateTime('2026-11-28T22:51:00Z', 'Europe/Berlin', { withYear: true });
    expect(localizeUtcTimes('Due at 2026-11-28 22:51 UTC', 'Europe/Berlin')).toBe(`Due at ${berlin}`);
    // 23:51 in Berlin, the next day in Tokyo.
    expect(berlin).toMatch(/23:51|11:51/);
    expect(localizeUtcTimes('Due at 2026-11-28 22:51 UTC', 'Asia/Tokyo')).toMatch(/29/);
    expect(localizeUtcTimes('Due at 2026-11-28T22:51:30 UTC and 2026-11-29 08:00 UTC', 'UTC')).not.toMatch(/UTC/);
  });

  it('leaves other text alone', () => {
    expect(localizeUtcTimes('Water the plants', 'Europe/Berlin')).toBe('Water the plants');
    expect(localizeUtcTimes('Due at 2026-11-28 22:51', 'Europe/Berlin')).toBe('Due at 2026-11-28 22:51');
  });
});

describe('timeZoneNames', () => {
  it('lists IANA zones sorted, with UTC and the current zone', () => {
    const names = timeZoneNames('Etc/GMT+5');
    expect(names).toContain('Europe/Berlin');
    expect(names).toContain('UTC');
    expect(names).toContain('Etc/GMT+5');
    expect([...names].sort((a, b) => a.localeCompare(b))).toEqual(names);
    expect(new Set(names).size).toBe(names.length);
  });
});
