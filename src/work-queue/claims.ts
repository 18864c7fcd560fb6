/**
 * The claim rules, in SQL. A claim is three statements run in one D1 batch (a transaction):
 * close the run of an expired claim being taken over, open the new run, and the conditional
 * UPDATE that takes the task. All three pick the task with the same subquery, and only the
 * UPDATE changes `tasks`, so they agree on the task; the UPDATE re-checks claimability as it
 * writes, so two claims can never take the same task, whoever sends them.
 *
 * Heartbeat, state and release are single conditional writes on the caller's live claim.
 */
import { and, asc, desc, eq, isNotNull, isNull, lte, or, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { AnySQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Db } from '../db/client';
import { runs, taskLabels, tasks } from '../db/schema';
import { type ApiError, conflict } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { canSee, taskNotFound } from '../tasks/task-access';
import { endOpenRun } from '../tasks/runs';
import { RenderedSql } from '../db/rendered-sql';
import { toRawQuery, type RawQuery } from '../db/sql-batch';
import { readTask, taskFromRaw } from '../tasks/tasks';
import { sqlBatch } from '../db/sql-batch';
import { hasLiveClaim, NO_CLAIM, taskFieldColumns, type TaskFields, type TaskRow } from '../tasks/task-json';
import { outboxInsert, outboxInsertPerTask, planEvents, type Listeners, type PlannedEvent } from '../events/outbox';
import { eventsOf } from '../events/effects';
import { writtenLimit } from '../db/written-limit';

export const LEASE_SECONDS = { min: 30, max: 3600, default: 300 } as const;
export const WAIT_SECONDS = { min: 0, max: 30, default: 0 } as const;

export type SessionState = NonNullable<TaskRow['sessionState']>;

/** Who is claiming: what the queue needs of the principal (it crosses into the Durable Object). */
export interface Claimer {
  accountId: string;
  agentId: string;
  /** Restricted keys claim only tasks they created in this project; null for full keys. */
  sandboxProjectId: string | null;
}

export function claimerOf(p: Principal): Claimer {
  return {
    accountId: p.accountId,
    agentId: p.agentId,
    // A restricted key without a sandbox can claim nothing, so it gets a project id no task has.
    sandboxProjectId: p.mode === 'restricted' ? (p.sandboxProjectId ?? '∅') : null,
  };
}

export interface ClaimNextRequest {
  claimer: Claimer;
  /** Names a held (long-poll) claim, so the route can abandon it when its client goes away. */
  holdId?: string;
  /** The task must carry every one of these labels. */
  labels: string[];
  projectId: string | null;
  leaseSeconds: number;
  waitSeconds: number;
  /** The task.claimed event to record in the claim's batch (its task is the one claimed). */
  event?: PlannedEvent;
}

export interface ClaimTaskRequest {
  claimer: Claimer;
  taskId: string;
  leaseSeconds: number;
  /** The task.claimed event, recorded only when a new claim began. */
  event?: PlannedEvent;
}

/** The answer of a targeted claim: the task, and whether this started a new claim (or extended the caller's own). */
export interface ClaimTaskResult {
  row: TaskFields | null;
  fresh: boolean;
}

const leaseRunOut = (nowIso: string) => lte(tasks.leaseExpiresAt, nowIso);

/** What every claim of `c` needs, whatever the task's status: not completed, unassigned or assigned to `c`. */
function mayTake(c: Claimer): SQL {
  return and(
    eq(tasks.accountId, c.accountId),
    eq(tasks.completed, false),
    or(isNull(tasks.assignedToAgentId), eq(tasks.assignedToAgentId, c.agentId)),
    c.sandboxProjectId === null ? undefined : and(eq(tasks.createdByAgentId, c.agentId), eq(tasks.projectId, c.sandboxProjectId)),
  )!;
}

const openNow = (nowIso: string) => and(eq(tasks.status, 'open'), or(isNull(tasks.claimedByAgentId), leaseRunOut(nowIso)))!;
const lapsedNow = (nowIso: string) => and(eq(tasks.status, 'claimed'), leaseRunOut(nowIso))!;

/** Tasks `c` may take at `now`: open (or held by a lease that ran out), not completed, unassigned or assigned to `c`. */
function claimableBy(c: Claimer, nowIso: string): SQL {
  return and(mayTake(c), or(openNow(nowIso), lapsedNow(nowIso)))!;
}

function hasAllLabels(labels: string[]): SQL | undefined {
  if (labels.length === 0) return undefined;
  return and(
    ...labels.map(
      (label) => sql`exists (select 1 from ${taskLabels} where ${taskLabels.taskId} = ${tasks.id} and ${taskLabels.label} = ${label})`,
    ),
  );
}

/**
 * The id of the best task for the request: highest priority, then oldest. Open tasks and
 * lapsed claims are searched apart, so each walks its own index (tasks_queue_idx from the top
 * priority down; tasks_account_lease_idx over the few lapsed leases) instead of sorting the account.
 */
function bestTaskId(db: Db, req: ClaimNextRequest, nowIso: string): SQL {
  const filters = and(
    mayTake(req.claimer),
    req.projectId === null ? undefined : eq(tasks.projectId, req.projectId),
    hasAllLabels(req.labels),
  );
  const best = (state: SQL) =>
    db
      .select({ id: tasks.id, priority: tasks.priority, createdAt: tasks.createdAt })
      .from(tasks)
      .where(and(filters, state))
      .orderBy(desc(tasks.priority), asc(tasks.createdAt), asc(tasks.id))
      .limit(writtenLimit(1));
  return sql`(select "id" from (select * from ${best(openNow(nowIso))} union all select * from ${best(lapsedNow(nowIso))}) order by "priority" desc, "created_at" asc, "id" asc limit 1)`;
}

/** The time values a claim writes, computed before any SQL is built (see claimNextQueries). */
interface ClaimTimes {
  nowIso: string;
  nowMs: number;
  leaseIso: string;
  runId: string;
}

const claimTimes = (now: number, leaseSeconds: number, runId = newId('run', now)): ClaimTimes => ({
  nowIso: isoSeconds(now),
  nowMs: now,
  leaseIso: isoSeconds(now + leaseSeconds * 1000),
  runId,
});

function claimFields(c: Claimer, t: ClaimTimes) {
  return {
    status: 'claimed' as const,
    claimedByAgentId: c.agentId,
    claimedAt: t.nowIso,
    leaseExpiresAt: t.leaseIso,
    lastHeartbeatAt: t.nowIso,
    sessionState: 'working' as const,
    stateDetail: null,
    updatedAt: t.nowIso,
  };
}

/** A subquery of task ids; drizzle renders it in parentheses. */
type TaskIds = SQLWrapper;

/** Ends the open runs of claims whose lease ran out (tasks chosen by `taskIds`), at the moment each ran out. */
function closeExpiredRuns(db: Db, taskIds: TaskIds) {
  const leaseEnd = sql`(select ${tasks.leaseExpiresAt} from ${tasks} where ${tasks.id} = ${runs.taskId})`;
  return db
    .update(runs)
    .set({
      endedAt: sql`coalesce(${leaseEnd}, ${runs.claimedAt})`,
      outcome: 'expired',
      durationMs: sql`max(0, coalesce(unixepoch(${leaseEnd}) * 1000, ${runs.claimedAtMs}) - ${runs.claimedAtMs})`,
    })
    .where(and(sql`${runs.taskId} in ${taskIds}`, isNull(runs.endedAt)));
}

interface RunOpening {
  /** The condition on tasks that picks the task. */
  which: SQL;
  times: ClaimTimes;
}

/** Opens the run of a claim session on the task `which` picks (a condition on tasks). */
function openRun(db: Db, c: Claimer, { which, times }: RunOpening) {
  return db.insert(runs).select(
    db
      .select({
        id: sql`${times.runId}`.as('id'),
        accountId: tasks.accountId,
        agentId: sql`${c.agentId}`.as('agent_id'),
        taskId: tasks.id,
        claimedAt: sql`${times.nowIso}`.as('claimed_at'),
        claimedAtMs: sql`${times.nowMs}`.as('claimed_at_ms'),
        endedAt: sql`null`.as('ended_at'),
        outcome: sql`null`.as('outcome'),
        durationMs: sql`null`.as('duration_ms'),
      })
      .from(tasks)
      .where(which)
      .limit(writtenLimit(1)),
  );
}

/** Claims whose lease ran out by `nowIso` (whatever the alarm has not swept yet). */
const runOutIn = (accountId: string, nowIso: string) =>
  and(eq(tasks.accountId, accountId), isNotNull(tasks.claimedByAgentId), leaseRunOut(nowIso))!;

/**
 * The task this claim has just taken, found by what the claim wrote: the claimer, claimed_at
 * and lease it set, and no run open yet. A claim earlier in the same batch by the same agent
 * (same times) already has its run, so each claim finds its own task and nothing else.
 */
function justClaimedBy(c: Claimer, t: ClaimTimes): SQL {
  return and(
    eq(tasks.accountId, c.accountId),
    eq(tasks.claimedByAgentId, c.agentId),
    eq(tasks.claimedAt, t.nowIso),
    eq(tasks.leaseExpiresAt, t.leaseIso),
    sql`not exists (select 1 from ${runs} where ${runs.taskId} = ${tasks.id} and ${runs.endedAt} is null)`,
  )!;
}

/** Where the claimed row is among the results of a claim-next batch. */
export const CLAIMED_RESULT = 1;
/**
 * A claim-next batch leads with this many statements that depend only on the account and the
 * moment (the sweep of lapsed runs): claims batched together at one moment may run them once.
 */
export const CLAIM_SWEEP_STATEMENTS = 1;

/** The batch for "give me the best claimable task". Its result CLAIMED_RESULT is the claimed row, if any. */
export function claimNextStatements(db: Db, req: ClaimNextRequest, now: number) {
  return buildClaimNext(db, req, claimTimes(now, req.leaseSeconds));
}

/**
 * The best task is searched once, by the claiming UPDATE. Around it:
 * - before: the runs of lapsed claims in the account are ended as expired, at the moment their
 *   lease ran out, while the lease is still on the task (the alarm would do the same a moment
 *   later; a lapsed claim has ended whether or not this claim takes its task);
 * - after: the new run opens on the task the UPDATE just claimed, found by what it wrote.
 */
function buildClaimNext(db: Db, req: ClaimNextRequest, t: ClaimTimes) {
  const best = bestTaskId(db, req, t.nowIso);
  return [
    closeExpiredRuns(db, db.select({ id: tasks.id }).from(tasks).where(runOutIn(req.claimer.accountId, t.nowIso))),
    db
      .update(tasks)
      .set(claimFields(req.claimer, t))
      .where(and(sql`${tasks.id} = ${best}`, claimableBy(req.claimer, t.nowIso)))
      .returning(taskFieldColumns),
    openRun(db, req.claimer, { which: justClaimedBy(req.claimer, t), times: t }),
  ] as const;
}

export type { RawQuery } from '../db/sql-batch';

const mark = (name: string) => `\u0000claim:${name}\u0000`;
/** Few shapes exist (labels are capped), so all stay kept. */
const renderedClaims = new RenderedSql<RawQuery[]>(256);

export interface ClaimQueryOptions {
  now: number;
  /** The run the claim opens. */
  runId?: string;
}

/**
 * claimNextStatements rendered to SQL, once per shape (how many labels, whether a project and
 * a sandbox apply): rendering the three statements with drizzle costs more than D1 takes to run
 * them, and every claim of an account goes through its one Durable Object. The shape is rendered
 * with a marker in place of each value; a claim swaps its values in for the markers.
 */
export function claimNextQueries(db: Db, req: ClaimNextRequest, { now, runId }: ClaimQueryOptions): RawQuery[] {
  const c = req.claimer;
  const shape = `${req.labels.length}|${req.projectId === null}|${c.sandboxProjectId === null}`;
  const rendered = renderedClaims.get(shape, () => {
    const marked: ClaimNextRequest = {
      ...req,
      claimer: {
        accountId: mark('accountId'),
        agentId: mark('agentId'),
        sandboxProjectId: c.sandboxProjectId === null ? null : mark('sandbox'),
      },
      labels: req.labels.map((_, i) => mark(`label${i}`)),
      projectId: req.projectId === null ? null : mark('project'),
    };
    const times = { nowIso: mark('nowIso'), nowMs: mark('nowMs') as unknown as number, leaseIso: mark('leaseIso'), runId: mark('runId') };
    return buildClaimNext(db, marked, times).map((s) => toRawQuery(s));
  });
  const t = claimTimes(now, req.leaseSeconds, runId);
  const values = new Map<unknown, unknown>([
    [mark('accountId'), c.accountId],
    [mark('agentId'), c.agentId],
    [mark('sandbox'), c.sandboxProjectId],
    [mark('project'), req.projectId],
    [mark('nowIso'), t.nowIso],
    [mark('nowMs'), t.nowMs],
    [mark('leaseIso'), t.leaseIso],
    [mark('runId'), t.runId],
    ...req.labels.map((label, i) => [mark(`label${i}`), label] as const),
  ]);
  return rendered.map((q) => ({ sql: q.sql, params: q.params.map((p) => (values.has(p) ? values.get(p) : p)) }));
}

/**
 * The batch for a targeted claim. A task the caller already holds live is only extended (same
 * run, same claimed_at); one whose lease ran out is taken over with a new run.
 */
export function claimTaskStatements(db: Db, req: ClaimTaskRequest, { now, runId }: ClaimQueryOptions) {
  const c = req.claimer;
  const nowIso = isoSeconds(now);
  const isTarget = and(eq(tasks.id, req.taskId), eq(tasks.accountId, c.accountId));
  const ownLive = and(
    isTarget,
    eq(tasks.claimedByAgentId, c.agentId),
    sql`${tasks.leaseExpiresAt} > ${nowIso}`,
    eq(tasks.completed, false),
  );
  const claimable = and(isTarget, claimableBy(c, nowIso))!;
  const times = claimTimes(now, req.leaseSeconds, runId);
  const fresh = claimFields(c, times);
  // Extending one's own live claim keeps its start and session state.
  const keepIfOwn = (column: AnySQLiteColumn, value: string | null) =>
    sql`case when ${tasks.claimedByAgentId} = ${c.agentId} and ${tasks.leaseExpiresAt} > ${nowIso} then ${column} else ${value} end`;
  return [
    closeExpiredRuns(
      db,
      db
        .select({ id: tasks.id })
        .from(tasks)
        .where(and(claimable, isNotNull(tasks.claimedByAgentId))),
    ),
    openRun(db, c, { which: claimable, times }),
    db
      .update(tasks)
      .set({
        ...fresh,
        claimedAt: keepIfOwn(tasks.claimedAt, fresh.claimedAt),
        sessionState: keepIfOwn(tasks.sessionState, fresh.sessionState),
        stateDetail: keepIfOwn(tasks.stateDetail, null),
      })
      .where(or(claimable, ownLive))
      .returning(taskFieldColumns),
  ] as const;
}

/**
 * For a claim whose batch failed and may still have committed (the answer was lost, not the
 * write): per statement of the claim, a query that reads again what it returned, or null. Every
 * claim opens a run under its own new id, so a claim landed exactly when its run exists; the
 * first query is that check.
 */
export function claimLandedQueries(db: Db, kind: 'next' | 'task', runId: string): (RawQuery | null)[] {
  const run = toRawQuery(db.select({ id: runs.id }).from(runs).where(eq(runs.id, runId)));
  const task = toRawQuery(
    db.select(taskFieldColumns).from(tasks).where(sql`${tasks.id} = (select ${runs.taskId} from ${runs} where ${runs.id} = ${runId})`),
  );
  // claimNextQueries: sweep, UPDATE (the task), run; claimTaskStatements: sweep, run, UPDATE.
  return kind === 'next' ? [null, task, null] : [null, run, task];
}

/** Records the claim's event in its batch, exactly when the claim landed (its run exists); appended after the claim's statements. */
export function claimEventQueries(event: PlannedEvent | undefined, runId: string, now: number): RawQuery[] {
  const insert =
    event &&
    outboxInsert([event], {
      now,
      when: sql`exists (select 1 from ${runs} where ${runs.id} = ${runId})`,
      taskId: sql`(select ${runs.taskId} from ${runs} where ${runs.id} = ${runId})`,
    });
  return insert ? [toRawQuery(insert)] : [];
}

export interface ClaimEventPlan {
  listeners: Listeners;
  change: 'queue.claim' | 'queue.claim_next';
  now: number;
}

/** The claim event a principal's claim records (none when its account has no listeners). */
export function plannedClaimEvent(p: Principal, { listeners, change, now }: ClaimEventPlan): PlannedEvent | undefined {
  return planEvents({
    accountId: p.accountId,
    agentId: p.agentId,
    taskId: '',
    events: eventsOf(change, { new_claim: true }),
    listeners,
    now,
  })[0];
}

/** Why a targeted claim did not take the task: 404 for what the caller may not know of, else the 409. */
export function claimRefusal(p: Principal, row: TaskRow | undefined, now: number): ApiError {
  if (!row || row.accountId !== p.accountId) return taskNotFound();
  const inQueue = row.assignedToAgentId === null && !row.completed;
  // Restricted keys know only their own sandbox tasks; others also know the open queue.
  if (!canSee(p, row) && (p.mode === 'restricted' || !inQueue)) return taskNotFound();
  if (row.completed) return conflict('TASK_COMPLETED', 'This task is completed; uncomplete it before claiming');
  if (row.assignedToAgentId !== null && row.assignedToAgentId !== p.agentId) {
    return conflict('TASK_ASSIGNED_ELSEWHERE', 'This task is assigned to another agent; only its assignee can claim it');
  }
  if (row.status === 'delegated') return conflict('TASK_DELEGATED', 'This task was delegated; claim its child tasks instead');
  if (hasLiveClaim(row, now)) {
    return conflict('TASK_ALREADY_CLAIMED', `Another agent holds a live claim on this task until ${row.leaseExpiresAt}`, {
      lease_expires_at: row.leaseExpiresAt,
    });
  }
  return conflict('TASK_CLAIM_CONFLICT', 'The task changed while it was being claimed; try again');
}

const noLiveClaim = (id: string) =>
  conflict('NO_LIVE_CLAIM', `You hold no live claim on this task; claim it again with POST /v1/tasks/${id}/claim`);

/** 404 if the caller may not see the task, else the 409 for holding no live claim. */
async function refuseWithoutClaim(db: Db, p: Principal, id: string): Promise<never> {
  const row = await readTask(db, p.accountId, id);
  if (!row || !canSee(p, row)) throw taskNotFound();
  throw noLiveClaim(id);
}

const heldLiveBy = (p: Principal, id: string, nowIso: string) =>
  and(
    eq(tasks.id, id),
    eq(tasks.accountId, p.accountId),
    eq(tasks.claimedByAgentId, p.agentId),
    sql`${tasks.leaseExpiresAt} > ${nowIso}`,
    eq(tasks.completed, false),
  )!;

export interface HeartbeatInput {
  lease_seconds?: number | null;
  state?: SessionState | null;
  detail?: string | null;
}

export interface ClaimWrite {
  row: TaskRow;
  /** The row just before the write (for events: did the state change? was the lease shortened?). */
  before: Pick<TaskRow, 'sessionState' | 'leaseExpiresAt' | 'claimedByAgentId'>;
  /** The events it recorded (a heartbeat or state report that changed nothing records none). */
  events: PlannedEvent[];
}

interface StateEventPlan {
  taskId: string;
  /** The condition of the write the event goes with. */
  where: SQL;
  input: { state?: SessionState | null; detail?: string | null };
  change: 'queue.heartbeat' | 'queue.state';
  listeners: Listeners | undefined;
  now: number;
}

/**
 * The task.state_changed event of a heartbeat or state report, recorded before the write in its
 * batch when the write will land and change the state (or set its detail).
 */
function stateEvent(p: Principal, { taskId, where, input, change, listeners, now }: StateEventPlan) {
  const events =
    listeners && input.state
      ? planEvents({
          accountId: p.accountId,
          agentId: p.agentId,
          taskId: taskId,
          events: eventsOf(change, { state_changed: true }),
          listeners,
          now,
        })
      : [];
  const changes = input.detail !== undefined ? sql`1` : sql`${tasks.sessionState} is not ${input.state ?? null}`;
  // Without events it inserts nothing (a statement in the batch keeps its shape the same).
  const insert =
    outboxInsert(events, { now, when: sql`exists (select 1 from ${tasks} where ${where} and ${changes})` }) ?? sql`select 1 where 0`;
  return { events, statement: insert };
}

const BEFORE_COLUMNS = {
  sessionState: 'session_state',
  leaseExpiresAt: 'lease_expires_at',
  claimedByAgentId: 'claimed_by_agent_id',
} as const;

/**
 * A claim write's batch with raw statements (the event's insert among them): answers, by
 * position, the rows of the "before" select as ClaimWrite['before'] and a `returning *` as task rows.
 */
async function claimWriteBatch(db: Db, statements: (SQL | SQLWrapper)[]): Promise<(TaskRow[] & ClaimWrite['before'][])[]> {
  const results = await sqlBatch(db, statements);
  return results.map(
    (rows) =>
      rows.map((raw) =>
        'content' in raw
          ? taskFromRaw(raw)
          : {
              sessionState: raw[BEFORE_COLUMNS.sessionState],
              leaseExpiresAt: raw[BEFORE_COLUMNS.leaseExpiresAt],
              claimedByAgentId: raw[BEFORE_COLUMNS.claimedByAgentId],
            },
      ) as TaskRow[] & ClaimWrite['before'][],
  );
}

export interface HeartbeatOptions {
  taskId: string;
  input: HeartbeatInput;
  now: number;
  /** Record the write's event for these listeners (none when omitted). */
  listeners?: Listeners;
}

/** Extends the caller's live lease from now; optionally reports the session state. */
export async function heartbeat(db: Db, p: Principal, { taskId, input, now, listeners }: HeartbeatOptions): Promise<ClaimWrite> {
  const nowIso = isoSeconds(now);
  const where = heldLiveBy(p, taskId, nowIso);
  const recording = stateEvent(p, { taskId: taskId, where, input, change: 'queue.heartbeat', listeners, now });
  // The event's insert goes first: its condition reads the state before the write.
  const [, before, updated] = await claimWriteBatch(db, [
    recording.statement,
    db
      .select({ sessionState: tasks.sessionState, leaseExpiresAt: tasks.leaseExpiresAt, claimedByAgentId: tasks.claimedByAgentId })
      .from(tasks)
      .where(where),
    db
      .update(tasks)
      .set({
        leaseExpiresAt: isoSeconds(now + (input.lease_seconds ?? LEASE_SECONDS.default) * 1000),
        lastHeartbeatAt: nowIso,
        updatedAt: nowIso,
        ...(input.state ? { sessionState: input.state } : {}),
        ...(input.detail !== undefined ? { stateDetail: input.detail } : {}),
      })
      .where(where)
      .returning(),
  ]);
  if (!updated?.[0] || !before?.[0]) return refuseWithoutClaim(db, p, taskId);
  return { row: updated[0], before: before[0], events: recording.events };
}

export interface SetSessionStateOptions {
  taskId: string;
  input: { state: SessionState; detail?: string | null };
  now: number;
  /** Record the write's event for these listeners (none when omitted). */
  listeners?: Listeners;
}

/** Sets the session state of the caller's live claim, leaving the lease as it is. */
export async function setSessionState(
  db: Db,
  p: Principal,
  { taskId, input, now, listeners }: SetSessionStateOptions,
): Promise<ClaimWrite> {
  const nowIso = isoSeconds(now);
  const where = heldLiveBy(p, taskId, nowIso);
  const recording = stateEvent(p, { taskId: taskId, where, input, change: 'queue.state', listeners, now });
  const [, before, updated] = await claimWriteBatch(db, [
    recording.statement,
    db
      .select({ sessionState: tasks.sessionState, leaseExpiresAt: tasks.leaseExpiresAt, claimedByAgentId: tasks.claimedByAgentId })
      .from(tasks)
      .where(where),
    db
      .update(tasks)
      .set({ sessionState: input.state, updatedAt: nowIso, ...(input.detail !== undefined ? { stateDetail: input.detail } : {}) })
      .where(where)
      .returning(),
  ]);
  if (!updated?.[0] || !before?.[0]) return refuseWithoutClaim(db, p, taskId);
  return { row: updated[0], before: before[0], events: recording.events };
}

/** The columns of a task whose claim ended without completing it: no claim, and open again if it was claimed. */
const backInQueue = (nowIso: string) => ({
  ...NO_CLAIM,
  status: sql`case when ${tasks.status} = 'claimed' then 'open' else ${tasks.status} end`,
  updatedAt: nowIso,
});

export interface ReleaseOptions {
  taskId: string;
  input: { handoff?: string | null };
  now: number;
  /** Record the write's event for these listeners (none when omitted). */
  listeners?: Listeners;
}

/**
 * Ends the live claim and returns the task to the queue at once. The holder may release;
 * admins may release anyone's claim (e.g. a stuck agent's).
 */
export async function release(db: Db, p: Principal, { taskId, input, now, listeners }: ReleaseOptions): Promise<ClaimWrite> {
  const nowIso = isoSeconds(now);
  const isAdmin = p.role === 'admin' && p.mode !== 'restricted';
  const where = and(
    eq(tasks.id, taskId),
    eq(tasks.accountId, p.accountId),
    isAdmin ? isNotNull(tasks.claimedByAgentId) : eq(tasks.claimedByAgentId, p.agentId),
    sql`${tasks.leaseExpiresAt} > ${nowIso}`,
    eq(tasks.completed, false),
  )!;
  const events = listeners
    ? planEvents({
        accountId: p.accountId,
        agentId: p.agentId,
        taskId: taskId,
        events: eventsOf('queue.release'),
        listeners: listeners,
        now,
      })
    : [];
  const record = outboxInsert(events, { now, when: sql`exists (select 1 from ${tasks} where ${where})` }) ?? sql`select 1 where 0`;
  const [, before, , updated] = await claimWriteBatch(db, [
    record,
    db
      .select({ sessionState: tasks.sessionState, leaseExpiresAt: tasks.leaseExpiresAt, claimedByAgentId: tasks.claimedByAgentId })
      .from(tasks)
      .where(where),
    endOpenRun(db, { taskId: taskId, outcome: 'released', now, onlyIf: sql`exists (select 1 from ${tasks} where ${where})` }),
    db
      .update(tasks)
      .set({
        ...backInQueue(nowIso),
        // Without a note, the holder's last state detail is what the next claimer resumes from.
        handoffNote: input.handoff !== undefined ? input.handoff : sql`${tasks.stateDetail}`,
        handoffByAgentId: sql`${tasks.claimedByAgentId}`,
        handoffState: sql`${tasks.sessionState}`,
      })
      .where(where)
      .returning(),
  ]);
  if (!updated?.[0] || !before?.[0]) return refuseWithoutClaim(db, p, taskId);
  return { row: updated[0], before: before[0], events };
}

export interface AbandonedClaim {
  taskId: string;
  /** When the claim being abandoned began. */
  claimedAt: string;
  now: number;
}

/**
 * Gives back a claim whose claimer left before it received the task (a long-poll whose client
 * disconnected): only that very claim (same agent, same claimed_at, still live, not completed),
 * with its run ended as released. Answers the task if it was given back.
 */
export async function abandonClaim(db: Db, c: Claimer, { taskId, claimedAt, now }: AbandonedClaim): Promise<SystemRelease | null> {
  const nowIso = isoSeconds(now);
  const where = and(
    eq(tasks.id, taskId),
    eq(tasks.accountId, c.accountId),
    eq(tasks.claimedByAgentId, c.agentId),
    eq(tasks.claimedAt, claimedAt),
    sql`${tasks.leaseExpiresAt} > ${nowIso}`,
    eq(tasks.completed, false),
  )!;
  // The system's task.released, recorded before the write while the claim still matches.
  const [released, , updated] = await sqlBatch(db, [
    outboxInsertPerTask('task.released', sql`select ${tasks.id} as id, ${tasks.accountId} as account_id from ${tasks} where ${where}`, now),
    endOpenRun(db, { taskId, outcome: 'released', now, onlyIf: sql`exists (select 1 from ${tasks} where ${where})` }),
    db.update(tasks).set(backInQueue(nowIso)).where(where).returning(),
  ]);
  const row = updated![0];
  return row ? { row: taskFromRaw(row), events: eventIdsOf(released!) } : null;
}

export interface SystemRelease {
  row: TaskRow;
  /** Recorded task.released events (when the account has listeners): outbox id per task id. */
  events: Map<string, string>;
}

/** The ids `outboxInsertPerTask` answered, by task. */
function eventIdsOf(rows: Record<string, unknown>[]): Map<string, string> {
  return new Map(rows.map((r) => [String(r.task_id), String(r.id)]));
}

/**
 * Returns every task of the account whose lease ran out by `now` to the queue and records
 * the runs as expired. Also answers the earliest lease still live, for the next alarm.
 */
export async function expireLeases(
  db: Db,
  accountId: string,
  now: number,
): Promise<{ expired: TaskRow[]; events: Map<string, string>; nextLeaseAt: number | null }> {
  const nowIso = isoSeconds(now);
  const runOut = runOutIn(accountId, nowIso);
  const [, released, expired, next] = await sqlBatch(db, [
    closeExpiredRuns(db, db.select({ id: tasks.id }).from(tasks).where(runOut)),
    // The system's task.released per expired task, recorded before the write while the leases still match.
    outboxInsertPerTask(
      'task.released',
      sql`select ${tasks.id} as id, ${tasks.accountId} as account_id from ${tasks} where ${runOut}`,
      now,
    ),
    db.update(tasks).set(backInQueue(nowIso)).where(runOut).returning(),
    db
      .select({ at: tasks.leaseExpiresAt })
      .from(tasks)
      .where(and(eq(tasks.accountId, accountId), isNotNull(tasks.leaseExpiresAt), isNotNull(tasks.claimedByAgentId)))
      .orderBy(asc(tasks.leaseExpiresAt))
      .limit(writtenLimit(1)),
  ]);
  const at = next![0]?.lease_expires_at as string | null | undefined;
  return { expired: expired!.map(taskFromRaw), events: eventIdsOf(released!), nextLeaseAt: at ? Date.parse(at) : null };
}
