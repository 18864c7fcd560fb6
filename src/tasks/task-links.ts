/**
 * Links from a task to where its work lives: branches, commits, pull requests, URLs. Reading
 * needs the task to be visible; adding and removing need it owned and not completed.
 */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { taskLinks, tasks } from '../db/schema';
import { notFound } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { assertCanRead, assertCanWrite } from './task-access';
import { taskJson, type TaskRow } from './task-json';
import { planTaskEvents, recordIf, taskCompleted } from './tasks';
import { sqlBatch } from '../db/sql-batch';
import { eventsOf } from '../events/effects';
import { PREVIOUS_STATEMENT_CHANGED, recorded, type Listeners, type RecordedEvent } from '../events/outbox';

export const LINK_KINDS = ['branch', 'commit', 'pr', 'url'] as const;
export type LinkRow = typeof taskLinks.$inferSelect;

export interface LinkJson {
  id: string;
  task_id: string;
  kind: (typeof LINK_KINDS)[number];
  repo: string | null;
  ref: string;
  url: string | null;
  created_by_agent_id: string | null;
  created_at: string;
}

export const linkJson = (r: LinkRow): LinkJson => ({
  id: r.id,
  task_id: r.taskId,
  kind: r.kind,
  repo: r.repo,
  ref: r.ref,
  url: r.url,
  created_by_agent_id: r.createdByAgentId,
  created_at: r.createdAt,
});

const taskQuery = (db: Db, p: Principal, taskId: string) =>
  db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId)));

export async function listLinks(db: Db, p: Principal, taskId: string): Promise<LinkJson[]> {
  const [task, rows] = await db.batch([
    taskQuery(db, p, taskId),
    db
      .select()
      .from(taskLinks)
      .where(and(eq(taskLinks.taskId, taskId), eq(taskLinks.accountId, p.accountId)))
      .orderBy(asc(taskLinks.createdAt), asc(taskLinks.id)),
  ]);
  assertCanRead(p, task[0]);
  return rows.map(linkJson);
}

export interface LinkInput {
  kind: LinkJson['kind'];
  repo?: string | null;
  ref: string;
  url?: string | null;
}

export interface AddLinkOptions {
  taskId: string;
  input: LinkInput;
  now: number;
  listeners?: Listeners;
}

export async function addLink(
  db: Db,
  p: Principal,
  { taskId, input, now, listeners }: AddLinkOptions,
): Promise<{ task: TaskRow; link: LinkJson; events: RecordedEvent[] }> {
  const task = await taskQuery(db, p, taskId).get();
  assertCanWrite(p, task, { op: 'tasks.links.write', now });
  if (task.completed) throw taskCompleted();
  const row: LinkRow = {
    id: newId('lnk', now),
    taskId,
    accountId: p.accountId,
    kind: input.kind,
    repo: input.repo ?? null,
    ref: input.ref,
    url: input.url ?? null,
    createdByAgentId: p.agentId,
    createdAt: isoSeconds(now),
  };
  const events = planTaskEvents(p, { taskId, events: eventsOf('tasks.links.write'), listeners, now, snapshot: task });
  await sqlBatch(db, [db.insert(taskLinks).values(row), ...recordIf(events, now, PREVIOUS_STATEMENT_CHANGED)]);
  return { task, link: linkJson(row), events: recorded(events, taskJson(task, now)) };
}

export interface RemoveLinkOptions {
  taskId: string;
  linkId: string;
  now: number;
}

/** Removes one link of the task; a link of another task (or account) is 404. */
export async function removeLink(
  db: Db,
  p: Principal,
  { taskId, linkId, now }: RemoveLinkOptions,
): Promise<{ task: TaskRow; link: LinkJson }> {
  const [task, link] = await db.batch([
    taskQuery(db, p, taskId),
    db
      .select()
      .from(taskLinks)
      .where(and(eq(taskLinks.id, linkId), eq(taskLinks.taskId, taskId), eq(taskLinks.accountId, p.accountId))),
  ]);
  assertCanWrite(p, task[0], { op: 'tasks.links.write', now });
  if (task[0].completed) throw taskCompleted();
  if (!link[0]) throw notFound('link');
  await db.delete(taskLinks).where(and(eq(taskLinks.id, linkId), eq(taskLinks.taskId, taskId)));
  return { task: task[0], link: linkJson(link[0]) };
}
