/**
 * Task events for webhooks and automation rules. Routes call `emitTaskEvent` after a D1 write
 * succeeded; the work (finding subscribed webhooks and matching rules, recording deliveries,
 * enqueueing) runs in `waitUntil`, off the request path.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { automationMessage, type EventCause } from '../automations/messages';
import { database } from '../db/client';
import { automations, webhooks } from '../db/schema';
import type { Env } from '../env';
import type { Principal } from '../access/policy';
import type { TaskJson } from '../tasks/task-json';
import { newId } from '../platform/ids';
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
  /** From the caller's principal: false for both means nobody listens, skip the lookups. */
  accountHasWebhooks?: boolean;
  accountHasAutomations?: boolean;
  /** Set when an automation's action caused the event: the cascade it belongs to. */
  cause?: EventCause;
}

/** What a principal says about an account's listeners, for `emitTaskEvent`. */
export const listenersOf = (p: Pick<Principal, 'hasWebhooks' | 'hasAutomations'>) => ({ accountHasWebhooks: p.hasWebhooks, accountHasAutomations: p.hasAutomations });

export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

/** The events of a newly created task, whoever created it (an agent, or the scheduler with a null agent). */
export function createdTaskEvents(accountId: string, agentId: string | null, task: TaskJson): TaskEventInput[] {
  const events: TaskEventInput[] = [{ event: 'task.created', accountId, agentId, task }];
  if (task.assigned_to_agent_id) events.push({ event: 'task.assigned', accountId, agentId, task });
  return events;
}

export function emitTaskEvent(env: Env, ctx: WaitUntil, input: TaskEventInput): void {
  if (input.accountHasWebhooks === false && input.accountHasAutomations === false) return;
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
 * One D1 round trip reads the accounts' active webhooks and the events their active rules
 * react to; then one batch of delivery rows, and one queue message per delivery and per event
 * some rule reacts to. Never throws: it runs in `waitUntil`, after the answer was sent.
 */
export async function enqueueTaskEvents(env: Env, inputs: TaskEventInput[], now: number = Date.now()): Promise<void> {
  if (inputs.length === 0) return;
  try {
    const db = database(env.DB);
    const accountIds = [...new Set(inputs.map((i) => i.accountId))];
    const one = accountIds.length === 1 ? accountIds[0]! : null;
    const [hooks, ruleEvents] = await db.batch([
      db
        .select({ id: webhooks.id, accountId: webhooks.accountId, events: webhooks.events })
        .from(webhooks)
        .where(and(one ? eq(webhooks.accountId, one) : inArray(webhooks.accountId, accountIds), eq(webhooks.active, true))),
      db
        .selectDistinct({ accountId: automations.accountId, event: automations.event })
        .from(automations)
        .where(and(one ? eq(automations.accountId, one) : inArray(automations.accountId, accountIds), eq(automations.active, true))),
    ]);
    const rows: DeliveryRow[] = [];
    for (const input of inputs) {
      for (const hook of hooks) {
        if (hook.accountId !== input.accountId || !parseEvents(hook.events).includes(input.event)) continue;
        rows.push(newDelivery({ webhookId: hook.id, accountId: input.accountId, event: input.event, task: input.task, agentId: input.agentId }, now));
      }
    }
    const reacting = new Set(ruleEvents.map((r) => `${r.accountId} ${r.event}`));
    const ruleMessages = inputs
      .filter((i) => reacting.has(`${i.accountId} ${i.event}`))
      .map((i) => automationMessage({ eventId: newId('evt', now), accountId: i.accountId, event: i.event, agentId: i.agentId, task: i.task, cause: i.cause }));
    await Promise.all([
      queueDeliveries(env, db, rows),
      ruleMessages.length > 0 ? env.WEBHOOKS.sendBatch(ruleMessages) : undefined,
    ]);
  } catch (e) {
    console.error(JSON.stringify({ level: 'error', message: 'task event enqueue failed', events: inputs.map((i) => i.event), error: String(e) }));
  }
}
