/**
 * Runs an account's rules on one event, in the queue consumer, after the event's write has
 * committed. Every action is one D1 batch that first records its effect key (event, rule,
 * action index) and writes only if that key is new, so a redelivered event applies nothing
 * twice. The key's insert also enforces the cascade budget: at most
 * LIMIT_AUTOMATION_ACTIONS_PER_EVENT effects per originating event, counted by the database.
 */
import { and, asc, eq, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { database, type Db } from '../db/client';
import { agents, automationEffects, automationRuns, automations, comments, projects, tasks } from '../db/schema';
import type { Principal } from '../access/policy';
import { sqlBatch, type RawRow } from '../db/sql-batch';
import { hasLiveClaim, taskJson, type TaskRow } from '../tasks/task-json';
import { countCreated, insertTaskGuarded, newTaskRow, normaliseLabels, taskFromRaw } from '../tasks/tasks';
import type { Env } from '../env';
import { limit } from '../platform/config';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { wakeHeldClaimersNow } from '../events/after-commit';
import { eventsOf, type Change } from '../events/effects';
import { outboxInsert, planEvents, PREVIOUS_STATEMENT_CHANGED, recorded, type PlannedEvent, type RecordedEvent } from '../events/outbox';
import { relayEvents } from '../events/relay';
import type { AutomationMessage } from './messages';
import { INGRESS_LABEL, ingressSourceOf, matches, optsIntoIngress, parseList, renderText, type Action, type Condition } from './rules';
import type { AutomationRow } from './store';

export type ActionOutcome = 'applied' | 'skipped_claimed' | 'skipped_budget' | 'already_applied' | 'failed';

export interface ActionLog {
  index: number;
  type: string;
  outcome: ActionOutcome;
  detail?: string;
}

interface RunContext {
  env: Env;
  db: Db;
  msg: AutomationMessage;
  rule: AutomationRow;
  /** The task as it is now (undefined once deleted); actions after the first see the writes before them. */
  current: TaskRow | undefined;
  now: number;
  /** Events the applied actions recorded (each in its action's batch), relayed after the run. */
  caused: RecordedEvent[];
  /** How many created, reassigned or relabelled tasks may wake held long-poll claims (all of them try). */
  wake: number;
}

class ActionFailed extends Error {}
/** A claim taken between the engine's read and its write: skipped, like one seen at the read. */
class ClaimedMeanwhile extends Error {}

export async function runAutomations(env: Env, msg: AutomationMessage, now: number): Promise<void> {
  if (msg.hop >= limit(env, 'AUTOMATION_HOPS')) return;
  const db = database(env.DB);
  const [rules, madeBy, current] = await db.batch([
    db
      .select()
      .from(automations)
      .where(and(eq(automations.accountId, msg.accountId), eq(automations.event, msg.event), eq(automations.active, true)))
      .orderBy(asc(automations.createdAt), asc(automations.id)),
    db.select({ ruleId: automationEffects.ruleId }).from(automationEffects).where(eq(automationEffects.createdTaskId, msg.task.id)),
    db
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, msg.task.id), eq(tasks.accountId, msg.accountId))),
  ]);
  const creators = new Set(madeBy.map((r) => r.ruleId));
  const fromIngress = ingressSourceOf(msg.task) !== null;
  const matching = rules.filter((rule) => {
    // A rule never reacts to a task it created.
    if (creators.has(rule.id)) return false;
    const conditions = parseList<Condition>(rule.conditions);
    if (fromIngress && !optsIntoIngress(conditions)) return false;
    return matches(conditions, msg.task);
  });
  if (matching.length === 0) return;
  const ctx: RunContext = { env, db, msg, rule: matching[0]!, current: current[0], now, caused: [], wake: 0 };
  for (const rule of matching) {
    ctx.rule = rule;
    const log = await runRule(ctx);
    // Idempotent too: a redelivery that finds the run logged changes nothing.
    await recordRun(db, rule, { msg, log, failuresBeforeDisable: limit(env, 'AUTOMATION_FAILURES_BEFORE_DISABLE'), now });
  }
  // Recorded with their actions: a crash before this relay leaves them to the sweep.
  if (ctx.caused.length) {
    await relayEvents(env, ctx.caused, now).catch((e: unknown) =>
      console.error(
        JSON.stringify({ level: 'error', message: 'event relay failed; the sweep relays it', eventId: msg.eventId, error: String(e) }),
      ),
    );
  }
  if (ctx.wake > 0) await wakeHeldClaimersNow(env, msg.accountId);
}

/** The rule's actions in order, each with its outcome; a spent cascade budget ends the run. */
async function runRule(ctx: RunContext): Promise<ActionLog[]> {
  const actions = parseList<Action>(ctx.rule.actions);
  const log: ActionLog[] = [];
  for (const [index, action] of actions.entries()) {
    const entry = await runAction(ctx, action, index);
    log.push(entry);
    if (entry.outcome === 'skipped_budget') break;
  }
  return log;
}

/** Actions that change the task's fields; they never touch a task under another agent's live claim. */
const FIELD_ACTIONS = new Set(['assign', 'set_priority', 'add_label', 'set_evidence_policy', 'delegate']);

async function runAction(ctx: RunContext, action: Action, index: number): Promise<ActionLog> {
  const entry = (outcome: ActionOutcome, detail?: string): ActionLog => ({
    index,
    type: action.type,
    outcome,
    ...(detail ? { detail } : {}),
  });
  const task = ctx.current;
  if (FIELD_ACTIONS.has(action.type) && task && hasLiveClaim(task, ctx.now) && task.claimedByAgentId !== ctx.rule.createdByAgentId) {
    return entry('skipped_claimed', `claimed by ${task.claimedByAgentId}`);
  }
  const key = `${ctx.msg.eventId}:${ctx.rule.id}:${index}`;
  try {
    const plan = planAction(ctx, action, key);
    const results = await sqlBatch(ctx.db, [effectInsert(ctx, key, plan.createdTaskId), ...plan.statements]);
    if (results[0]!.length === 0)
      return entry('skipped_budget', `the cascade reached ${limit(ctx.env, 'AUTOMATION_ACTIONS_PER_EVENT')} actions`);
    plan.after(results.slice(1));
    return entry('applied');
  } catch (e) {
    if (e instanceof ActionFailed) return entry('failed', e.message);
    if (e instanceof ClaimedMeanwhile) return entry('skipped_claimed', e.message);
    if (String(e).includes('UNIQUE') && String(e).includes('automation_effects')) return entry('already_applied');
    // Our own failure (e.g. D1 unavailable), not the rule's: the queue retries the event, and
    // the actions already applied are skipped by their keys.
    throw e;
  }
}

/**
 * The effect key, written only while the cascade has budget left. A second insert of the same
 * key fails the whole batch, so the effect it guards is never applied twice.
 */
function effectInsert(ctx: RunContext, key: string, createdTaskId: string | null) {
  const max = limit(ctx.env, 'AUTOMATION_ACTIONS_PER_EVENT');
  const origin = ctx.msg.originEventId;
  return sql`insert into ${automationEffects} (key, origin_event_id, rule_id, account_id, created_task_id, created_at)
    select ${key}, ${origin}, ${ctx.rule.id}, ${ctx.msg.accountId}, ${createdTaskId}, ${isoSeconds(ctx.now)}
    where (select count(*) from ${automationEffects} where ${automationEffects.originEventId} = ${origin}) < ${max}
    returning key`;
}

const keyRecorded = (key: string) => sql`exists (select 1 from ${automationEffects} where ${automationEffects.key} = ${key})`;

interface ActionPlan {
  statements: (SQL | SQLWrapper)[];
  createdTaskId: string | null;
  /** Reads the statements' results: throws ActionFailed when the guarded write did not happen. */
  after(results: RawRow[][]): void;
}

function planAction(ctx: RunContext, action: Action, key: string): ActionPlan {
  switch (action.type) {
    case 'assign':
      return fieldUpdate(ctx, {
        key,
        action,
        set: sql`assigned_to_agent_id = ${action.agent_id!}`,
        guards: [activeAgent(ctx, action.agent_id!)],
      });
    case 'set_priority':
      return fieldUpdate(ctx, { key, action, set: sql`priority = ${action.priority!}` });
    case 'add_label':
      return fieldUpdate(ctx, {
        key,
        action,
        set: sql`labels = case when exists (select 1 from json_each(${tasks.labels}) where value = ${action.label!}) then ${tasks.labels} else json_insert(${tasks.labels}, '$[#]', ${action.label!}) end`,
      });
    case 'set_evidence_policy':
      // Tighten only: the one policy there is, never cleared.
      return fieldUpdate(ctx, { key, action, set: sql`evidence_policy = 'required'` });
    case 'add_comment':
      return addComment(ctx, key, action);
    case 'create_task':
      return createTask(ctx, key, action);
    case 'delegate':
      return delegate(ctx, key, action);
  }
}

const requireTask = (ctx: RunContext): TaskRow => {
  if (!ctx.current) throw new ActionFailed('the task no longer exists');
  return ctx.current;
};

const activeAgent = (ctx: RunContext, agentId: string) =>
  sql`exists (select 1 from ${agents} where ${agents.id} = ${agentId} and ${agents.accountId} = ${ctx.msg.accountId} and ${agents.active} = 1)`;

/** No live claim of an agent other than the rule's, checked again by the write itself. */
const notClaimedByOthers = (ctx: RunContext) =>
  sql`(${tasks.claimedByAgentId} is null or ${tasks.leaseExpiresAt} <= ${isoSeconds(ctx.now)} or ${tasks.claimedByAgentId} = ${ctx.rule.createdByAgentId})`;

interface FieldUpdate {
  key: string;
  action: Action;
  /** The column's new value. */
  set: SQL;
  /** Further conditions the row must meet. */
  guards?: SQL[];
}

function fieldUpdate(ctx: RunContext, { key, action, set, guards = [] }: FieldUpdate): ActionPlan {
  const task = requireTask(ctx);
  const where = sql.join(
    [
      sql`${tasks.id} = ${task.id}`,
      sql`${tasks.accountId} = ${ctx.msg.accountId}`,
      sql`${tasks.completed} = 0`,
      notClaimedByOthers(ctx),
      keyRecorded(key),
      ...guards,
    ],
    sql` and `,
  );
  const events = plannedCause(ctx, 'automations.field_action', task.id);
  return {
    statements: [
      sql`update ${tasks} set ${set}, updated_at = ${isoSeconds(ctx.now)} where ${where} returning *`,
      outboxInsert(events, { now: ctx.now, when: PREVIOUS_STATEMENT_CHANGED }) ?? sql`select 1 where 0`,
      // Read after the write in the same transaction: says whether a claim is why it did not happen.
      sql`select claimed_by_agent_id, lease_expires_at from ${tasks} where ${tasks.id} = ${task.id}`,
    ],
    createdTaskId: null,
    after([updated, , claimRow]) {
      const row = updated![0];
      const claimedBy = (claimRow![0]?.claimed_by_agent_id as string | null | undefined) ?? null;
      const claim = { claimedByAgentId: claimedBy, leaseExpiresAt: (claimRow![0]?.lease_expires_at as string | null | undefined) ?? null };
      if (!row && hasLiveClaim(claim, ctx.now) && claimedBy !== ctx.rule.createdByAgentId)
        throw new ClaimedMeanwhile(`claimed by ${claimedBy}`);
      if (!row)
        throw new ActionFailed(
          action.type === 'assign' ? 'the task is completed, gone, or the agent is not active' : 'the task is completed or gone',
        );
      ctx.current = taskFromRaw(row);
      // A new assignee or label can make the task claimable for a held claimer.
      if (action.type === 'assign' || action.type === 'add_label') ctx.wake++;
      // Assignment changes fire task.updated too (not task.assigned), like every field change.
      ctx.caused.push(...recorded(events, taskJson(ctx.current, ctx.now)));
    },
  };
}

function addComment(ctx: RunContext, key: string, action: Action): ActionPlan {
  const task = requireTask(ctx);
  const id = newId('cmt', ctx.now);
  const content = renderText(action.content!, ctx.msg.event, ctx.msg.task).slice(0, 10_000);
  const events = plannedCause(ctx, 'automations.add_comment', task.id);
  return {
    // Comments are append-only: allowed on claimed and completed tasks, as for any agent.
    statements: [
      sql`insert into ${comments} (id, task_id, account_id, agent_id, author, content, created_at)
        select ${id}, ${task.id}, ${ctx.msg.accountId}, ${ctx.rule.createdByAgentId}, ${`automation:${ctx.rule.name}`}, ${content}, ${isoSeconds(ctx.now)}
        where ${keyRecorded(key)} and exists (select 1 from ${tasks} where ${tasks.id} = ${task.id}) returning id`,
      outboxInsert(events, { now: ctx.now, when: PREVIOUS_STATEMENT_CHANGED }) ?? sql`select 1 where 0`,
    ],
    createdTaskId: null,
    after([inserted]) {
      if (!inserted!.length) throw new ActionFailed('the task no longer exists');
      ctx.caused.push(...recorded(events, taskJson(task, ctx.now)));
    },
  };
}

/** The rule's author, as whom created tasks are written. */
function rulePrincipal(ctx: RunContext): Principal {
  return {
    agentId: ctx.rule.createdByAgentId,
    agentName: `automation:${ctx.rule.name}`,
    accountId: ctx.msg.accountId,
    role: 'admin',
    mode: 'admin',
    plan: 'free',
    sandboxProjectId: null,
    isDefaultAgent: false,
    hasWebhooks: true,
    hasAutomations: true,
  };
}

/** Ingress provenance sticks: a task made from an ingress task is an ingress task too. */
function withProvenance(ctx: RunContext, row: TaskRow): TaskRow {
  const source = ingressSourceOf(ctx.msg.task);
  if (!source) return row;
  const labels = normaliseLabels([...parseList<string>(row.labels), INGRESS_LABEL]);
  return { ...row, labels: JSON.stringify(labels), sourceIngressId: source };
}

function newTask(ctx: RunContext, action: Action, parent?: TaskRow): TaskRow {
  const input = {
    content: renderText(action.content ?? '{{task.content}}', ctx.msg.event, ctx.msg.task).slice(0, 2000),
    description: action.description === undefined ? null : renderText(action.description, ctx.msg.event, ctx.msg.task).slice(0, 10_000),
    priority: action.priority,
    labels: action.labels,
    project_id: action.project_id,
    assigned_to_agent_id: action.type === 'delegate' ? action.agent_id : action.assigned_to_agent_id,
  };
  return withProvenance(ctx, newTaskRow(rulePrincipal(ctx), { input, now: ctx.now, parent }));
}

function createdGuards(ctx: RunContext, key: string, row: TaskRow): SQL[] {
  const guards = [keyRecorded(key)];
  if (row.projectId)
    guards.push(
      sql`exists (select 1 from ${projects} where ${projects.id} = ${row.projectId} and ${projects.accountId} = ${ctx.msg.accountId})`,
    );
  if (row.assignedToAgentId) guards.push(activeAgent(ctx, row.assignedToAgentId));
  return guards;
}

const NOT_CREATED = 'not created: the monthly task quota is used up, or its project or assignee no longer exists';

function createTask(ctx: RunContext, key: string, action: Action): ActionPlan {
  const row = newTask(ctx, action);
  const quota = limit(ctx.env, 'TASKS_PER_MONTH');
  const events = plannedCause(ctx, 'automations.create_task', row.id);
  return {
    // Created tasks count against the monthly quota like any other.
    statements: [
      insertTaskGuarded(row, { quota, now: ctx.now, guards: createdGuards(ctx, key, row) }),
      countCreated(ctx.msg.accountId, row.id, ctx.now),
      ...recordedIf(events, ctx.now, row.id),
    ],
    createdTaskId: row.id,
    after([inserted]) {
      const created = inserted![0];
      if (!created) throw new ActionFailed(NOT_CREATED);
      if (created.claimers_waiting) ctx.wake++;
      ctx.caused.push(...recorded(events, taskJson(row, ctx.now)));
    },
  };
}

function delegate(ctx: RunContext, key: string, action: Action): ActionPlan {
  const parent = requireTask(ctx);
  if (parent.completed) throw new ActionFailed('the task is completed');
  const maxDepth = limit(ctx.env, 'DELEGATION_DEPTH');
  if (parent.depth + 1 > maxDepth) throw new ActionFailed(`delegation chains are at most ${maxDepth} levels deep`);
  const child = newTask(ctx, action, parent);
  const quota = limit(ctx.env, 'TASKS_PER_MONTH');
  const parentOpen = sql`exists (select 1 from ${tasks} where ${tasks.id} = ${parent.id} and ${tasks.completed} = 0 and ${notClaimedByOthers(ctx)})`;
  const events = plannedCause(ctx, 'automations.delegate', child.id);
  return {
    statements: [
      insertTaskGuarded(child, { quota, now: ctx.now, guards: [...createdGuards(ctx, key, child), parentOpen] }),
      countCreated(ctx.msg.accountId, child.id, ctx.now),
      sql`update ${tasks} set status = 'delegated', updated_at = ${isoSeconds(ctx.now)} where ${tasks.id} = ${parent.id} and ${tasks.completed} = 0 and exists (select 1 from ${tasks} c where c.id = ${child.id}) returning *`,
      ...recordedIf(events, ctx.now, child.id),
    ],
    createdTaskId: child.id,
    after([inserted, , updatedParent]) {
      const created = inserted![0];
      if (!created) throw new ActionFailed(NOT_CREATED);
      if (created.claimers_waiting) ctx.wake++;
      if (updatedParent![0]) ctx.current = taskFromRaw(updatedParent![0]);
      ctx.caused.push(...recorded(events, taskJson(child, ctx.now)));
    },
  };
}

/** The events an action causes (EFFECTS says which), in the rule author's name and the event's cascade. */
function plannedCause(ctx: RunContext, change: Change, taskId: string): PlannedEvent[] {
  return planEvents({
    accountId: ctx.msg.accountId,
    agentId: ctx.rule.createdByAgentId,
    taskId,
    events: eventsOf(change),
    // Rules exist on this account: the relay finds who listens.
    listeners: { accountHasWebhooks: true, accountHasAutomations: true },
    cause: { originEventId: ctx.msg.originEventId, hop: ctx.msg.hop + 1 },
    now: ctx.now,
  });
}

/** Records a created task's events when the task exists (its guarded insert happened). */
function recordedIf(events: PlannedEvent[], now: number, taskId: string): SQL[] {
  const insert = outboxInsert(events, { now, when: sql`exists (select 1 from ${tasks} where ${tasks.id} = ${taskId})` });
  return insert ? [insert] : [];
}

function runStatus(log: ActionLog[]): 'succeeded' | 'failed' | 'skipped' {
  if (log.some((l) => l.outcome === 'failed')) return 'failed';
  if (log.some((l) => l.outcome === 'applied' || l.outcome === 'already_applied')) return 'succeeded';
  return 'skipped';
}

/**
 * The run log row and the rule's counters, in one batch, once per (rule, event): a failed run
 * extends the failure streak (which deactivates the rule at its limit), a successful one ends it.
 */
interface RunRecord {
  msg: AutomationMessage;
  log: ActionLog[];
  /** Consecutive failed runs that switch the rule off. */
  failuresBeforeDisable: number;
  now: number;
}

async function recordRun(db: Db, rule: AutomationRow, opts: RunRecord): Promise<void> {
  const { msg, log } = opts;
  const status = runStatus(log);
  const ts = isoSeconds(opts.now);
  const firstTime = sql`not exists (select 1 from ${automationRuns} where ${automationRuns.ruleId} = ${rule.id} and ${automationRuns.eventId} = ${msg.eventId})`;
  const streak =
    status === 'failed' ? sql`${automations.failureCount} + 1` : status === 'succeeded' ? sql`0` : sql`${automations.failureCount}`;
  const reached = sql`${status === 'failed' ? 1 : 0} = 1 and ${automations.failureCount} + 1 >= ${opts.failuresBeforeDisable}`;
  const reason = `Deactivated after ${opts.failuresBeforeDisable} consecutive failed runs (last: ${log.find((l) => l.outcome === 'failed')?.detail ?? 'unknown'}). Fix the rule, then set "active": true.`;
  await sqlBatch(db, [
    sql`update ${automations} set run_count = run_count + 1, failure_count = ${streak}, last_run_at = ${ts},
        active = case when ${reached} then 0 else ${automations.active} end,
        disabled_reason = case when ${reached} then ${reason} else ${automations.disabledReason} end
      where ${automations.id} = ${rule.id} and ${firstTime}`,
    sql`insert into ${automationRuns} (id, rule_id, account_id, event_id, event, task_id, hop, status, actions, created_at)
      values (${newId('arn', opts.now)}, ${rule.id}, ${msg.accountId}, ${msg.eventId}, ${msg.event}, ${msg.task.id}, ${msg.hop}, ${status}, ${JSON.stringify(log)}, ${ts})
      on conflict (rule_id, event_id) do nothing`,
  ]);
}
