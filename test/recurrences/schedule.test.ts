import { describe, expect, it } from 'vitest';
import { firstOccurrence, isTimeZone, nextOccurrence, type Rule } from '../../src/recurrences/schedule';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

const rule = (over: Partial<Rule>): Rule => ({
  ruleType: 'daily',
  interval: 1,
  timezone: 'UTC',
  anchorDay: null,
  anchorMonth: null,
  anchorWeekday: null,
  timeOfDay: '09:00:00',
  ...over,
});

/** The next `n` occurrences after `first`, each computed as the scheduler does. */
function series(r: Rule, first: string, n: number): string[] {
  const out = [first];
  let due = at(first);
  for (let i = 1; i < n; i++) {
    due = nextOccurrence(r, due, due);
    out.push(iso(due));
  }
  return out;
}

describe('next occurrence in the recurrence time zone', () => {
  it('keeps 09:00 local across the spring-forward change (New York, 8 March 2026)', () => {
    const r = rule({ timezone: 'America/New_York' });
    expect(series(r, '2026-03-07T14:00:00Z', 3)).toEqual(['2026-03-07T14:00:00Z', '2026-03-08T13:00:00Z', '2026-03-09T13:00:00Z']);
  });

  it('keeps 09:00 local across the autumn change (Berlin, 25 October 2026)', () => {
    const r = rule({ timezone: 'Europe/Berlin' });
    expect(series(r, '2026-10-24T07:00:00Z', 3)).toEqual(['2026-10-24T07:00:00Z', '2026-10-25T08:00:00Z', '2026-10-26T08:00:00Z']);
  });

  it('moves a wall time inside the spring-forward gap past the gap, and the next day back to it', () => {
    const r = rule({ timezone: 'America/New_York', timeOfDay: '02:30:00' });
    // 2026-03-07 02:30 EST = 07:30Z; 03-08 02:30 does not exist: 03:30 EDT = 07:30Z; 03-09 02:30 EDT = 06:30Z.
    expect(series(r, '2026-03-07T07:30:00Z', 3)).toEqual(['2026-03-07T07:30:00Z', '2026-03-08T07:30:00Z', '2026-03-09T06:30:00Z']);
  });

  it('takes the first of a wall time that happens twice (New York, 1 November 2026, 01:30)', () => {
    const r = rule({ timezone: 'America/New_York', timeOfDay: '01:30:00' });
    expect(series(r, '2026-10-31T05:30:00Z', 2)).toEqual(['2026-10-31T05:30:00Z', '2026-11-01T05:30:00Z']);
  });

  it('uses the last day of a 30-day month for the 31st, and the 31st again after', () => {
    const r = rule({ ruleType: 'monthly', anchorDay: 31 });
    expect(series(r, '2026-03-31T09:00:00Z', 4)).toEqual([
      '2026-03-31T09:00:00Z',
      '2026-04-30T09:00:00Z',
      '2026-05-31T09:00:00Z',
      '2026-06-30T09:00:00Z',
    ]);
    expect(series(r, '2027-01-31T09:00:00Z', 3)).toEqual(['2027-01-31T09:00:00Z', '2027-02-28T09:00:00Z', '2027-03-31T09:00:00Z']);
  });

  it('keeps 29 February on leap years and uses 28 February between them', () => {
    const r = rule({ ruleType: 'yearly', anchorMonth: 2, anchorDay: 29, timezone: 'Europe/London', timeOfDay: '12:00:00' });
    expect(series(r, '2028-02-29T12:00:00Z', 5)).toEqual([
      '2028-02-29T12:00:00Z',
      '2029-02-28T12:00:00Z',
      '2030-02-28T12:00:00Z',
      '2031-02-28T12:00:00Z',
      '2032-02-29T12:00:00Z',
    ]);
  });

  it('runs weekly on its weekday, every second week with interval 2', () => {
    const monday = rule({ ruleType: 'weekly', anchorWeekday: 1, timezone: 'America/Chicago' });
    expect(series(monday, '2026-06-22T14:00:00Z', 3)).toEqual(['2026-06-22T14:00:00Z', '2026-06-29T14:00:00Z', '2026-07-06T14:00:00Z']);
    const fortnightly = rule({ ruleType: 'weekly', anchorWeekday: 5, interval: 2 });
    expect(series(fortnightly, '2026-12-04T09:00:00Z', 3)).toEqual([
      '2026-12-04T09:00:00Z',
      '2026-12-18T09:00:00Z',
      '2027-01-01T09:00:00Z',
    ]);
  });

  it('snaps a first due date off the weekday onto the weekday after it', () => {
    const r = rule({ ruleType: 'weekly', anchorWeekday: 1 });
    // Wednesday 2026-12-02 -> Monday 2026-12-07.
    expect(iso(nextOccurrence(r, at('2026-12-02T09:00:00Z'), at('2026-12-02T09:00:00Z')))).toBe('2026-12-07T09:00:00Z');
  });

  it('fires a long-missed schedule once, then resumes on time (no burst)', () => {
    const r = rule({});
    // Due 10 days ago; the scheduler runs now: the next one is tomorrow's, not the 9 missed ones.
    expect(iso(nextOccurrence(r, at('2026-12-01T09:00:00Z'), at('2026-12-11T10:00:00Z')))).toBe('2026-12-12T09:00:00Z');
  });

  it('starts a new schedule at the first anchored occurrence after now', () => {
    const now = at('2026-06-10T12:00:00Z');
    expect(iso(firstOccurrence(rule({ ruleType: 'monthly', anchorDay: 1, timezone: 'America/Chicago', timeOfDay: '00:00:00' }), now))).toBe(
      '2026-07-01T05:00:00Z',
    );
    expect(iso(firstOccurrence(rule({ ruleType: 'weekly', anchorWeekday: 1, timezone: 'America/Chicago' }), now))).toBe(
      '2026-06-15T14:00:00Z',
    );
    expect(iso(firstOccurrence(rule({ timeOfDay: '13:00:00' }), now))).toBe('2026-06-10T13:00:00Z');
    expect(iso(firstOccurrence(rule({ timeOfDay: '11:00:00' }), now))).toBe('2026-06-11T11:00:00Z');
    expect(iso(firstOccurrence(rule({ ruleType: 'yearly', anchorMonth: 2, anchorDay: 29 }), now))).toBe('2027-02-28T09:00:00Z');
  });

  it('knows IANA zones and refuses others', () => {
    expect(isTimeZone('America/Chicago')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });
});
