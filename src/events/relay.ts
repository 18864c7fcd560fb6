/**
 * The relay: recorded outbox events become webhook deliveries and rule messages on the events
 * queue. It runs after the answer (`afterCommit`), and the scheduled sweep runs it for rows the
 * relay never reached (a crash just after the answer). Either may run twice for a row: rule
 * messages carry the row's id as event id (rules apply each effect once), and a delivery is
 * recorded only by the batch that marks its row relayed, so each subscribed webhook gets one.
 */
import { and, asc, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import { database } from '../db/client';
import { sqlBatch } from '../db/sql-batch';
import { automations, eventOutbox, webhookDeliveries, webhooks } from '../db/schema';
import type { Env } from '../env';
import { limit } from '../platform/config';
import { isoSeconds } from '../platform/time';
import { newDelivery, sendMessages, type DeliveryRow } from '../webhooks/deliveries';
import { parseEvents, type TaskEvent } from '../webhooks/events';
import { automationMessage, type EventCause, type EventTask } from '../webhooks/messages';
import { outboxInsert, planEvents, recorded, type Listeners, type RecordedEvent } from './outbox';
import { writtenLimit } from '../db/written-limit';

/** Queue `sendBatch` takes at most 100 messages. */
const SEND_BATCH_MAX = 100;

/**
 * One D1 round trip reads which of the events are recorded and not relayed yet, the accounts' active webhooks and the events their active rules react
 * to; rule messages are queued; then one batch records the deliveries and marks the rows relayed
 * (only rows not relayed yet), and one message per recorded delivery is queued.
 */
export async function relayEvents(env: Env, events: RecordedEvent[], now: number = Date.now()): Promise<void> {
  if (events.length === 0) return;
  const db = database(env.DB);
  const accountIds = [...new Set(events.map((e) => e.accountId))];
  const one = accountIds.length === 1 ? accountIds[0]! : null;
  const [pending, hooks, ruleEvents] = await db.batch([
    // Only events whose write committed and that no other relay took yet.
    db
      .select({ id: eventOutbox.id })
      .from(eventOutbox)
      .where(
        and(
          inArray(
            eventOutbox.id,
            events.map((e) => e.id),
          ),
          isNull(eventOutbox.relayedAt),
        ),
      ),
    db
      .select({ id: webhooks.id, accountId: webhooks.accountId, events: webhooks.events })
      .from(webhooks)
      .where(and(one ? eq(webhooks.accountId, one) : inArray(webhooks.accountId, accountIds), eq(webhooks.active, true))),
    db
      .selectDistinct({ accountId: automations.accountId, event: automations.event })
      .from(automations)
      .where(and(one ? eq(automations.accountId, one) : inArray(automations.accountId, accountIds), eq(automations.active, true))),
  ]);
  const open = new Set(pending.map((r) => r.id));
  events = events.filter((e) => open.has(e.id));
  if (events.length === 0) return;
  const reacting = new Set(ruleEvents.map((r) => `${r.accountId} ${r.event}`));
  const ruleMessages = events
    .filter((e) => reacting.has(`${e.accountId} ${e.event}`))
    .map((e) =>
      automationMessage({ eventId: e.id, accountId: e.accountId, event: e.event, agentId: e.agentId, task: e.task, cause: e.cause }),
    );
  // Queued before the row is marked: a crash in between leaves the row to the sweep, which queues them again.
  for (let i = 0; i < ruleMessages.length; i += SEND_BATCH_MAX) await env.WEBHOOKS.sendBatch(ruleMessages.slice(i, i + SEND_BATCH_MAX));
  const deliveries: { row: DeliveryRow; eventId: string }[] = [];
  for (const e of events) {
    for (const hook of hooks) {
      if (hook.accountId !== e.accountId || !parseEvents(hook.events).includes(e.event)) continue;
      deliveries.push({
        eventId: e.id,
        row: newDelivery({ webhookId: hook.id, accountId: e.accountId, event: e.event, task: e.task, agentId: e.agentId }, now),
      });
    }
  }
  const ids = events.map((e) => e.id);
  const results = await sqlBatch(db, [
    ...deliveries.map(({ row, eventId }) => deliveryInsert(row, eventId)),
    sql`update ${eventOutbox} set relayed_at = ${isoSeconds(now)} where ${inArray(eventOutbox.id, ids)} and ${isNull(eventOutbox.relayedAt)}`,
  ]);
  const inserted = deliveries.filter((_, i) => results[i]!.length > 0).map((d) => d.row);
  if (inserted.length > 0) await sendMessages(env, db, inserted);
}

/** A delivery recorded only while its event is not relayed yet (by this batch or another). */
function deliveryInsert(r: DeliveryRow, eventId: string) {
  return sql`insert into ${webhookDeliveries} (id, webhook_id, account_id, event, payload, status, attempts, created_at, updated_at)
    select ${r.id}, ${r.webhookId}, ${r.accountId}, ${r.event}, ${r.payload}, ${r.status}, 0, ${r.createdAt}, ${r.updatedAt}
    where exists (select 1 from ${eventOutbox} where ${eventOutbox.id} = ${eventId} and ${eventOutbox.relayedAt} is null)
    returning id`;
}

export interface RelayLaterOptions {
  events: RecordedEvent[];
  now?: number;
}

/** Relays after the answer; a failure is logged and left to the sweep. */
export function relayLater(
  env: Env,
  ctx: { waitUntil(promise: Promise<unknown>): void },
  { events, now = Date.now() }: RelayLaterOptions,
): void {
  if (events.length === 0) return;
  ctx.waitUntil(
    relayEvents(env, events, now).catch((e: unknown) =>
      console.error(
        JSON.stringify({
          level: 'error',
          message: 'event relay failed; the sweep relays it',
          events: events.map((x) => x.event),
          error: String(e),
        }),
      ),
    ),
  );
}

/** An event that is not part of a write's batch (a test, a ping): recorded on its own, then relayed. */
export interface TaskEventInput extends Listeners {
  event: TaskEvent;
  accountId: string;
  agentId: string | null;
  task: EventTask;
  cause?: EventCause;
}

export async function enqueueTaskEvents(env: Env, inputs: TaskEventInput[], now: number = Date.now()): Promise<void> {
  const planned = inputs.flatMap((i) =>
    planEvents({
      accountId: i.accountId,
      agentId: i.agentId,
      taskId: i.task.id,
      events: [i.event],
      listeners: i,
      cause: i.cause,
      snapshot: i.task,
      now,
    }),
  );
  const insert = outboxInsert(planned, { now });
  if (!insert) return;
  await sqlBatch(database(env.DB), [insert]);
  await relayEvents(
    env,
    planned.flatMap((e) => recorded([e], e.snapshot!)),
    now,
  );
}

/** Rows the sweep relays per run at most. */
const SWEEP_ROWS = 100;

/** Reads the current JSON of tasks (by id, per account) for rows recorded without it. */
export type TaskLoader = (env: Env, refs: { accountId: string; taskId: string }[], now: number) => Promise<Map<string, EventTask>>;

/**
 * Relays outbox rows still not relayed EVENT_RELAY_GRACE_SECONDS after their write. A row
 * recorded without the task's JSON carries the task as it is now; one whose task is gone
 * meanwhile is marked relayed without deliveries (and logged). Answers how many it relayed.
 */
export async function relayStaleEvents(env: Env, now: number, loadTasks: TaskLoader): Promise<number> {
  const db = database(env.DB);
  const cutoff = isoSeconds(now - limit(env, 'EVENT_RELAY_GRACE_SECONDS') * 1000);
  const rows = await db
    .select()
    .from(eventOutbox)
    .where(and(isNull(eventOutbox.relayedAt), lt(eventOutbox.createdAt, cutoff)))
    .orderBy(asc(eventOutbox.createdAt))
    .limit(writtenLimit(SWEEP_ROWS));
  if (rows.length === 0) return 0;
  const missing = rows.filter((r) => r.task === null);
  const current = missing.length ? await loadTasks(env, missing, now) : new Map<string, EventTask>();
  const events: RecordedEvent[] = [];
  const gone: string[] = [];
  for (const r of rows) {
    const task = r.task !== null ? (JSON.parse(r.task) as EventTask) : current.get(r.taskId);
    if (!task) {
      gone.push(r.id);
      continue;
    }
    events.push({
      id: r.id,
      event: r.event as TaskEvent,
      accountId: r.accountId,
      agentId: r.agentId,
      task,
      ...(r.cause ? { cause: JSON.parse(r.cause) as EventCause } : {}),
    });
  }
  if (gone.length) {
    console.error(JSON.stringify({ level: 'error', message: 'outbox events whose task is gone were not relayed', events: gone }));
    await db
      .update(eventOutbox)
      .set({ relayedAt: isoSeconds(now) })
      .where(and(inArray(eventOutbox.id, gone), isNull(eventOutbox.relayedAt)));
  }
  await relayEvents(env, events, now);
  return events.length;
}

/** The scheduled sweep, given how to read tasks (registered in src/scheduled.ts). */
export function relaySweepJob(loadTasks: TaskLoader) {
  return {
    name: 'event-relay-sweep',
    async run(env: Env, now: number): Promise<void> {
      const relayed = await relayStaleEvents(env, now, loadTasks);
      if (relayed > 0) console.log(JSON.stringify({ level: 'info', message: 'outbox events relayed by the sweep', relayed }));
    },
  };
}
