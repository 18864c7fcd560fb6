/**
 * What the service keeps, and for how long: a scheduled job deletes what has outlived its
 * retention (platform/config.ts). Idempotency records go when they expire (24 h), email codes a
 * while after they expire, webhook deliveries with their attempts a while after they finished,
 * and ended runs a while after they ended. Nothing live is touched: open runs, pending or retrying deliveries and
 * unexpired records stay. Each statement deletes at most CLEANUP_BATCH_ROWS rows through an
 * index, and each table gets at most CLEANUP_BATCHES_PER_RUN statements a run, so a backlog is
 * worked off over several minutes rather than in one long run.
 */
import { sql, type SQL } from 'drizzle-orm';
import { database, type Db } from '../db/client';
import { emailCodes, idempotencyKeys, runs, webhookAttempts, webhookDeliveries } from '../db/schema';
import { toRawQuery } from '../db/sql-batch';
import type { Env } from '../env';
import { limit } from '../platform/config';
import { isoSeconds } from '../platform/time';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** One kind of expired record: the statements that delete up to `rows` of them (one transaction); the last one's changes count. */
interface Sweep {
  name: string;
  statements: (rows: number, now: number, env: Env) => SQL[];
}

const SWEEPS: Sweep[] = [
  {
    name: 'idempotency_keys',
    statements: (rows, now) => [
      sql`delete from ${idempotencyKeys} where ${idempotencyKeys.scopeKey} in (select ${idempotencyKeys.scopeKey} from ${idempotencyKeys} where ${idempotencyKeys.expiresAt} < ${isoSeconds(now)} limit ${rows})`,
    ],
  },
  {
    // Every code has the same lifetime, so a code older than a deleted one has expired too: deleting
    // the newest code of an address never makes an older one current again.
    name: 'email_codes',
    statements: (rows, now, env) => [
      sql`delete from ${emailCodes} where ${emailCodes.id} in (select ${emailCodes.id} from ${emailCodes} where ${emailCodes.expiresAt} < ${isoSeconds(now - limit(env, 'EMAIL_CODE_RETENTION_HOURS') * HOUR_MS)} limit ${rows})`,
    ],
  },
  {
    // One transaction: the attempts of the oldest finished deliveries, then those deliveries.
    name: 'webhook_deliveries',
    statements: (rows, now, env) => {
      const finished = sql`select ${webhookDeliveries.id} from ${webhookDeliveries} where ${webhookDeliveries.status} in ('succeeded', 'failed') and ${webhookDeliveries.updatedAt} < ${isoSeconds(now - limit(env, 'WEBHOOK_DELIVERY_RETENTION_DAYS') * DAY_MS)} limit ${rows}`;
      return [
        sql`delete from ${webhookAttempts} where ${webhookAttempts.deliveryId} in (${finished})`,
        sql`delete from ${webhookDeliveries} where ${webhookDeliveries.id} in (${finished})`,
      ];
    },
  },
  {
    name: 'runs',
    statements: (rows, now, env) => [
      sql`delete from ${runs} where ${runs.id} in (select ${runs.id} from ${runs} where ${runs.endedAt} < ${isoSeconds(now - limit(env, 'RUN_RETENTION_DAYS') * DAY_MS)} limit ${rows})`,
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
