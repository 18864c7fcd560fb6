/**
 * Every limit is configuration. Defaults are the free plan; a `LIMIT_<NAME>` var or secret
 * overrides one (tests and benchmarks raise them without code changes).
 */
import type { Env } from '../env';

export const LIMIT_DEFAULTS = {
  /** Requests per minute per API key, by plan. */
  RATE_PER_MINUTE: 60,
  RATE_PER_MINUTE_PRO: 600,
  RATE_PER_MINUTE_SCALE: 3000,
  /** Requests with a missing or invalid API key per minute per IP, before 429. */
  AUTH_FAILURES_PER_MINUTE: 30,
  /** Requests per minute per IP on unauthenticated onboarding routes. */
  ONBOARDING_RATE_PER_MINUTE: 10,
  /** Onboarding emails per hour per address. */
  EMAILS_PER_HOUR: 5,
  /** Tasks created per calendar month (UTC). */
  TASKS_PER_MONTH: 1000,
  BODY_BYTES: 64 * 1024,
  CONTEXT_BYTES: 32 * 1024,
  /** Deepest nesting of arrays and objects in a JSON body (SQLite's JSON functions stop at 1000). */
  JSON_DEPTH: 32,
  /** Labels one task listing may filter by (as many as a task may carry). */
  LABELS_PER_QUERY: 20,
  AGENTS_PER_ACCOUNT: 25,
  PROJECTS_PER_ACCOUNT: 100,
  WEBHOOKS_PER_ACCOUNT: 10,
  DELEGATION_DEPTH: 10,
  /** Wrong one-time codes (any code, any purpose) per account before its codes are locked. */
  CODE_FAILURES_BEFORE_LOCKOUT: 10,
  /** The first code lockout; each further one doubles, up to CODE_LOCKOUT_MAX_SECONDS. */
  CODE_LOCKOUT_SECONDS: 15 * 60,
  CODE_LOCKOUT_MAX_SECONDS: 24 * 3600,
  /** First webhook retry delay; doubles per attempt up to WEBHOOK_RETRY_MAX_SECONDS. */
  WEBHOOK_RETRY_BASE_SECONDS: 30,
  WEBHOOK_RETRY_MAX_SECONDS: 3600,
  WEBHOOK_TIMEOUT_MS: 10_000,
  /** Consecutive failed deliveries after which a webhook is deactivated. */
  WEBHOOK_FAILURES_BEFORE_DISABLE: 20,
  AUTOMATIONS_PER_ACCOUNT: 50,
  /** Automation cascades: events caused by rules react this many levels deep at most... */
  AUTOMATION_HOPS: 3,
  /** ...and apply at most this many actions per originating event. */
  AUTOMATION_ACTIONS_PER_EVENT: 25,
  /** Consecutive failed runs after which a rule is deactivated. */
  AUTOMATION_FAILURES_BEFORE_DISABLE: 10,
  INGRESS_SOURCES_PER_ACCOUNT: 20,
  /** Deliveries per minute per ingress source (only those whose signature verified and that are new)... */
  INGRESS_RATE_PER_MINUTE: 60,
  /** ...and unsigned, badly signed or replayed ones per minute per source, counted apart. */
  INGRESS_UNVERIFIED_PER_MINUTE: 20,
  INGRESS_BODY_BYTES: 64 * 1024,
  RECURRENCES_PER_ACCOUNT: 500,
  /** Recurrences the scheduler spawns per D1 batch, and batches per run. */
  RECURRENCE_SPAWN_BATCH: 500,
  RECURRENCE_SPAWN_BATCHES_PER_RUN: 10,
  /** Email codes are deleted this long after they expire (used or not). */
  EMAIL_CODE_RETENTION_HOURS: 24,
  /** A delivery still pending or retrying this long after its last change lost its queue message: it is queued again (longer than WEBHOOK_RETRY_MAX_SECONDS). */
  WEBHOOK_REQUEUE_AFTER_SECONDS: 7200,
  /** An outbox event not relayed this long after its write (the relay after the answer never ran) is relayed by the scheduled sweep. */
  EVENT_RELAY_GRACE_SECONDS: 60,
  /** Relayed outbox events are deleted this long after their relay. */
  EVENT_OUTBOX_RETENTION_DAYS: 7,
  /** Finished webhook deliveries (succeeded or failed) and their attempts are deleted this long after they finished. */
  WEBHOOK_DELIVERY_RETENTION_DAYS: 30,
  /** Ended claim runs are deleted this long after they ended. */
  RUN_RETENTION_DAYS: 90,
  /** Recorded Stripe event ids are deleted this long after they arrived; never under 30 days (Stripe retries an event for 3 days; its events API hands out 30-day-old events for reprocessing). */
  STRIPE_EVENT_RETENTION_DAYS: 90,
  /** A code-lockout record (failure count and backoff) is deleted once its lock has ended and it has not changed for this long. */
  CODE_LOCKOUT_RETENTION_DAYS: 7,
  /** Automation effect keys are deleted this long after they were written; never under 15 days, so a redelivered event (a queue message lives at most 14 days) still finds them. */
  AUTOMATION_EFFECT_RETENTION_DAYS: 30,
  /** Automation run logs are deleted this long after the run; never under 15 days (a redelivery finds its run logged). */
  AUTOMATION_RUN_RETENTION_DAYS: 30,
  /** Ingress delivery logs are deleted this long after the delivery; never under 1 day (the replay check reads the last 5 minutes). */
  INGRESS_DELIVERY_RETENTION_DAYS: 30,
  /** The clean-up deletes at most this many rows per statement, and at most CLEANUP_BATCHES_PER_RUN statements per table each minute. */
  CLEANUP_BATCH_ROWS: 500,
  CLEANUP_BATCHES_PER_RUN: 10,
  /**
   * Claim queue objects the accounts are spread over; claims and completions of the accounts on
   * one share D1 batches (see work-queue/claim-queue.ts). One per D1 database: the database has
   * one writer, so one object batching every account's writes costs it the fewest round trips
   * (32 one-worker accounts: 0.88x of one 32-worker account's tasks/s over 4 objects, 0.99x over 1).
   */
  CLAIM_QUEUE_SHARDS: 1,
} as const;

export type LimitName = keyof typeof LIMIT_DEFAULTS;

export function limit(env: Env, name: LimitName): number {
  const raw = env[`LIMIT_${name}`];
  if (raw === undefined || raw === '') return LIMIT_DEFAULTS[name];
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : LIMIT_DEFAULTS[name];
}

export const isDevelopment = (env: Env) => env.ENVIRONMENT === 'development';

const DEV_PEPPER = 'dev-only-pepper-change-me-0123456789abcdef';

/** The hashing secret. Outside development a missing secret is a hard failure, never a default. */
export function keyPepper(env: Env): string {
  if (env.KEY_PEPPER) return env.KEY_PEPPER;
  if (isDevelopment(env)) return DEV_PEPPER;
  throw new Error('KEY_PEPPER is not configured');
}

/** Requests per minute for a key on `plan`. */
export function rateLimitFor(env: Env, plan: 'free' | 'pro' | 'scale'): number {
  return limit(env, plan === 'pro' ? 'RATE_PER_MINUTE_PRO' : plan === 'scale' ? 'RATE_PER_MINUTE_SCALE' : 'RATE_PER_MINUTE');
}
