/**
 * Comments on a task. Anyone who can see a task may read and add comments, completed tasks
 * included; a comment is deleted by its author or an admin.
 */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { comments, tasks } from '../db/schema';
import { notFound } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { authorizeOn, type Principal } from '../access/policy';
import { assertCanRead } from './task-access';
import { taskJson, type TaskRow } from './task-json';
import { planTaskEvents, recordIf } from './tasks';
import { sqlBatch } from '../db/sql-batch';
import { eventsOf } from '../events/effects';
import { PREVIOUS_STATEMENT_CHANGED, recorded, type Listeners, type RecordedEvent } from '../events/outbox';
import { writtenLimit } from '../db/written-limit';

export type CommentRow = typeof comments.$inferSelect;

export interface CommentJson {
  id: string;
  task_id: string;
  content: string;
  author: string | null;
  agent_id: string | null;
  created_at: string;
}

export const commentJson = (r: CommentRow): CommentJson => ({
  id: r.id,
  task_id: r.taskId,
  content: r.content,
  author: r.author,
  agent_id: r.agentId,
  created_at: r.createdAt,
});

const taskQuery = (db: Db, p: Principal, taskId: string) =>
  db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId)));

export interface ListCommentsOptions {
  taskId: string;
  page: { limit: number; offset: number };
}

export async function listComments(db: Db, p: Principal, { taskId, page }: ListCommentsOptions): Promise<CommentJson[]> {
  const [task, rows] = await db.batch([
    taskQuery(db, p, taskId),
    db
      .select()
      .from(comments)
      .where(and(eq(comments.taskId, taskId), eq(comments.accountId, p.accountId)))
      .orderBy(asc(comments.createdAt), asc(comments.id))
      .limit(writtenLimit(page.limit))
      .offset(page.offset),
  ]);
  assertCanRead(p, task[0]);
  return rows.map(commentJson);
}

export interface AddCommentOptions {
  taskId: string;
  input: { content: string; author?: string | null };
  now: number;
  listeners?: Listeners;
}

export async function addComment(
  db: Db,
  p: Principal,
  { taskId, input, now, listeners }: AddCommentOptions,
): Promise<{ task: TaskRow; comment: CommentJson; events: RecordedEvent[] }> {
  const task = await taskQuery(db, p, taskId).get();
  assertCanRead(p, task);
  const row: CommentRow = {
    id: newId('cmt', now),
    taskId,
    accountId: p.accountId,
    agentId: p.agentId,
    // The display name defaults to the agent's slug; `author` overrides it (e.g. a human relayed by the agent).
    author: input.author ?? p.agentName,
    content: input.content,
    createdAt: isoSeconds(now),
  };
  const events = planTaskEvents(p, { taskId, events: eventsOf('tasks.comments.write'), listeners, now, snapshot: task });
  await sqlBatch(db, [db.insert(comments).values(row), ...recordIf(events, now, PREVIOUS_STATEMENT_CHANGED)]);
  return { task, comment: commentJson(row), events: recorded(events, taskJson(task, now)) };
}

export interface DeleteCommentOptions {
  taskId: string;
  commentId: string;
}

export async function deleteComment(db: Db, p: Principal, { taskId, commentId }: DeleteCommentOptions): Promise<void> {
  const [task, found] = await db.batch([
    taskQuery(db, p, taskId),
    db
      .select()
      .from(comments)
      .where(and(eq(comments.id, commentId), eq(comments.taskId, taskId), eq(comments.accountId, p.accountId))),
  ]);
  assertCanRead(p, task[0]);
  const comment = found[0];
  if (!comment) throw notFound('comment');
  authorizeOn(p, 'tasks.comments.delete', { author: comment.agentId === p.agentId });
  await db.delete(comments).where(and(eq(comments.id, commentId), eq(comments.taskId, taskId)));
}
