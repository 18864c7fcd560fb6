/**
 * When a recurrence falls due: rules are stepped on the local calendar of the recurrence's IANA
 * time zone (a wall-clock date and time of day), then turned into a UTC instant. A wall time that
 * does not exist (the spring-forward gap) moves forward by the gap; one that exists twice (the
 * autumn overlap) is the first of the two.
 */
export type RuleType = 'daily' | 'weekly' | 'monthly' | 'yearly';

export interface Rule {
  ruleType: RuleType;
  interval: number;
  timezone: string;
  /** 1-31; a month shorter than that uses its last day. */
  anchorDay: number | null;
  /** 1-12, yearly rules. */
  anchorMonth: number | null;
  /** 0-6, Sunday 0, weekly rules. */
  anchorWeekday: number | null;
  /** Local `HH:MM:SS` every occurrence falls at. */
  timeOfDay: string;
}

/** A local calendar date; month 1-12. */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

interface LocalDateTime extends LocalDate {
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** Whether the runtime knows the IANA zone (`UTC` included). */
export function isTimeZone(timezone: string): boolean {
  if (timezone.length === 0 || timezone.length > 64) return false;
  try {
    formatterFor(timezone);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock in `timezone` at the instant `ms`. */
export function localDateTime(ms: number, timezone: string): LocalDateTime {
  const out: Record<string, number> = {};
  for (const part of formatterFor(timezone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') out[part.type] = Number(part.value);
  }
  return { year: out.year!, month: out.month!, day: out.day!, hour: out.hour!, minute: out.minute!, second: out.second! };
}

const wallAsUtc = (t: LocalDateTime) => Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);

/** Local minus UTC at the instant, in ms. */
function offsetAt(ms: number, timezone: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  return wallAsUtc(localDateTime(whole, timezone)) - whole;
}

const DAY_MS = 86_400_000;

/** The UTC instant of a local wall time (see the module comment for gaps and overlaps). */
export function zonedToUtc(t: LocalDateTime, timezone: string): number {
  const asUtc = wallAsUtc(t);
  const before = asUtc - offsetAt(asUtc - DAY_MS, timezone);
  const after = asUtc - offsetAt(asUtc + DAY_MS, timezone);
  const valid = [before, after].filter((c) => wallAsUtc(localDateTime(c, timezone)) === asUtc);
  // No valid candidate: the wall time falls in a gap; the old offset carries it past the gap.
  return valid.length ? Math.min(...valid) : before;
}

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
const weekday = (d: LocalDate) => new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay();

function addDays(d: LocalDate, days: number): LocalDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day) + days * DAY_MS);
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** The `anchor`th day of the month, or its last day when the month is shorter. */
function dayOfMonth(year: number, month: number, anchor: number): LocalDate {
  return { year, month, day: Math.min(anchor, daysInMonth(year, month)) };
}

function addMonths(d: LocalDate, months: number, anchorDay: number): LocalDate {
  const index = d.year * 12 + (d.month - 1) + months;
  return dayOfMonth(Math.floor(index / 12), (index % 12) + 1, anchorDay);
}

/** The first date on or after `d` that falls on `dow`. */
function onOrAfterWeekday(d: LocalDate, dow: number): LocalDate {
  return addDays(d, (dow - weekday(d) + 7) % 7);
}

/** The occurrence date after the occurrence on `d`. */
export function stepDate(rule: Rule, d: LocalDate): LocalDate {
  switch (rule.ruleType) {
    case 'daily':
      return addDays(d, rule.interval);
    case 'weekly':
      return addDays(onOrAfterWeekday(addDays(d, 1), rule.anchorWeekday ?? weekday(d)), 7 * (rule.interval - 1));
    case 'monthly':
      return addMonths(d, rule.interval, rule.anchorDay ?? d.day);
    case 'yearly':
      return dayOfMonth(d.year + rule.interval, rule.anchorMonth ?? d.month, rule.anchorDay ?? d.day);
  }
}

/** The first date on or after `d` that the rule's anchors allow (where a new schedule starts). */
export function alignDate(rule: Rule, d: LocalDate): LocalDate {
  switch (rule.ruleType) {
    case 'daily':
      return d;
    case 'weekly':
      return onOrAfterWeekday(d, rule.anchorWeekday ?? weekday(d));
    case 'monthly': {
      const here = dayOfMonth(d.year, d.month, rule.anchorDay ?? d.day);
      return here.day >= d.day ? here : addMonths(d, 1, rule.anchorDay ?? d.day);
    }
    case 'yearly': {
      const month = rule.anchorMonth ?? d.month;
      const here = dayOfMonth(d.year, month, rule.anchorDay ?? d.day);
      const later = here.month > d.month || (here.month === d.month && here.day >= d.day);
      return later ? here : dayOfMonth(d.year + 1, month, rule.anchorDay ?? d.day);
    }
  }
}

function atTime(rule: Rule, d: LocalDate): number {
  const [hour, minute, second] = rule.timeOfDay.split(':').map(Number) as [number, number, number];
  return zonedToUtc({ ...d, hour, minute, second }, rule.timezone);
}

/** The local date of an instant, for stepping from an occurrence. */
export const localDate = (ms: number, timezone: string): LocalDate => {
  const t = localDateTime(ms, timezone);
  return { year: t.year, month: t.month, day: t.day };
};

/** Local `HH:MM:SS` of an instant. */
export function localTimeOfDay(ms: number, timezone: string): string {
  const t = localDateTime(ms, timezone);
  return [t.hour, t.minute, t.second].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Bounds the catch-up of a long-missed schedule (a daily rule stepping over 100 years). */
const MAX_STEPS = 40_000;

/** The first occurrence of a new schedule strictly after `now`. */
export function firstOccurrence(rule: Rule, now: number): number {
  let date = alignDate(rule, localDate(now, rule.timezone));
  let at = atTime(rule, date);
  for (let i = 0; at <= now && i < MAX_STEPS; i++) {
    date = stepDate(rule, date);
    at = atTime(rule, date);
  }
  return at;
}

/**
 * The occurrence after the one due at `due`, skipping any that already passed by `now`: a
 * schedule that missed several periods fires once, then resumes on time.
 */
export function nextOccurrence(rule: Rule, due: number, now: number): number {
  let date = localDate(due, rule.timezone);
  let at = due;
  for (let i = 0; (at <= due || at <= now) && i < MAX_STEPS; i++) {
    date = stepDate(rule, date);
    at = atTime(rule, date);
  }
  return at;
}
