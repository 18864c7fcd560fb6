/**
 * Tasks: create, read, update, delete, complete and uncomplete, with the access rules of
 * task-access.ts and the plan quota. Every read is one D1 round trip and every write at most
 * two: one batch that reads what the rules need, one batch that writes with SQL guards, so a
 * change that raced in between is refused by the database rather than overwritten.
 * task_labels and task_counts follow tasks through triggers (migrations/0001_task_counters.sql).
 */
import { and, eq, getTableColumns, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from '../db/client';
import {
  accounts,
  agents,
  automationEffects,
  comments,
  projects,
  subtasks,
  taskContextHistory,
  taskLinks,
  tasks,
  usageCounters,
} from '../db/schema';
import { ApiError, conflict, notFound } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { endOpenRun } from './runs';
import { assertCanRead, assertCanWrite, taskNotFound, writableBy } from './task-access';
import { sqlBatch, toRawQuery, type RawQuery, type RawRow } from '../db/sql-batch';
import { NO_CLAIM, rowReader, taskJson, type EvidenceItem, type TaskRow } from './task-json';
import { eventsOf } from '../events/effects';
import {
  outboxInsert,
  planEvents,
  PREVIOUS_STATEMENT_CHANGED,
  recorded,
  type Listeners,
  type PlannedEvent,
  type RecordedEvent,
} from '../events/outbox';
import { writtenLimit } from '../db/written-limit';

/** The account's task row, context included. */
export async function readTask(db: Db, accountId: string, id: string): Promise<TaskRow | undefined> {
  return db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, id), eq(tasks.accountId, accountId)))
    .get();
}

export const PRIORITY_WORDS = { low: 1, normal: 1, medium: 2, high: 3, urgent: 4 } as const;
export const STRONG_EVIDENCE = ['commit', 'pr', 'ci_check', 'deploy_sha', 'artifact_url'] as const;
export const EVIDENCE_KINDS = [...STRONG_EVIDENCE, 'command_output'] as const;

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/;

/** `YYYY-MM-DD` stays a date; a full ISO timestamp becomes UTC `YYYY-MM-DDTHH:MM:SSZ`; else null. */
export function normaliseDueDate(input: string): string | null {
  const value = input.trim();
  const date = DATE_ONLY.exec(value);
  if (date) {
    const [, y, m, d] = date;
    const parsed = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
    return parsed.getUTCFullYear() === Number(y) && parsed.getUTCMonth() === Number(m) - 1 && parsed.getUTCDate() === Number(d)
      ? value
      : null;
  }
  if (!DATE_TIME.test(value)) return null;
  // A timestamp without a zone is read as UTC, so the stored value never depends on the server.
  const zoned = /([Zz]|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(zoned.replace(' ', 'T'));
  if (Number.isNaN(ms)) return null;
  const year = new Date(ms).getUTCFullYear();
  return year >= 1 && year <= 9999 ? isoSeconds(ms) : null;
}

/** Labels trimmed and de-duplicated, first spelling kept. */
export function normaliseLabels(labels: string[]): string[] {
  const out: string[] = [];
  for (const raw of labels) {
    const label = raw.trim();
    if (label !== '' && !out.includes(label)) out.push(label);
  }
  return out;
}

export interface TaskInput {
  content?: string;
  description?: string | null;
  priority?: number;
  labels?: string[];
  due_date?: string | null;
  project_id?: string | null;
  assigned_to_agent_id?: string | null;
  evidence_policy?: 'required' | null;
}

export type NewTaskInput = TaskInput & { content: string };

const taskColumns = getTableColumns(tasks);
const taskRows = rowReader<TaskRow>(taskColumns);

/** A raw `RETURNING *` / `SELECT *` row (snake_case, driver values) as a typed task row. */
export const taskFromRaw = (raw: Record<string, unknown>): TaskRow => taskRows.fromObject(raw);

export const period = (now: number) => isoSeconds(now).slice(0, 7);

/** First day of the next UTC month, when the monthly task quota resets. */
export function quotaResetDate(now: number): string {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
}

export const quotaExceeded = (quota: number, now: number) =>
  new ApiError({
    status: 402,
    code: 'TASK_QUOTA_EXCEEDED',
    message: `This account has created ${quota} tasks this month, the most its plan allows. The quota resets on ${quotaResetDate(now)}; upgrade with POST /v1/billing/checkout for more.`,
    extra: { task_limit: quota, reset_date: quotaResetDate(now) },
  });

const projectNotFound = () => notFound('project');
const agentNotFound = () => notFound('agent');

/** The rules for a project and assignee a caller puts on a task; `found` come from the read batch. */
/** The reference rules a restricted key is held to; they need no D1 read. */
function assertRestrictedReferences(p: Principal, input: TaskInput): void {
  if (p.mode !== 'restricted') return;
  if (input.project_id && input.project_id !== p.sandboxProjectId) throw projectNotFound();
  if (input.assigned_to_agent_id && input.assigned_to_agent_id !== p.agentId) {
    throw new ApiError({
      status: 403,
      code: 'ASSIGNMENT_NOT_ALLOWED',
      message: 'A restricted key can only assign tasks to itself until a human claims the account',
    });
  }
}

export function checkReferences(
  p: Principal,
  input: TaskInput,
  found: { project?: unknown[] | null; agent?: { active: boolean }[] | null },
): void {
  assertRestrictedReferences(p, input);
  if (input.project_id && !found.project?.length) throw projectNotFound();
  if (input.assigned_to_agent_id) {
    const agent = found.agent?.[0];
    if (!agent) throw agentNotFound();
    if (!agent.active)
      throw new ApiError({ status: 409, code: 'AGENT_INACTIVE', message: 'That agent is deactivated and cannot be assigned tasks' });
  }
}

/** The same existence checks as conditions of the insert itself (see createTask). */
function referenceGuards(p: Principal, input: TaskInput): SQL[] {
  const guards: SQL[] = [];
  if (input.project_id) {
    guards.push(
      sql`exists (select 1 from ${projects} where ${projects.id} = ${input.project_id} and ${projects.accountId} = ${p.accountId})`,
    );
  }
  if (input.assigned_to_agent_id) {
    guards.push(
      sql`exists (select 1 from ${agents} where ${agents.id} = ${input.assigned_to_agent_id} and ${agents.accountId} = ${p.accountId} and ${agents.active} = 1)`,
    );
  }
  return guards;
}

export interface ReadForWriteOptions {
  /** The task written, or null for a create. */
  taskId: string | null;
  input: TaskInput;
  now: number;
  /** Whether to read the account's usage too. */
  withUsage: boolean;
}

/** Runs the read batch of a write: the task (if any) plus the referenced project, agent and usage. */
export async function readForWrite(db: Db, p: Principal, { taskId, input, now, withUsage }: ReadForWriteOptions) {
  const queries: BatchItem<'sqlite'>[] = [];
  const slot: Record<string, number> = {};
  const add = (name: string, q: BatchItem<'sqlite'>) => {
    slot[name] = queries.length;
    queries.push(q);
  };
  if (taskId !== null)
    add(
      'task',
      db
        .select()
        .from(tasks)
        .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId))),
    );
  if (input.project_id)
    add(
      'project',
      db
        .select({ id: projects.id })
        .from(projects)
        .where(and(eq(projects.id, input.project_id), eq(projects.accountId, p.accountId))),
    );
  if (input.assigned_to_agent_id) {
    add(
      'agent',
      db
        .select({ id: agents.id, active: agents.active })
        .from(agents)
        .where(and(eq(agents.id, input.assigned_to_agent_id), eq(agents.accountId, p.accountId))),
    );
  }
  if (withUsage)
    add(
      'usage',
      db
        .select({ n: usageCounters.tasksCreated })
        .from(usageCounters)
        .where(and(eq(usageCounters.accountId, p.accountId), eq(usageCounters.period, period(now)))),
    );
  const results = queries.length ? ((await db.batch(queries as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])) as unknown[][]) : [];
  const get = <T>(name: string): T[] | null => (slot[name] === undefined ? null : (results[slot[name]!] as T[]));
  return {
    task: get<TaskRow>('task')?.[0],
    project: get<{ id: string }>('project'),
    agent: get<{ id: string; active: boolean }>('agent'),
    used: get<{ n: number }>('usage')?.[0]?.n ?? 0,
  };
}

export interface GuardedTaskInsert {
  /** The account's task quota. */
  quota: number;
  now: number;
  /** Further conditions the insert must meet. */
  guards?: SQL[];
}

/**
 * `INSERT INTO tasks ... SELECT ... WHERE <quota and guards> RETURNING id`: the quota is checked by
 * the insert itself, so two concurrent creates at the limit cannot both pass.
 */
export function insertTaskGuarded(row: TaskRow, { quota, now, guards = [] }: GuardedTaskInsert) {
  const entries = Object.entries(taskColumns);
  const names = sql.join(
    entries.map(([, c]) => sql.identifier(c.name)),
    sql`, `,
  );
  const values = sql.join(
    entries.map(([key, c]) => {
      const v = (row as unknown as Record<string, unknown>)[key];
      return sql`${v === null || v === undefined ? null : c.mapToDriverValue(v)}`;
    }),
    sql`, `,
  );
  const underQuota = sql`coalesce((select ${usageCounters.tasksCreated} from ${usageCounters} where ${usageCounters.accountId} = ${row.accountId} and ${usageCounters.period} = ${period(now)}), 0) < ${quota}`;
  const where = sql.join([underQuota, ...guards], sql` and `);
  // Read in the same statement, so it is exactly as fresh as the insert (see migration 0007).
  const waiting = sql`(select ${accounts.claimersWaiting} from ${accounts} where ${accounts.id} = ${row.accountId}) as claimers_waiting`;
  return sql`insert into ${tasks} (${names}) select ${values} where ${where} returning ${tasks.id}, ${waiting}`;
}

/** Counts a created task against the month's quota, only if the guarded insert happened. */
export function countCreated(accountId: string, taskId: string, now: number) {
  return sql`insert into ${usageCounters} (account_id, period, tasks_created) select ${accountId}, ${period(now)}, 1 where exists (select 1 from ${tasks} where ${tasks.id} = ${taskId}) on conflict (account_id, period) do update set tasks_created = tasks_created + 1`;
}

export interface NewTaskRowOptions {
  input: NewTaskInput;
  now: number;
  /** The task delegated from, if any. */
  parent?: TaskRow;
}

export function newTaskRow(p: Principal, { input, now, parent }: NewTaskRowOptions): TaskRow {
  const ts = isoSeconds(now);
  const id = newId('tsk', now);
  return {
    id,
    accountId: p.accountId,
    projectId: input.project_id ?? parent?.projectId ?? (p.mode === 'restricted' ? p.sandboxProjectId : null),
    parentTaskId: parent?.id ?? null,
    rootTaskId: parent?.rootTaskId ?? id,
    depth: parent ? parent.depth + 1 : 0,
    content: input.content,
    description: input.description ?? null,
    priority: input.priority ?? 1,
    labels: JSON.stringify(normaliseLabels(input.labels ?? [])),
    dueDate: input.due_date ?? null,
    assignedToAgentId: input.assigned_to_agent_id ?? null,
    createdByAgentId: p.agentId,
    // The agent answerable for the outcome: the creator of the root, inherited down the delegation tree.
    accountableAgentId: parent ? (parent.accountableAgentId ?? parent.createdByAgentId) : p.agentId,
    status: 'open',
    completed: false,
    completedAt: null,
    completedByAgentId: null,
    ...NO_CLAIM,
    handoffNote: null,
    handoffByAgentId: null,
    handoffState: null,
    evidence: '[]',
    evidencePolicy: input.evidence_policy ?? null,
    context: '{}',
    contextVersion: 0,
    reopenCount: 0,
    sourceRecurrenceId: null,
    sourceIngressId: null,
    createdAt: ts,
    updatedAt: ts,
  };
}

/**
 * One D1 round trip: the insert itself checks the quota and the referenced project and agent.
 * Only a refused insert costs a second read, to say which check failed.
 */
export interface CreatedTask {
  row: TaskRow;
  /** The account's claim queue holds long-poll claimers, who should be woken. */
  claimersWaiting: boolean;
  /** The events recorded with it (when `listeners` were given). */
  events: RecordedEvent[];
}

export interface TaskEventsPlan {
  taskId: string;
  events: PlannedEvent['event'][];
  listeners: Listeners | undefined;
  now: number;
  /** The task as the events show it. */
  snapshot?: TaskRow;
}

/** The events of one write of a task by the principal, recorded only when the account has listeners. */
export function planTaskEvents(p: Principal, { taskId, events, listeners, now, snapshot }: TaskEventsPlan): PlannedEvent[] {
  if (!listeners) return [];
  return planEvents({
    accountId: p.accountId,
    agentId: p.agentId,
    taskId,
    events,
    listeners,
    now,
    ...(snapshot ? { snapshot: taskJson(snapshot, now) } : {}),
  });
}

/** The events of a new task row (created, delegated, delivered by ingress): the change's events, with the row as their snapshot. */
export function newTaskEvents(
  p: Principal,
  {
    change,
    row,
    listeners,
    now,
  }: { change: 'tasks.create' | 'tasks.delegate' | 'ingress.deliver'; row: TaskRow; listeners: Listeners | undefined; now: number },
): PlannedEvent[] {
  return planTaskEvents(p, {
    taskId: row.id,
    events: eventsOf(change, { assigned: Boolean(row.assignedToAgentId) }),
    listeners,
    now,
    snapshot: row,
  });
}

/** The outbox insert of `events`, as a list to spread into a batch. */
export const recordIf = (events: PlannedEvent[], now: number, when: SQL): SQL[] => {
  const insert = outboxInsert(events, { now, when });
  return insert ? [insert] : [];
};

export const taskExists = (id: string) => sql`exists (select 1 from ${tasks} where ${tasks.id} = ${id})`;

export interface CreateTaskOptions {
  input: NewTaskInput;
  /** The account's task quota. */
  quota: number;
  now: number;
  listeners?: Listeners;
}

export async function createTask(db: Db, p: Principal, { input, quota, now, listeners }: CreateTaskOptions): Promise<CreatedTask> {
  assertRestrictedReferences(p, input);
  const row = newTaskRow(p, { input, now });
  const events = newTaskEvents(p, { change: 'tasks.create', row, listeners, now });
  const [inserted] = await sqlBatch(db, [
    insertTaskGuarded(row, { quota, now, guards: referenceGuards(p, input) }),
    countCreated(p.accountId, row.id, now),
    ...recordIf(events, now, taskExists(row.id)),
  ]);
  const created = inserted![0];
  if (created) return { row, claimersWaiting: Boolean(created.claimers_waiting), events: recorded(events, taskJson(row, now)) };
  const found = await readForWrite(db, p, { taskId: null, input, now, withUsage: true });
  checkReferences(p, input, found);
  throw quotaExceeded(quota, now);
}

export async function getTask(db: Db, p: Principal, id: string): Promise<TaskRow> {
  const row = await db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, id), eq(tasks.accountId, p.accountId)))
    .get();
  assertCanRead(p, row);
  return row;
}

export const taskCompleted = () =>
  conflict(
    'TASK_COMPLETED',
    'This task is completed and cannot be changed; uncomplete it first with POST /v1/tasks/{id}/uncomplete (comments are still allowed)',
  );

export interface UpdateResult {
  before: TaskRow;
  after: TaskRow;
  events: RecordedEvent[];
}

export interface UpdateTaskOptions {
  taskId: string;
  input: TaskInput;
  now: number;
  listeners?: Listeners;
}

export async function updateTask(db: Db, p: Principal, { taskId, input, now, listeners }: UpdateTaskOptions): Promise<UpdateResult> {
  const found = await readForWrite(db, p, { taskId: taskId, input, now, withUsage: false });
  const before = found.task;
  assertCanWrite(p, before, { op: 'tasks.update', now });
  if (before.completed) throw taskCompleted();
  checkReferences(p, input, found);

  const changes: Partial<TaskRow> = {};
  if (input.content !== undefined) changes.content = input.content;
  if (input.description !== undefined) changes.description = input.description;
  if (input.priority !== undefined) changes.priority = input.priority;
  if (input.labels !== undefined) changes.labels = JSON.stringify(normaliseLabels(input.labels));
  if (input.due_date !== undefined) changes.dueDate = input.due_date;
  if (input.project_id !== undefined) {
    // A restricted key's tasks stay in its sandbox.
    if (p.mode === 'restricted' && input.project_id === null) throw projectNotFound();
    changes.projectId = input.project_id;
  }
  if (input.assigned_to_agent_id !== undefined) changes.assignedToAgentId = input.assigned_to_agent_id;
  if (input.evidence_policy !== undefined) changes.evidencePolicy = input.evidence_policy;
  if (Object.keys(changes).length === 0) return { before, after: before, events: [] };
  changes.updatedAt = isoSeconds(now);

  const newAssignee = changes.assignedToAgentId !== undefined && changes.assignedToAgentId !== before.assignedToAgentId;
  const facts = { changed: true, newly_assigned: newAssignee && Boolean(changes.assignedToAgentId) };
  const events = planTaskEvents(p, { taskId: taskId, events: eventsOf('tasks.update', facts), listeners, now });
  const [updated, ...rest] = await sqlBatch(db, [
    db
      .update(tasks)
      .set(changes)
      .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId), eq(tasks.completed, false)))
      .returning(),
    ...recordIf(events, now, PREVIOUS_STATEMENT_CHANGED),
    db
      .select({ completed: tasks.completed })
      .from(tasks)
      .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId))),
  ]);
  const raw = updated![0];
  if (!raw) throw rest.at(-1)![0] ? taskCompleted() : taskNotFound();
  const after = taskFromRaw(raw);
  return { before, after, events: recorded(events, taskJson(after, now)) };
}

/** Whether an update can have made the task claimable for a claimer it was not before: a new assignee, labels or project. */
export const claimabilityChanged = (before: TaskRow, after: TaskRow) =>
  after.assignedToAgentId !== before.assignedToAgentId || after.labels !== before.labels || after.projectId !== before.projectId;

/** Sets a delegated parent back to open once none of its children is still open; answers its id if it did. */
export function reopenParentIfChildrenDone(parentId: string | SQL, now: number) {
  return sql`update ${tasks} set status = 'open', updated_at = ${isoSeconds(now)} where ${tasks.id} = ${parentId} and status = 'delegated' and completed = 0 and not exists (select 1 from ${tasks} c where c.parent_task_id = ${parentId} and c.completed = 0) returning ${tasks.id}`;
}

export interface DeleteTaskOptions {
  taskId: string;
  now: number;
  listeners?: Listeners;
}

/** The deleted task, and whether its parent went back to the queue (it was the last open child). */
export async function deleteTask(
  db: Db,
  p: Principal,
  { taskId, now, listeners }: DeleteTaskOptions,
): Promise<{ row: TaskRow; parentReopened: boolean; events: RecordedEvent[] }> {
  const [rows, children] = await db.batch([
    db
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId))),
    db.select({ id: tasks.id }).from(tasks).where(eq(tasks.parentTaskId, taskId)).limit(writtenLimit(1)),
  ]);
  const row = rows[0];
  assertCanWrite(p, row, { op: 'tasks.delete', now });
  if (children.length > 0) {
    throw conflict('TASK_HAS_CHILDREN', 'This task has delegated child tasks; delete them first (GET /v1/tasks/{id}/children lists them)');
  }
  const events = planTaskEvents(p, { taskId: taskId, events: eventsOf('tasks.delete'), listeners, now, snapshot: row });
  // One batch, one transaction: the task goes with everything hanging off it (labels by trigger).
  const statements: (SQL | SQLWrapper)[] = [
    db.delete(subtasks).where(eq(subtasks.taskId, taskId)),
    db.delete(comments).where(eq(comments.taskId, taskId)),
    db.delete(taskContextHistory).where(eq(taskContextHistory.taskId, taskId)),
    db.delete(taskLinks).where(eq(taskLinks.taskId, taskId)),
    // The effect key stays (a redelivered event still finds it); the clean-up takes it once unmarked.
    db.update(automationEffects).set({ createdTaskId: null }).where(eq(automationEffects.createdTaskId, taskId)),
    // A claim ends with its task; the run stays in the agent's history.
    endOpenRun(db, { taskId: taskId, outcome: 'released', now }),
    db.delete(tasks).where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId))),
    ...recordIf(events, now, PREVIOUS_STATEMENT_CHANGED),
  ];
  if (row.parentTaskId) statements.push(reopenParentIfChildrenDone(row.parentTaskId, now));
  const results = await sqlBatch(db, statements);
  return { row, parentReopened: Boolean(row.parentTaskId && results.at(-1)?.length), events: recorded(events, taskJson(row, now)) };
}

const evidenceRequired = () =>
  new ApiError({
    status: 422,
    code: 'EVIDENCE_REQUIRED',
    message: `This task requires evidence to complete: send {"evidence": [{"kind": "...", "ref": "..."}]} with at least one item of kind ${STRONG_EVIDENCE.join(', ')} (command_output alone is not enough)`,
  });

/** What a completion needs: who completes which task, with what evidence. */
export interface Completion {
  principal: Principal;
  taskId: string;
  evidence: EvidenceItem[];
}

/**
 * The one batch that completes a task. Access, "not completed yet" and the evidence policy are
 * conditions of the completing UPDATE; the end of any live claim's run and the parent's return
 * to open (when this was its last open child) follow only if it happened. Read its results
 * with `completionOutcome`, which reads the row again only to explain a refusal.
 */
export function completionStatements(db: Db, { principal: p, taskId: id, evidence }: Completion, now: number): (SQL | SQLWrapper)[] {
  const ts = isoSeconds(now);
  const strongKinds = sql.join(
    STRONG_EVIDENCE.map((k) => sql`${k}`),
    sql`, `,
  );
  const bringsStrong = evidence.some((e) => (STRONG_EVIDENCE as readonly string[]).includes(e.kind));
  const policyMet = sql`(${tasks.evidencePolicy} is null or ${bringsStrong ? 1 : 0} = 1
    or exists (select 1 from json_each(${tasks.evidence}) e where json_extract(e.value, '$.kind') in (${strongKinds})))`;
  // Items are appended in order: the stored ones, then the new ones.
  const mergedEvidence = evidence.length
    ? sql`(select json_group_array(json(v.value)) from (select value from json_each(${tasks.evidence}) union all select value from json_each(${JSON.stringify(evidence)})) v)`
    : sql`${tasks.evidence}`;
  return [
    sql`update ${tasks} set completed = 1, status = 'completed', completed_at = ${ts}, completed_by_agent_id = ${p.agentId},
        claimed_by_agent_id = null, claimed_at = null, lease_expires_at = null, last_heartbeat_at = null, session_state = null, state_detail = null,
        evidence = ${mergedEvidence}, updated_at = ${ts}
      where ${tasks.id} = ${id} and ${writableBy(p, { op: 'tasks.complete', now, taskAlias: 'tasks' })} and ${tasks.completed} = 0 and ${policyMet}
      returning *`,
    // Completing ends any live claim, in the same transaction as the completion.
    endOpenRun(db, {
      taskId: id,
      outcome: 'completed',
      now,
      onlyIf: sql`exists (select 1 from ${tasks} d where d.id = ${id} and d.completed = 1 and d.completed_at = ${ts} and d.completed_by_agent_id = ${p.agentId})`,
    }),
    reopenParentIfChildrenDone(sql`(select parent_task_id from ${tasks} where ${tasks.id} = ${id})`, now),
    // A recurrence's instance answers when the next one is due (the scheduler spawns it).
    sql`select r.next_due_at from recurrences r where r.id = (select source_recurrence_id from ${tasks} where ${tasks.id} = ${id}) and r.active = 1`,
  ];
}

/**
 * For a completion whose batch failed and may still have committed: per statement, a query that
 * reads again what it returned. It landed when the task is completed at this second by this
 * agent (it was open before, or the completion would have changed nothing); a parent open again
 * since this second counts as reopened by it (at worst a spurious wake-up).
 */
export function completionLandedQueries({ principal: p, taskId: id }: Completion, now: number): (RawQuery | null)[] {
  const ts = isoSeconds(now);
  return [
    toRawQuery(
      sql`select * from ${tasks} where ${tasks.id} = ${id} and ${tasks.accountId} = ${p.accountId} and completed = 1 and completed_at = ${ts} and completed_by_agent_id = ${p.agentId}`,
    ),
    null,
    toRawQuery(
      sql`select p.id from ${tasks} p join ${tasks} c on c.parent_task_id = p.id where c.id = ${id} and p.status = 'open' and p.completed = 0 and p.updated_at = ${ts}`,
    ),
  ];
}

/** The completion's event, recorded in its batch when the completion landed (appended after its statements). */
export function completionEvents(
  completion: Completion,
  now: number,
  listeners?: Listeners,
): { events: PlannedEvent[]; statements: SQL[] } {
  const { principal: p, taskId: id } = completion;
  const events = planTaskEvents(p, { taskId: id, events: eventsOf('tasks.complete'), listeners, now });
  // Sent right after the completing UPDATE (see completionBatch): a second completion in the same second records nothing.
  return { events, statements: recordIf(events, now, PREVIOUS_STATEMENT_CHANGED) };
}

/** Where the results of `completionStatements` say the parent task went back to the queue. */
export const PARENT_REOPENED_RESULT = 2;
/** Where they hold the next occurrence of the task's recurrence, if it has an active one. */
export const NEXT_OCCURRENCE_RESULT = 3;

export interface CompletionResults {
  /** The results of the completion's batch. */
  results: RawRow[][];
  now: number;
}

/** The completed task, or the error that says why it was not completed. */
export async function completionOutcome(
  db: Db,
  { principal: p, taskId: id }: Completion,
  { results, now }: CompletionResults,
): Promise<TaskRow> {
  const updated = results[0]?.[0];
  if (updated) return taskFromRaw(updated);
  // Refused: read the task to say why (a refusal costs a second round trip; a completion, none).
  const row = await readTask(db, p.accountId, id);
  assertCanWrite(p, row, { op: 'tasks.complete', now });
  if (row.completed) throw conflict('TASK_ALREADY_COMPLETED', 'This task is already completed');
  throw evidenceRequired();
}

export interface CompleteTaskOptions {
  taskId: string;
  evidence: EvidenceItem[];
  now: number;
}

/** Completes a task in one D1 batch of its own (the route sends completions through the account's queue instead). */
export async function completeTask(db: Db, p: Principal, { taskId, evidence, now }: CompleteTaskOptions): Promise<TaskRow> {
  const completion = { principal: p, taskId: taskId, evidence };
  return completionOutcome(db, completion, { results: await sqlBatch(db, completionStatements(db, completion, now)), now });
}

export interface UncompleteTaskOptions {
  taskId: string;
  now: number;
  listeners?: Listeners;
}

/**
 * Reopens a completed task. It returns to `delegated` when some of its children are still open
 * (it is waiting on them), else to `open`; `reopen_count` counts the reopenings.
 */
export async function uncompleteTask(
  db: Db,
  p: Principal,
  { taskId, now, listeners }: UncompleteTaskOptions,
): Promise<{ row: TaskRow; events: RecordedEvent[] }> {
  const row = await db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId)))
    .get();
  assertCanWrite(p, row, { op: 'tasks.uncomplete', now });
  if (!row.completed) throw conflict('TASK_NOT_COMPLETED', 'This task is not completed');
  const ts = isoSeconds(now);
  const events = planTaskEvents(p, { taskId: taskId, events: eventsOf('tasks.uncomplete'), listeners, now });
  // completed_by_agent_id stays: it records who last completed the task and keeps it visible to that worker.
  const statements: SQL[] = [
    sql`update ${tasks} set completed = 0, completed_at = null, reopen_count = reopen_count + 1, updated_at = ${ts},
        status = case when exists (select 1 from ${tasks} c where c.parent_task_id = ${taskId} and c.completed = 0) then 'delegated' else 'open' end
        where ${tasks.id} = ${taskId} and ${tasks.accountId} = ${p.accountId} and completed = 1 returning *`,
    ...recordIf(events, now, PREVIOUS_STATEMENT_CHANGED),
  ];
  // A parent that went back to open because all its children were done waits on this one again.
  if (row.parentTaskId) {
    statements.push(
      sql`update ${tasks} set status = 'delegated', updated_at = ${ts} where ${tasks.id} = ${row.parentTaskId} and status = 'open' and completed = 0`,
    );
  }
  const [updated] = await sqlBatch(db, statements);
  if (!updated![0]) throw conflict('TASK_NOT_COMPLETED', 'This task is not completed');
  const after = taskFromRaw(updated![0]);
  return { row: after, events: recorded(events, taskJson(after, now)) };
}
