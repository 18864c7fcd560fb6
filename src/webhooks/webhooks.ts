/**
 * Webhook subscriptions of an account: CRUD with a write-only secret, event and URL checks,
 * the delivery log, a signed `ping`, and redelivery of a failed delivery.
 */
import { z } from '@hono/zod-openapi';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { webhookAttempts, webhookDeliveries, webhooks } from '../db/schema';
import type { Env } from '../env';
import { ApiError, conflict, notFound, type ErrorDetail } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { deliveryJson, listDeliveryLog, newDelivery, queueDeliveries, sendMessages, type DeliveryJson } from './deliveries';
import { parseEvents, TASK_EVENTS } from './events';
import { generateSecret } from './signing';
import { checkWebhookUrl } from './url-safety';
import type { Principal } from '../access/policy';
import { insertUnderLimit, limitReached } from '../db/plan-limits';
import { sqlBatch } from '../db/sql-batch';
import { answerColumns, type ColumnsJson } from '../http/answer-columns';
import type { PrincipalCache } from '../access/authentication';

export type WebhookRow = typeof webhooks.$inferSelect;

/** A webhook as the API shows it (see answer-columns.ts): never its secret after creation. */
const webhookColumns = answerColumns(webhooks, {
  hide: ['accountId', 'secret', 'disabledAt', 'events'],
  describe: {
    id: { example: 'whk_0Nf3aB1c2D3e4F5g6H7i8J9' },
    url: { example: 'https://hooks.example.com/delega' },
    disabledReason: { description: 'Why the webhook was deactivated automatically, if it was' },
    consecutiveFailures: { description: 'Failed deliveries in a row; 20 deactivate the webhook' },
  },
});

export const WebhookSchema = z.object({ ...webhookColumns.shape, events: z.array(z.string()) }).openapi('Webhook');

export type WebhookJson = ColumnsJson<typeof webhooks, 'accountId' | 'secret' | 'disabledAt' | 'events'> & {
  events: string[];
  /** Only in the answer that created the webhook. */
  secret?: string;
};

export function webhookJson(row: WebhookRow, secret?: string): WebhookJson {
  return { ...webhookColumns.json(row), events: parseEvents(row.events), ...(secret ? { secret } : {}) };
}

const webhookNotFound = () => notFound('webhook');
const deliveryNotFound = () => notFound('delivery');

/** Every event must be one of TASK_EVENTS; duplicates collapse, order is kept. */
export function checkEvents(events: string[]): string[] {
  const known = new Set<string>(TASK_EVENTS);
  const details: ErrorDetail[] = [];
  events.forEach((e, i) => {
    if (!known.has(e)) details.push({ field: `events.${i}`, message: `Unknown event "${e}"; valid events: ${TASK_EVENTS.join(', ')}` });
  });
  if (details.length > 0)
    throw new ApiError({
      status: 400,
      code: 'UNKNOWN_EVENT',
      message: `Unknown webhook event: ${details.map((d) => d.message.split(';')[0]).join(', ')}`,
      details,
    });
  if (events.length === 0)
    throw new ApiError({
      status: 400,
      code: 'VALIDATION_FAILED',
      message: 'Subscribe to at least one event',
      details: [{ field: 'events', message: 'At least one event is required' }],
    });
  return [...new Set(events)];
}

export interface WebhookSettings {
  /** Development allows http to localhost; elsewhere only public https hosts. */
  development: boolean;
}

async function ownWebhook(db: Db, p: Principal, id: string): Promise<WebhookRow> {
  const row = await db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.accountId, p.accountId)))
    .get();
  if (!row) throw webhookNotFound();
  return row;
}

export async function listWebhooks(db: Db, p: Principal): Promise<WebhookJson[]> {
  const rows = await db
    .select()
    .from(webhooks)
    .where(eq(webhooks.accountId, p.accountId))
    .orderBy(asc(webhooks.createdAt), asc(webhooks.id));
  return rows.map((r) => webhookJson(r));
}

export async function getWebhook(db: Db, p: Principal, id: string): Promise<WebhookJson> {
  return webhookJson(await ownWebhook(db, p, id));
}

export interface CreateWebhookInput {
  url: string;
  events: string[];
  secret?: string;
  description?: string | null;
  active?: boolean;
}

export interface CreateWebhookOptions {
  /** Keys of the account are forgotten when its first active webhook appears. */
  cache: PrincipalCache;
  settings: WebhookSettings;
  input: CreateWebhookInput;
  /** The plan's limit. */
  maxWebhooks: number;
  now: number;
}

export async function createWebhook(
  db: Db,
  p: Principal,
  { cache, settings, input, maxWebhooks, now }: CreateWebhookOptions,
): Promise<WebhookJson> {
  const url = checkWebhookUrl(input.url, settings);
  const events = checkEvents(input.events);
  const secret = input.secret ?? generateSecret();
  const ts = isoSeconds(now);
  const row: WebhookRow = {
    id: newId('whk', now),
    accountId: p.accountId,
    url,
    events: JSON.stringify(events),
    secret,
    active: input.active ?? true,
    description: input.description ?? null,
    consecutiveFailures: 0,
    disabledReason: null,
    disabledAt: null,
    createdAt: ts,
    updatedAt: ts,
  };
  // One transaction: whether another webhook was active, then the insert under the plan limit.
  const [before, inserted] = await sqlBatch(db, [
    sql`select exists (select 1 from ${webhooks} where ${webhooks.accountId} = ${p.accountId} and ${webhooks.active} = 1) as active`,
    insertUnderLimit(webhooks, { row, accountId: p.accountId, max: maxWebhooks }),
  ]);
  if (!inserted![0]) throw limitReached('webhooks', maxWebhooks);
  // Keys of an account without active webhooks skip event lookups (Principal.hasWebhooks).
  if (row.active && !before![0]?.active) await cache.forgetAccount(p.accountId);
  // A secret the caller chose is not echoed back; a generated one is shown this once.
  return webhookJson(row, input.secret === undefined ? secret : undefined);
}

export interface UpdateWebhookInput {
  url?: string;
  events?: string[];
  secret?: string;
  description?: string | null;
  active?: boolean;
}

export interface UpdateWebhookOptions {
  cache: PrincipalCache;
  settings: WebhookSettings;
  webhookId: string;
  input: UpdateWebhookInput;
  now: number;
}

export async function updateWebhook(
  db: Db,
  p: Principal,
  { cache, settings, webhookId, input, now }: UpdateWebhookOptions,
): Promise<WebhookJson> {
  const row = await ownWebhook(db, p, webhookId);
  const changes: Partial<WebhookRow> = { updatedAt: isoSeconds(now) };
  if (input.url !== undefined) changes.url = checkWebhookUrl(input.url, settings);
  if (input.events !== undefined) changes.events = JSON.stringify(checkEvents(input.events));
  if (input.secret !== undefined) changes.secret = input.secret;
  if (input.description !== undefined) changes.description = input.description;
  if (input.active !== undefined) {
    changes.active = input.active;
    // Switching a webhook (back) on starts a fresh failure streak.
    if (input.active) Object.assign(changes, { consecutiveFailures: 0, disabledReason: null, disabledAt: null });
  }
  const updated = await db
    .update(webhooks)
    .set(changes)
    .where(and(eq(webhooks.id, webhookId), eq(webhooks.accountId, p.accountId)))
    .returning()
    .get();
  if (input.active && !row.active) await cache.forgetAccount(p.accountId);
  return webhookJson(updated ?? { ...row, ...changes });
}

/** Deletes the webhook with its delivery log; queued messages for it are dropped by the consumer. */
export async function deleteWebhook(db: Db, p: Principal, id: string): Promise<void> {
  await ownWebhook(db, p, id);
  await db.batch([
    db.delete(webhookAttempts).where(eq(webhookAttempts.webhookId, id)),
    db.delete(webhookDeliveries).where(eq(webhookDeliveries.webhookId, id)),
    db.delete(webhooks).where(and(eq(webhooks.id, id), eq(webhooks.accountId, p.accountId))),
  ]);
}

export interface ListDeliveriesOptions {
  webhookId: string;
  page: { limit: number; offset: number };
}

export async function listDeliveries(db: Db, p: Principal, { webhookId, page }: ListDeliveriesOptions): Promise<DeliveryJson[]> {
  await ownWebhook(db, p, webhookId);
  return listDeliveryLog(db, webhookId, page);
}

export interface PingWebhookOptions {
  env: Env;
  webhookId: string;
  now: number;
}

/** Queues a signed `ping` delivery (task null) so a receiver can be checked end to end. */
export async function pingWebhook(db: Db, p: Principal, { env, webhookId, now }: PingWebhookOptions): Promise<DeliveryJson> {
  const row = await ownWebhook(db, p, webhookId);
  if (!row.active) throw conflict('WEBHOOK_INACTIVE', 'This webhook is inactive; set "active": true first');
  const delivery = newDelivery({ webhookId: row.id, accountId: p.accountId, event: 'ping', task: null, agentId: p.agentId }, now);
  await queueDeliveries(env, db, [delivery]);
  return deliveryJson(delivery, []);
}

export interface RedeliverOptions {
  env: Env;
  webhookId: string;
  deliveryId: string;
  now: number;
}

/** Sends a failed delivery again: same body, a new signature and timestamp, attempts continue in the log. */
export async function redeliver(db: Db, p: Principal, { env, webhookId, deliveryId, now }: RedeliverOptions): Promise<DeliveryJson> {
  const hook = await ownWebhook(db, p, webhookId);
  const delivery = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.webhookId, hook.id)))
    .get();
  if (!delivery) throw deliveryNotFound();
  if (delivery.status !== 'failed') {
    throw conflict('DELIVERY_NOT_FAILED', `Only failed deliveries can be redelivered; this one is ${delivery.status}`);
  }
  if (!hook.active) throw conflict('WEBHOOK_INACTIVE', 'This webhook is inactive; set "active": true first');
  const ts = isoSeconds(now);
  const updated = await db
    .update(webhookDeliveries)
    .set({ status: 'pending', updatedAt: ts })
    .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.status, 'failed')))
    .returning()
    .get();
  if (!updated) throw conflict('DELIVERY_NOT_FAILED', 'This delivery is already being redelivered');
  await sendMessages(env, db, [updated]);
  const attempts = await db
    .select()
    .from(webhookAttempts)
    .where(eq(webhookAttempts.deliveryId, delivery.id))
    .orderBy(asc(webhookAttempts.attempt));
  return deliveryJson(updated, attempts);
}
