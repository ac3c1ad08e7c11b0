import { describe, expect, it } from 'vitest';
import { addDays, addMonths, dayLabel, dayRange, groupByDay, monthGrid, moveToDay, startOfWeek, todayKey, weekDays } from './calendar';

describe('calendar days', () => {
  it('covers a month with whole Monday-first weeks', () => {
    const grid = monthGrid(2026, 12);
    // 1 Dec 2026 is a Tuesday, 31 Dec a Thursday: Mon 30 Nov … Sun 3 Jan, five rows.
    expect(grid).toHaveLength(5);
    expect(grid[0]?.[0]).toBe('2026-11-30');
    expect(grid[4]?.[6]).toBe('2027-01-03');
    expect(grid.every((w) => w.length === 7)).toBe(true);
    // February 2027 starts on a Monday and has exactly four weeks.
    expect(monthGrid(2027, 2)).toHaveLength(4);
    // August 2026 starts on a Saturday and needs six rows.
    expect(monthGrid(2026, 8)).toHaveLength(6);
  });

  it('steps days, weeks and months across year ends and leap days', () => {
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2027-01-01', -1)).toBe('2026-12-31');
    expect(startOfWeek('2026-12-06')).toBe('2026-11-30');
    expect(weekDays('2026-12-02')).toEqual(['2026-11-30', '2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04', '2026-12-05', '2026-12-06']);
    expect(addMonths('2026-12-15', 1)).toBe('2027-01-01');
    expect(addMonths('2026-01-31', -1)).toBe('2025-12-01');
  });

  it('reads today in the account zone, not the browser one', () => {
    const now = Date.parse('2026-12-04T23:30:00Z');
    expect(todayKey('UTC', now)).toBe('2026-12-04');
    expect(todayKey('Europe/Berlin', now)).toBe('2026-12-05');
    expect(todayKey('America/Los_Angeles', now)).toBe('2026-12-04');
  });

  it('bounds the shown days by local midnights', () => {
    expect(dayRange('2026-11-30', '2027-01-03', 'Europe/Berlin')).toEqual({
      from: '2026-11-30T00:00:00+01:00',
      to: '2027-01-03T23:59:59+01:00',
    });
    // The range spans the spring DST change: each end has its own offset.
    expect(dayRange('2027-03-22', '2027-04-04', 'Europe/Berlin')).toEqual({
      from: '2027-03-22T00:00:00+01:00',
      to: '2027-04-04T23:59:59+02:00',
    });
  });

  it('moves a due date to another day at the same wall-clock time, across DST', () => {
    expect(moveToDay('2026-12-01T09:30:00+01:00', '2026-12-04', 'Europe/Berlin')).toBe('2026-12-04T09:30:00+01:00');
    // Fri 26 Mar 2027 09:00 CET dropped on Mon 29 Mar: still 09:00, now CEST.
    expect(moveToDay('2027-03-26T08:00:00Z', '2027-03-29', 'Europe/Berlin')).toBe('2027-03-29T09:00:00+02:00');
    // A UTC instant that is already the next day in Tokyo keeps Tokyo's time of day.
    expect(moveToDay('2026-12-01T20:00:00Z', '2026-12-10', 'Asia/Tokyo')).toBe('2026-12-10T05:00:00+09:00');
  });

  it('groups by the day in the account zone, in time order', () => {
    const items = [
      { id: 'late', at: '2026-12-04T23:30:00Z' },
      { id: 'early', at: '2026-12-04T08:00:00Z' },
      { id: 'next', at: '2026-12-05T10:00:00Z' },
    ];
    const berlin = groupByDay(items, (i) => i.at, 'Europe/Berlin');
    expect(berlin.get('2026-12-04')?.map((i) => i.id)).toEqual(['early']);
    expect(berlin.get('2026-12-05')?.map((i) => i.id)).toEqual(['late', 'next']);
    const utc = groupByDay(items, (i) => i.at, 'UTC');
    expect(utc.get('2026-12-04')?.map((i) => i.id)).toEqual(['early', 'late']);
  });

  it('labels days in words', () => {
    expect(dayLabel('2026-12-04')).toBe('Fri 4 Dec');
    expect(dayLabel('2026-12-04', { long: true, withYear: true })).toBe('Friday 4 December 2026');
  });
});
