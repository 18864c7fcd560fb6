/**
 * Who may see and who may change a task. Visibility is a SQL condition (so lists never read
 * rows the caller cannot see, and every branch is an index prefix); ownership is checked on
 * the row. Invisible tasks are 404, never 403: no existence leaks.
 */
import { and, eq, or, sql, type SQL } from 'drizzle-orm';
import { tasks } from '../db/schema';
import { ApiError, notFound } from '../platform/errors';
import { STANDINGS, standingFor, standsOn, type Operation, type Principal, type Relation } from '../access/policy';
import { isoSeconds } from '../platform/time';
import { hasLiveClaim, type TaskRow } from './task-json';

export const taskNotFound = () => notFound('task');

/** Everything `visibleTasks` reads of the principal: part of the key of a statement kept after rendering. */
export const visibilityKey = (p: Principal) => [p.accountId, p.agentId, p.role, p.mode, p.sandboxProjectId];

/** The WHERE condition for the tasks `p` may see. */
export function visibleTasks(p: Principal): SQL {
  const inAccount = eq(tasks.accountId, p.accountId);
  if (p.mode === 'restricted') {
    return and(inAccount, eq(tasks.createdByAgentId, p.agentId), eq(tasks.projectId, p.sandboxProjectId ?? '∅'))!;
  }
  if (p.role === 'worker') {
    return and(
      inAccount,
      or(
        eq(tasks.createdByAgentId, p.agentId),
        eq(tasks.assignedToAgentId, p.agentId),
        eq(tasks.claimedByAgentId, p.agentId),
        eq(tasks.completedByAgentId, p.agentId),
      ),
    )!;
  }
  return inAccount;
}

/** The same rule on a row already read (e.g. one fetched by id). */
export function canSee(p: Principal, row: TaskRow): boolean {
  if (row.accountId !== p.accountId) return false;
  if (p.mode === 'restricted') return row.createdByAgentId === p.agentId && row.projectId === p.sandboxProjectId;
  if (p.role === 'worker') {
    return [row.createdByAgentId, row.assignedToAgentId, row.claimedByAgentId, row.completedByAgentId].includes(p.agentId);
  }
  return true;
}

export interface WriteCheck {
  op: Operation;
  now: number;
}

/** Whether `p` has the standing on `row` that `op` needs (the table in policy.ts decides which relations give it). */
export function standsFor(
  p: Principal,
  row: Pick<TaskRow, 'createdByAgentId' | 'assignedToAgentId' | 'claimedByAgentId' | 'leaseExpiresAt'>,
  { op, now }: WriteCheck,
): boolean {
  return standsOn(p, op, {
    creator: row.createdByAgentId === p.agentId,
    assignee: row.assignedToAgentId === p.agentId,
    live_claim: row.claimedByAgentId === p.agentId && hasLiveClaim(row, now),
  });
}

export interface WritableCondition {
  op: Operation;
  now: number;
  /** The task table's alias in the statement. */
  taskAlias: string;
}

/**
 * `canSee && standsFor` as a SQL condition on the task row aliased `t`, so a write can check
 * access inside its own statement (one round trip); a refused write then reads the row to say why.
 */
export function writableBy(p: Principal, { op, now, taskAlias }: WritableCondition): SQL {
  const a = sql.raw(taskAlias);
  const inAccount = sql`${a}.account_id = ${p.accountId}`;
  const standing = STANDINGS[standingFor(op) ?? 'owner'];
  const relations: Partial<Record<Relation, SQL>> = {
    creator: sql`${a}.created_by_agent_id = ${p.agentId}`,
    assignee: sql`${a}.assigned_to_agent_id = ${p.agentId}`,
    live_claim: sql`(${a}.claimed_by_agent_id = ${p.agentId} and ${a}.lease_expires_at > ${isoSeconds(now)})`,
  };
  const stands = sql`(${sql.join(
    (standing.relations as readonly Relation[]).map((r) => relations[r]!),
    sql` or `,
  )})`;
  if (p.mode === 'restricted') {
    return sql`(${inAccount} and ${a}.created_by_agent_id = ${p.agentId} and ${a}.project_id = ${p.sandboxProjectId ?? '∅'} and ${stands})`;
  }
  if (standing.adminAlways && p.role === 'admin') return inAccount;
  return sql`(${inAccount} and ${stands})`;
}

/** 404 unless visible, then 403 with the way to get the standing `op` needs. */
export function assertCanWrite(p: Principal, row: TaskRow | undefined, { op, now }: WriteCheck): asserts row is TaskRow {
  if (!row || !canSee(p, row)) throw taskNotFound();
  if (standsFor(p, row, { op, now })) return;
  const claimed = row.claimedByAgentId === p.agentId && hasLiveClaim(row, now);
  throw new ApiError({
    status: 403,
    code: 'TASK_NOT_OWNED',
    message: claimed
      ? `Your claim lets you work this task (heartbeat, state, context, subtasks, links, comments, complete, release), not ${op === 'tasks.delete' ? 'delete it' : 'change it this way'}: only ${STANDINGS.owner.describe}.`
      : `You can read this task but may not change it. Claim it with POST /v1/tasks/${row.id}/claim, or have it assigned to you.`,
  });
}

export function assertCanRead(p: Principal, row: TaskRow | undefined): asserts row is TaskRow {
  if (!row || !canSee(p, row)) throw taskNotFound();
}
