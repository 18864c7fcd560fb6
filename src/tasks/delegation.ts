/**
 * Delegation: a task hands part of its work to a new child task. The parent becomes
 * `delegated`, the child inherits the parent's accountable agent, root and project, and the
 * depth is capped. A child is always a new row, so the tree can never contain a cycle.
 * Chains are one indexed read: every task carries its root and depth.
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { tasks } from '../db/schema';
import { ApiError } from '../platform/errors';
import { isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { assertCanRead, assertCanWrite, canSee } from './task-access';
import { sqlBatch } from '../db/sql-batch';
import { taskJson, type TaskRow } from './task-json';
import {
  checkReferences,
  countCreated,
  insertTaskGuarded,
  newTaskRow,
  newTaskEvents,
  quotaExceeded,
  readForWrite,
  recordIf,
  taskCompleted,
  taskExists,
  taskFromRaw,
  type NewTaskInput,
} from './tasks';
import { recorded, type Listeners, type RecordedEvent } from '../events/outbox';

export interface DelegateResult {
  parent: TaskRow;
  child: TaskRow;
  events: RecordedEvent[];
}

export interface DelegateTaskOptions {
  parentId: string;
  input: NewTaskInput;
  limits: { quota: number; maxDepth: number };
  now: number;
  listeners?: Listeners;
}

export async function delegateTask(
  db: Db,
  p: Principal,
  { parentId, input, limits, now, listeners }: DelegateTaskOptions,
): Promise<DelegateResult> {
  const found = await readForWrite(db, p, { taskId: parentId, input, now, withUsage: true });
  const parent = found.task;
  assertCanWrite(p, parent, { op: 'tasks.delegate', now });
  if (parent.completed) throw taskCompleted();
  if (parent.depth + 1 > limits.maxDepth) {
    throw new ApiError({
      status: 422,
      code: 'DELEGATION_TOO_DEEP',
      message: `Delegation chains are at most ${limits.maxDepth} levels deep; this task is already at depth ${parent.depth}`,
    });
  }
  checkReferences(p, input, found);
  if (found.used >= limits.quota) throw quotaExceeded(limits.quota, now);
  const child = newTaskRow(p, { input, now, parent });
  const ts = isoSeconds(now);
  const events = newTaskEvents(p, { change: 'tasks.delegate', row: child, listeners, now });
  const parentOpen = sql`exists (select 1 from ${tasks} where ${tasks.id} = ${parent.id} and ${tasks.completed} = 0)`;
  const [inserted, , updatedParent] = await sqlBatch(db, [
    insertTaskGuarded(child, { quota: limits.quota, now, guards: [parentOpen] }),
    countCreated(p.accountId, child.id, now),
    db
      .update(tasks)
      .set({ status: 'delegated', updatedAt: ts })
      .where(and(eq(tasks.id, parent.id), eq(tasks.completed, false), sql`exists (select 1 from ${tasks} c where c.id = ${child.id})`))
      .returning(),
    ...recordIf(events, now, taskExists(child.id)),
  ]);
  if (inserted!.length === 0) {
    if (!updatedParent![0]) throw taskCompleted();
    throw quotaExceeded(limits.quota, now);
  }
  return { parent: updatedParent![0] ? taskFromRaw(updatedParent![0]) : parent, child, events: recorded(events, taskJson(child, now)) };
}

export interface Chain {
  rootId: string;
  rows: TaskRow[];
}

/** The whole delegation tree of the task, root first, by depth; members the caller cannot see are left out. */
export async function taskChain(db: Db, p: Principal, id: string): Promise<Chain> {
  const rows = await db
    .select()
    .from(tasks)
    .where(
      and(
        eq(tasks.accountId, p.accountId),
        sql`${tasks.rootTaskId} = (select t.root_task_id from ${tasks} t where t.id = ${id} and t.account_id = ${p.accountId})`,
      ),
    )
    .orderBy(asc(tasks.depth), asc(tasks.createdAt), asc(tasks.id));
  const target = rows.find((r) => r.id === id);
  assertCanRead(p, target);
  return { rootId: target.rootTaskId, rows: rows.filter((r) => canSee(p, r)) };
}

export async function taskChildren(db: Db, p: Principal, id: string): Promise<TaskRow[]> {
  const [target, children] = await db.batch([
    db
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, id), eq(tasks.accountId, p.accountId))),
    db
      .select()
      .from(tasks)
      .where(and(eq(tasks.parentTaskId, id), eq(tasks.accountId, p.accountId)))
      .orderBy(asc(tasks.createdAt), asc(tasks.id)),
  ]);
  assertCanRead(p, target[0]);
  return children.filter((r) => canSee(p, r));
}
