/**
 * What the service keeps, and for how long: a scheduled job deletes what has outlived its
 * retention (platform/config.ts). Idempotency records go when they expire (24 h), email codes a
 * while after they expire, webhook deliveries with their attempts a while after they finished,
 * ended runs a while after they ended, Stripe event ids, ended code lockouts, automation effect
 * keys and run logs, and ingress delivery logs a while after they were written. Nothing live is
 * touched: open runs, pending or retrying deliveries, current locks, unexpired records and the
 * effects that record a task a rule made (how the rule knows never to react to it) stay. Each statement deletes at most CLEANUP_BATCH_ROWS rows through an
 * index, and each table gets at most CLEANUP_BATCHES_PER_RUN statements a run, so a backlog is
 * worked off over several minutes rather than in one long run.
 */
import { sql, type SQL } from 'drizzle-orm';
import { database, type Db } from '../db/client';
import {
  automationEffects,
  automationRuns,
  codeLockouts,
  emailCodes,
  eventOutbox,
  idempotencyKeys,
  ingressDeliveries,
  runs,
  stripeEvents,
  webhookAttempts,
  webhookDeliveries,
} from '../db/schema';
import { toRawQuery } from '../db/sql-batch';
import type { Env } from '../env';
import { limit, type LimitName } from '../platform/config';
import { isoSeconds } from '../platform/time';
import { writtenLimit } from '../db/written-limit';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A retention in days from config, never under `floorDays` (what correctness needs, whatever the setting). */
const retentionMs = (env: Env, name: LimitName, floorDays = 0) => Math.max(floorDays, limit(env, name)) * DAY_MS;

/** One kind of expired record: the statements that delete up to `rows` of them (one transaction); the last one's changes count. */
interface Sweep {
  name: string;
  statements: (rows: number, now: number, env: Env) => SQL[];
}

const SWEEPS: Sweep[] = [
  {
    name: 'idempotency_keys',
    statements: (rows, now) => [
      sql`delete from ${idempotencyKeys} where ${idempotencyKeys.scopeKey} in (select ${idempotencyKeys.scopeKey} from ${idempotencyKeys} where ${idempotencyKeys.expiresAt} < ${isoSeconds(now)} limit ${writtenLimit(rows)})`,
    ],
  },
  {
    // Every code has the same lifetime, so a code older than a deleted one has expired too: deleting
    // the newest code of an address never makes an older one current again.
    name: 'email_codes',
    statements: (rows, now, env) => [
      sql`delete from ${emailCodes} where ${emailCodes.id} in (select ${emailCodes.id} from ${emailCodes} where ${emailCodes.expiresAt} < ${isoSeconds(now - limit(env, 'EMAIL_CODE_RETENTION_HOURS') * HOUR_MS)} limit ${writtenLimit(rows)})`,
    ],
  },
  {
    // One transaction: the attempts of the oldest finished deliveries, then those deliveries.
    name: 'webhook_deliveries',
    statements: (rows, now, env) => {
      const finished = sql`select ${webhookDeliveries.id} from ${webhookDeliveries} where ${webhookDeliveries.status} in ('succeeded', 'failed') and ${webhookDeliveries.updatedAt} < ${isoSeconds(now - limit(env, 'WEBHOOK_DELIVERY_RETENTION_DAYS') * DAY_MS)} limit ${writtenLimit(rows)}`;
      return [
        sql`delete from ${webhookAttempts} where ${webhookAttempts.deliveryId} in (${finished})`,
        sql`delete from ${webhookDeliveries} where ${webhookDeliveries.id} in (${finished})`,
      ];
    },
  },
  {
    // Relayed outbox rows (their deliveries keep the story); a row not yet relayed is never deleted.
    name: 'event_outbox',
    statements: (rows, now, env) => [
      sql`delete from ${eventOutbox} where ${eventOutbox.id} in (select ${eventOutbox.id} from ${eventOutbox} where ${eventOutbox.relayedAt} < ${isoSeconds(now - limit(env, 'EVENT_OUTBOX_RETENTION_DAYS') * DAY_MS)} limit ${writtenLimit(rows)})`,
    ],
  },
  {
    name: 'runs',
    statements: (rows, now, env) => [
      sql`delete from ${runs} where ${runs.id} in (select ${runs.id} from ${runs} where ${runs.endedAt} < ${isoSeconds(now - limit(env, 'RUN_RETENTION_DAYS') * DAY_MS)} limit ${writtenLimit(rows)})`,
    ],
  },
  {
    // An event may come again for up to 30 days (retries, reprocessing from Stripe's events API): its id must still be here.
    name: 'stripe_events',
    statements: (rows, now, env) => [
      sql`delete from ${stripeEvents} where ${stripeEvents.id} in (select ${stripeEvents.id} from ${stripeEvents} where ${stripeEvents.receivedAt} < ${isoSeconds(now - retentionMs(env, 'STRIPE_EVENT_RETENTION_DAYS', 30))} limit ${writtenLimit(rows)})`,
    ],
  },
  {
    // Never a current lock; the backoff is forgotten with the record.
    name: 'code_lockouts',
    statements: (rows, now, env) => [
      sql`delete from ${codeLockouts} where ${codeLockouts.accountId} in (select ${codeLockouts.accountId} from ${codeLockouts} where ${codeLockouts.updatedAt} < ${isoSeconds(now - retentionMs(env, 'CODE_LOCKOUT_RETENTION_DAYS'))} and (${codeLockouts.lockedUntil} is null or ${codeLockouts.lockedUntil} < ${isoSeconds(now)}) limit ${writtenLimit(rows)})`,
    ],
  },
  {
    // Keys that record a task a rule made stay while the task does (deleting the task clears the mark).
    name: 'automation_effects',
    statements: (rows, now, env) => [
      sql`delete from ${automationEffects} where ${automationEffects.key} in (select ${automationEffects.key} from ${automationEffects} where created_task_id is null and ${automationEffects.createdAt} < ${isoSeconds(now - retentionMs(env, 'AUTOMATION_EFFECT_RETENTION_DAYS', 15))} limit ${writtenLimit(rows)})`,
    ],
  },
  {
    name: 'automation_runs',
    statements: (rows, now, env) => [
      sql`delete from ${automationRuns} where ${automationRuns.id} in (select ${automationRuns.id} from ${automationRuns} where ${automationRuns.createdAt} < ${isoSeconds(now - retentionMs(env, 'AUTOMATION_RUN_RETENTION_DAYS', 15))} limit ${writtenLimit(rows)})`,
    ],
  },
  {
    name: 'ingress_deliveries',
    statements: (rows, now, env) => [
      sql`delete from ${ingressDeliveries} where ${ingressDeliveries.id} in (select ${ingressDeliveries.id} from ${ingressDeliveries} where ${ingressDeliveries.createdAt} < ${isoSeconds(now - retentionMs(env, 'INGRESS_DELIVERY_RETENTION_DAYS', 1))} limit ${writtenLimit(rows)})`,
    ],
  },
];

/** Deletes what has outlived its retention at `now`; answers how many rows of each kind went. */
export async function deleteExpired(env: Env, now: number): Promise<Record<string, number>> {
  const db = database(env.DB);
  const rows = limit(env, 'CLEANUP_BATCH_ROWS');
  const batches = limit(env, 'CLEANUP_BATCHES_PER_RUN');
  const deleted: Record<string, number> = {};
  for (const sweep of SWEEPS) {
    let total = 0;
    for (let i = 0; i < batches; i++) {
      const n = await sweepOnce(db, sweep.statements(rows, now, env));
      total += n;
      if (n < rows) break;
    }
    deleted[sweep.name] = total;
  }
  return deleted;
}

async function sweepOnce(db: Db, statements: SQL[]): Promise<number> {
  const client = db.$client;
  const results = await client.batch(statements.map((s) => toRawQuery(s)).map((q) => client.prepare(q.sql).bind(...q.params)));
  return results[results.length - 1]?.meta.changes ?? 0;
}

export const cleanupJob = {
  name: 'cleanup',
  async run(env: Env, now: number): Promise<void> {
    const deleted = await deleteExpired(env, now);
    if (Object.values(deleted).some((n) => n > 0)) console.log(JSON.stringify({ level: 'info', message: 'cleanup', deleted }));
  },
};
