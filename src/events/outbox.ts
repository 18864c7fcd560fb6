/**
 * Recording events in the outbox, inside the batch of the write that causes them: a use-case
 * plans its events before writing (`planEvents`), adds `outboxInsert(...)` to its batch with a
 * condition that holds exactly when its change landed, and after the batch hands the planned
 * events with the task's JSON to `afterCommit` (after-commit.ts), which relays them.
 */
import { sql, type SQL } from 'drizzle-orm';
import { automations, eventOutbox, webhooks } from '../db/schema';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import type { TaskEvent } from '../webhooks/events';
import type { EventCause, EventTask } from '../webhooks/messages';

/** What a principal says about its account's listeners; false for both means nobody listens, so nothing is recorded. */
export interface Listeners {
  accountHasWebhooks?: boolean;
  accountHasAutomations?: boolean;
}

export const listenersOf = (p: { hasWebhooks: boolean; hasAutomations: boolean }): Listeners => ({
  accountHasWebhooks: p.hasWebhooks,
  accountHasAutomations: p.hasAutomations,
});

const nobodyListens = (l: Listeners) => l.accountHasWebhooks === false && l.accountHasAutomations === false;
/** Unknown listeners (no principal, e.g. a lease expiring): the insert itself checks for them. */
const listenersUnknown = (l: Listeners) => l.accountHasWebhooks === undefined && l.accountHasAutomations === undefined;

/** An event a write will record: its outbox id is also its event id (the key of rule effects). */
export interface PlannedEvent {
  id: string;
  event: TaskEvent;
  accountId: string;
  /** The agent that caused it (null for the system, e.g. a lease expiring). */
  agentId: string | null;
  taskId: string;
  cause?: EventCause;
  /** The task's JSON when it is known before the write (a created or deleted task). */
  snapshot?: EventTask;
  /** The insert checks the account has a webhook or an active rule. */
  checkListeners: boolean;
}

/** A recorded event with the task as it saw it: what the relay sends on. */
export interface RecordedEvent {
  id: string;
  event: TaskEvent;
  accountId: string;
  agentId: string | null;
  task: EventTask;
  cause?: EventCause;
}

export interface EventPlan {
  accountId: string;
  agentId: string | null;
  taskId: string;
  events: TaskEvent[];
  listeners: Listeners;
  cause?: EventCause;
  snapshot?: EventTask;
  now: number;
}

/** The events of one write of one task; none when the account has no listener. */
export function planEvents(plan: EventPlan): PlannedEvent[] {
  if (nobodyListens(plan.listeners)) return [];
  return plan.events.map((event) => ({
    id: newId('evt', plan.now),
    event,
    accountId: plan.accountId,
    agentId: plan.agentId,
    taskId: plan.taskId,
    ...(plan.cause ? { cause: plan.cause } : {}),
    ...(plan.snapshot ? { snapshot: plan.snapshot } : {}),
    checkListeners: listenersUnknown(plan.listeners),
  }));
}

/** `changes() > 0`: the statement just before in the batch changed a row (trigger changes do not count). */
export const PREVIOUS_STATEMENT_CHANGED = sql`changes() > 0`;

const hasListenersOf = (accountId: SQL) =>
  sql`(exists (select 1 from ${webhooks} where ${webhooks.accountId} = ${accountId} and ${webhooks.active} = 1)
    or exists (select 1 from ${automations} where ${automations.accountId} = ${accountId} and ${automations.active} = 1))`;
const hasListeners = (accountId: string) => hasListenersOf(sql`${accountId}`);

export interface OutboxInsertOptions {
  now: number;
  /** Records the events only when this holds; always when not given. */
  when?: SQL;
  /** The events' task id, when the write decides it (instead of each event's own). */
  taskId?: SQL;
}

/**
 * One statement that records the events when `when` holds (evaluated in the write's
 * transaction), or null when there is nothing to record.
 */
export function outboxInsert(events: PlannedEvent[], { now, when = sql`1`, taskId }: OutboxInsertOptions): SQL | null {
  if (events.length === 0) return null;
  const ts = isoSeconds(now);
  const rows = sql.join(
    events.map(
      (e) =>
        sql`select ${e.id}, ${e.accountId}, ${e.event}, ${e.agentId}, ${taskId ?? e.taskId}, ${e.snapshot ? JSON.stringify(e.snapshot) : null}, ${e.cause ? JSON.stringify(e.cause) : null}, ${ts}
          where ${when}${e.checkListeners ? sql` and ${hasListeners(e.accountId)}` : sql``}`,
    ),
    sql` union all `,
  );
  return sql`insert into ${eventOutbox} (id, account_id, event, agent_id, task_id, task, cause, created_at) ${rows}`;
}

/**
 * One event per task a set-wide write changes (`tasks` selects their ids and account), recorded
 * by the system (no agent) before the write in its batch; the insert checks for listeners.
 * Answers each recorded event's id and task id.
 */
export function outboxInsertPerTask(event: TaskEvent, taskIds: SQL, now: number): SQL {
  const ts = isoSeconds(now);
  return sql`insert into ${eventOutbox} (id, account_id, event, agent_id, task_id, task, cause, created_at)
    select 'evt_' || lower(hex(randomblob(11))), t.account_id, ${event}, null, t.id, null, null, ${ts} from (${taskIds}) t
    where ${hasListenersOf(sql`t.account_id`)}
    returning id, task_id`;
}

/** The planned events with the task as the write answered it. */
export function recorded(events: PlannedEvent[], task: EventTask): RecordedEvent[] {
  return events.map((e) => ({
    id: e.id,
    event: e.event,
    accountId: e.accountId,
    agentId: e.agentId,
    task: e.snapshot ?? task,
    ...(e.cause ? { cause: e.cause } : {}),
  }));
}
