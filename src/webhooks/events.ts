/**
 * Task events for webhooks. Routes call `emitTaskEvent` after a D1 write succeeded; the work
 * (finding subscribed webhooks, recording deliveries, enqueueing) runs in `waitUntil`, off the
 * request path.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { database } from '../db/client';
import { webhooks } from '../db/schema';
import type { Env } from '../env';
import type { TaskJson } from '../domain/task-json';
import { newDelivery, queueDeliveries, type DeliveryRow } from './deliveries';

export const TASK_EVENTS = [
  'task.created',
  'task.updated',
  'task.completed',
  'task.deleted',
  'task.assigned',
  'task.delegated',
  'task.commented',
  'task.claimed',
  'task.released',
  'task.state_changed',
  'task.linked',
] as const;

export type TaskEvent = (typeof TASK_EVENTS)[number];

export interface TaskEventInput {
  event: TaskEvent;
  accountId: string;
  /** The agent that caused the event (null for the system, e.g. a lease expiring). */
  agentId: string | null;
  task: TaskJson;
  /** From the caller's principal: false means the account has no active webhook, skip the lookup. */
  accountHasWebhooks?: boolean;
}

export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

export function emitTaskEvent(env: Env, ctx: WaitUntil, input: TaskEventInput): void {
  if (input.accountHasWebhooks === false) return;
  ctx.waitUntil(enqueueTaskEvents(env, [input]));
}

/** Parses a webhook's stored event list; a damaged value subscribes to nothing. */
export function parseEvents(raw: string): string[] {
  try {
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * One D1 read of the accounts' active webhooks, one batch of delivery rows, then one queue
 * message per delivery. Never throws: it runs in `waitUntil`, after the answer was sent.
 */
export async function enqueueTaskEvents(env: Env, inputs: TaskEventInput[], now: number = Date.now()): Promise<void> {
  if (inputs.length === 0) return;
  try {
    const db = database(env.DB);
    const accountIds = [...new Set(inputs.map((i) => i.accountId))];
    const hooks = await db
      .select({ id: webhooks.id, accountId: webhooks.accountId, events: webhooks.events })
      .from(webhooks)
      .where(and(accountIds.length === 1 ? eq(webhooks.accountId, accountIds[0]!) : inArray(webhooks.accountId, accountIds), eq(webhooks.active, true)));
    if (hooks.length === 0) return;
    const rows: DeliveryRow[] = [];
    for (const input of inputs) {
      for (const hook of hooks) {
        if (hook.accountId !== input.accountId || !parseEvents(hook.events).includes(input.event)) continue;
        rows.push(newDelivery({ webhookId: hook.id, accountId: input.accountId, event: input.event, task: input.task, agentId: input.agentId }, now));
      }
    }
    await queueDeliveries(env, db, rows);
  } catch (e) {
    console.error(JSON.stringify({ level: 'error', message: 'webhook enqueue failed', events: inputs.map((i) => i.event), error: String(e) }));
  }
}
