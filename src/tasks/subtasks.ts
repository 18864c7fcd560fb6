/**
 * Subtasks: a task's checklist, ordered by sort_order. Reading needs the task to be visible;
 * changing needs the task to be owned and not completed (completed tasks are immutable).
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { subtasks, tasks } from '../db/schema';
import { notFound } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { assertCanRead, assertCanWrite } from './task-access';
import type { TaskRow } from './task-json';
import { taskCompleted } from './tasks';

export type SubtaskRow = typeof subtasks.$inferSelect;

export interface SubtaskJson {
  id: string;
  task_id: string;
  content: string;
  completed: boolean;
  sort_order: number;
  created_at: string;
  updated_at: string;
}

export const subtaskJson = (r: SubtaskRow): SubtaskJson => ({
  id: r.id,
  task_id: r.taskId,
  content: r.content,
  completed: r.completed,
  sort_order: r.sortOrder,
  created_at: r.createdAt,
  updated_at: r.updatedAt,
});

const subtaskNotFound = () => notFound('subtask');

const taskQuery = (db: Db, p: Principal, taskId: string) =>
  db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId)));
interface SubtaskRef {
  taskId: string;
  subtaskId: string;
}

const subtaskQuery = (db: Db, p: Principal, { taskId, subtaskId }: SubtaskRef) =>
  db
    .select()
    .from(subtasks)
    .where(and(eq(subtasks.id, subtaskId), eq(subtasks.taskId, taskId), eq(subtasks.accountId, p.accountId)));

export async function listSubtasks(db: Db, p: Principal, taskId: string): Promise<SubtaskJson[]> {
  return (await taskWithSubtasks(db, p, taskId)).subtasks;
}

/** A task with its checklist, in one round trip (`GET /tasks/{id}` shows both). */
export async function taskWithSubtasks(db: Db, p: Principal, taskId: string): Promise<{ task: TaskRow; subtasks: SubtaskJson[] }> {
  const [task, rows] = await db.batch([
    taskQuery(db, p, taskId),
    db
      .select()
      .from(subtasks)
      .where(and(eq(subtasks.taskId, taskId), eq(subtasks.accountId, p.accountId)))
      .orderBy(asc(subtasks.sortOrder), asc(subtasks.id)),
  ]);
  const row = task[0];
  assertCanRead(p, row);
  return { task: row, subtasks: rows.map(subtaskJson) };
}

function assertWritable(p: Principal, task: TaskRow | undefined, now: number): asserts task is TaskRow {
  assertCanWrite(p, task, { op: 'tasks.subtasks.write', now });
  if (task.completed) throw taskCompleted();
}

export interface SubtaskInput {
  content?: string;
  completed?: boolean;
  sort_order?: number;
}

export interface CreateSubtaskOptions {
  taskId: string;
  input: SubtaskInput & { content: string };
  now: number;
}

export async function createSubtask(db: Db, p: Principal, { taskId, input, now }: CreateSubtaskOptions): Promise<SubtaskJson> {
  const task = await taskQuery(db, p, taskId).get();
  assertWritable(p, task, now);
  const ts = isoSeconds(now);
  const id = newId('stk', now);
  // Appended after the last item unless a position is given.
  const order =
    input.sort_order ?? sql`(select coalesce(max(${subtasks.sortOrder}) + 1, 0) from ${subtasks} where ${subtasks.taskId} = ${taskId})`;
  const row = await db
    .insert(subtasks)
    .values({
      id,
      taskId,
      accountId: p.accountId,
      content: input.content,
      completed: input.completed ?? false,
      sortOrder: order as number,
      createdAt: ts,
      updatedAt: ts,
    })
    .returning()
    .get();
  return subtaskJson(row);
}

interface SubtaskRead {
  taskId: string;
  subtaskId: string;
  now: number;
}

async function readBoth(db: Db, p: Principal, { taskId, subtaskId, now }: SubtaskRead) {
  const [task, sub] = await db.batch([taskQuery(db, p, taskId), subtaskQuery(db, p, { taskId, subtaskId: subtaskId })]);
  assertWritable(p, task[0], now);
  if (!sub[0]) throw subtaskNotFound();
  return sub[0];
}

export interface UpdateSubtaskOptions {
  taskId: string;
  subtaskId: string;
  input: SubtaskInput;
  now: number;
}

export async function updateSubtask(db: Db, p: Principal, { taskId, subtaskId, input, now }: UpdateSubtaskOptions): Promise<SubtaskJson> {
  const current = await readBoth(db, p, { taskId, subtaskId: subtaskId, now });
  const changes: Partial<SubtaskRow> = {};
  if (input.content !== undefined) changes.content = input.content;
  if (input.completed !== undefined) changes.completed = input.completed;
  if (input.sort_order !== undefined) changes.sortOrder = input.sort_order;
  if (Object.keys(changes).length === 0) return subtaskJson(current);
  changes.updatedAt = isoSeconds(now);
  const row = await db
    .update(subtasks)
    .set(changes)
    .where(and(eq(subtasks.id, subtaskId), eq(subtasks.taskId, taskId)))
    .returning()
    .get();
  if (!row) throw subtaskNotFound();
  return subtaskJson(row);
}

export interface SubtaskChange {
  taskId: string;
  subtaskId: string;
  now: number;
}

export async function toggleSubtask(db: Db, p: Principal, { taskId, subtaskId, now }: SubtaskChange): Promise<SubtaskJson> {
  await readBoth(db, p, { taskId, subtaskId: subtaskId, now });
  // Flipped in SQL, so two toggles never both read the same state.
  const row = await db
    .update(subtasks)
    .set({ completed: sql`not ${subtasks.completed}` as unknown as boolean, updatedAt: isoSeconds(now) })
    .where(and(eq(subtasks.id, subtaskId), eq(subtasks.taskId, taskId)))
    .returning()
    .get();
  if (!row) throw subtaskNotFound();
  return subtaskJson(row);
}

export async function deleteSubtask(db: Db, p: Principal, { taskId, subtaskId, now }: SubtaskChange): Promise<void> {
  await readBoth(db, p, { taskId, subtaskId: subtaskId, now });
  await db.delete(subtasks).where(and(eq(subtasks.id, subtaskId), eq(subtasks.taskId, taskId)));
}
