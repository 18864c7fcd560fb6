/**
 * Delivery rows: created (with their exact JSON body) before anything is queued, then updated
 * by the consumer after every attempt, so the delivery log is the whole story of each event.
 *
 *   await queueDeliveries(env, db, [newDelivery({ webhookId, accountId, event, task, agentId }, now)]);
 */
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { webhookAttempts, webhookDeliveries, webhooks } from '../db/schema';
import type { EventTask } from './messages';
import type { Env } from '../env';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import type { AttemptOutcome } from './delivery';
import type { WebhookMessage } from './messages';
import { writtenLimit } from '../db/written-limit';

export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type DeliveryStatus = DeliveryRow['status'];
export type AttemptRow = typeof webhookAttempts.$inferSelect;

/** Queue `sendBatch` takes at most 100 messages. */
const SEND_BATCH_MAX = 100;

export interface DeliveryInput {
  webhookId: string;
  accountId: string;
  event: string;
  task: EventTask | null;
  agentId: string | null;
}

/** A pending delivery whose payload is the exact body that will be sent and signed. */
export function newDelivery(input: DeliveryInput, now: number): DeliveryRow {
  const id = newId('dlv', now);
  const ts = isoSeconds(now);
  const payload = JSON.stringify({
    event: input.event,
    timestamp: ts,
    task: input.task,
    agent: input.agentId ? { id: input.agentId } : null,
    account_id: input.accountId,
    delivery_id: id,
  });
  return {
    id,
    webhookId: input.webhookId,
    accountId: input.accountId,
    event: input.event,
    payload,
    status: 'pending',
    attempts: 0,
    lastStatusCode: null,
    lastError: null,
    createdAt: ts,
    updatedAt: ts,
  };
}

const messageOf = (r: Pick<DeliveryRow, 'id' | 'webhookId' | 'accountId'>): MessageSendRequest<WebhookMessage> => ({
  body: { deliveryId: r.id, webhookId: r.webhookId, accountId: r.accountId },
  contentType: 'json',
});

/** Records the deliveries in one D1 batch, then queues one message each. */
export async function queueDeliveries(env: Env, db: Db, rows: DeliveryRow[]): Promise<void> {
  if (rows.length === 0) return;
  const inserts = rows.map((r) => db.insert(webhookDeliveries).values(r));
  await db.batch(inserts as [(typeof inserts)[number], ...typeof inserts]);
  await sendMessages(env, db, rows);
}

/** Queues messages for recorded deliveries; a delivery that cannot be queued is marked failed, never left pending. */
export async function sendMessages(env: Env, db: Db, rows: Pick<DeliveryRow, 'id' | 'webhookId' | 'accountId'>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += SEND_BATCH_MAX) {
    const chunk = rows.slice(i, i + SEND_BATCH_MAX);
    try {
      await env.WEBHOOKS.sendBatch(chunk.map(messageOf));
    } catch (e) {
      await db
        .update(webhookDeliveries)
        .set({ status: 'failed', lastError: 'Could not be queued for delivery; redeliver it', updatedAt: isoSeconds(Date.now()) })
        .where(
          inArray(
            webhookDeliveries.id,
            rows.slice(i).map((r) => r.id),
          ),
        );
      throw e;
    }
  }
}

export async function loadDelivery(db: Db, deliveryId: string) {
  const [delivery, hook] = await db.batch([
    db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, deliveryId)),
    db
      .select()
      .from(webhooks)
      .where(
        sql`${webhooks.id} = (select ${webhookDeliveries.webhookId} from ${webhookDeliveries} where ${webhookDeliveries.id} = ${deliveryId})`,
      ),
  ]);
  return { delivery: delivery[0] ?? null, webhook: hook[0] ?? null };
}

interface FailureCount {
  webhookId: string;
  disableAfter: number;
  lastError: string | null;
  now: number;
}

/** Adds one to the webhook's failure streak and deactivates it when the streak reaches `disableAfter`. */
function countFailure(db: Db, { webhookId, disableAfter, lastError, now }: FailureCount) {
  const reached = sql`${webhooks.consecutiveFailures} + 1 >= ${disableAfter}`;
  const reason = `Deactivated after ${disableAfter} consecutive failed deliveries (last error: ${lastError ?? 'unknown'}). Fix the endpoint, then set "active": true.`;
  const ts = isoSeconds(now);
  return db
    .update(webhooks)
    .set({
      consecutiveFailures: sql`${webhooks.consecutiveFailures} + 1`,
      active: sql`case when ${reached} then 0 else ${webhooks.active} end`,
      disabledReason: sql`case when ${webhooks.active} = 1 and ${reached} then ${reason} else ${webhooks.disabledReason} end`,
      disabledAt: sql`case when ${webhooks.active} = 1 and ${reached} then ${ts} else ${webhooks.disabledAt} end`,
      updatedAt: sql`case when ${webhooks.active} = 1 and ${reached} then ${ts} else ${webhooks.updatedAt} end`,
    })
    .where(eq(webhooks.id, webhookId));
}

export interface AttemptRecord {
  outcome: AttemptOutcome;
  /** The delivery's state after this attempt. */
  status: DeliveryStatus;
  /** Consecutive failures that switch the webhook off. */
  disableAfter: number;
  now: number;
}

/** Writes one attempt and the delivery's new state (and the webhook's streak) in one transaction. */
export async function recordAttempt(db: Db, delivery: DeliveryRow, opts: AttemptRecord): Promise<number> {
  const { outcome, status } = opts;
  const attempt = delivery.attempts + 1;
  const ts = isoSeconds(opts.now);
  const insert = db.insert(webhookAttempts).values({
    id: newId('att', opts.now),
    deliveryId: delivery.id,
    webhookId: delivery.webhookId,
    attempt,
    statusCode: outcome.statusCode,
    error: outcome.error,
    durationMs: outcome.durationMs,
    createdAt: ts,
  });
  const update = db
    .update(webhookDeliveries)
    .set({ status, attempts: attempt, lastStatusCode: outcome.statusCode, lastError: outcome.error, updatedAt: ts })
    .where(eq(webhookDeliveries.id, delivery.id));
  if (status === 'succeeded') {
    await db.batch([insert, update, db.update(webhooks).set({ consecutiveFailures: 0 }).where(eq(webhooks.id, delivery.webhookId))]);
  } else if (status === 'failed') {
    await db.batch([
      insert,
      update,
      countFailure(db, { webhookId: delivery.webhookId, disableAfter: opts.disableAfter, lastError: outcome.error, now: opts.now }),
    ]);
  } else {
    await db.batch([insert, update]);
  }
  return attempt;
}

/** Final failure without a new attempt (dead-lettered, or the webhook was switched off). */
export async function failDelivery(
  db: Db,
  delivery: DeliveryRow,
  opts: { error: string; countAgainstWebhook: boolean; disableAfter: number; now: number },
) {
  const { error } = opts;
  const update = db
    .update(webhookDeliveries)
    .set({ status: 'failed', lastError: error, updatedAt: isoSeconds(opts.now) })
    .where(and(eq(webhookDeliveries.id, delivery.id), inArray(webhookDeliveries.status, ['pending', 'retrying'])));
  if (opts.countAgainstWebhook)
    await db.batch([
      update,
      countFailure(db, { webhookId: delivery.webhookId, disableAfter: opts.disableAfter, lastError: error, now: opts.now }),
    ]);
  else await update;
}

export interface AttemptJson {
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  created_at: string;
}

export interface DeliveryJson {
  id: string;
  webhook_id: string;
  event: string;
  status: DeliveryStatus;
  attempt_count: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  attempts: AttemptJson[];
}

export function deliveryJson(row: DeliveryRow, attempts: AttemptRow[]): DeliveryJson {
  return {
    id: row.id,
    webhook_id: row.webhookId,
    event: row.event,
    status: row.status,
    attempt_count: row.attempts,
    last_status_code: row.lastStatusCode,
    last_error: row.lastError,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      status_code: a.statusCode,
      error: a.error,
      duration_ms: a.durationMs,
      created_at: a.createdAt,
    })),
  };
}

/** A page of a webhook's deliveries, newest first, each with its attempts in order. */
export async function listDeliveryLog(db: Db, webhookId: string, page: { limit: number; offset: number }): Promise<DeliveryJson[]> {
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, webhookId))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(writtenLimit(page.limit))
    .offset(page.offset);
  if (rows.length === 0) return [];
  const attempts = await db
    .select()
    .from(webhookAttempts)
    .where(
      inArray(
        webhookAttempts.deliveryId,
        rows.map((r) => r.id),
      ),
    )
    .orderBy(asc(webhookAttempts.deliveryId), asc(webhookAttempts.attempt));
  const byDelivery = new Map<string, AttemptRow[]>();
  for (const a of attempts) byDelivery.set(a.deliveryId, [...(byDelivery.get(a.deliveryId) ?? []), a]);
  return rows.map((r) => deliveryJson(r, byDelivery.get(r.id) ?? []));
}
