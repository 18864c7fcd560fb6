/**
 * The task changes as use-cases: each writes, records its events in the same D1 batch, and then
 * relays them and wakes held claimers as src/events/effects.ts says. Routes, the dashboard and
 * MCP tools call these and never emit or wake themselves.
 */
import { inArray } from 'drizzle-orm';
import { database } from '../db/client';
import { tasks } from '../db/schema';
import type { Env } from '../env';
import { toRawQuery, type RawRow } from '../db/sql-batch';
import { afterCommit, claimQueueOf, wakeScopeOf, type Effects } from '../events/after-commit';
import { wakes } from '../events/effects';
import { listenersOf, recorded } from '../events/outbox';
import type { Principal } from '../access/policy';
import { limit } from '../platform/config';
import { addComment } from './comments';
import { delegateTask } from './delegation';
import { addLink, type LinkInput } from './task-links';
import { taskJson, type EvidenceItem, type TaskJson } from './task-json';
import {
  claimabilityChanged,
  completionEvents,
  completionLandedQueries,
  completionOutcome,
  completionStatements,
  createTask,
  deleteTask,
  NEXT_OCCURRENCE_RESULT,
  PARENT_REOPENED_RESULT,
  uncompleteTask,
  updateTask,
  type NewTaskInput,
  type TaskInput,
} from './tasks';

/** Who changes what, and where the change's effects go. */
export interface TaskChange {
  fx: Effects;
  principal: Principal;
  now?: number;
}

const setup = (u: TaskChange) => ({
  p: u.principal,
  now: u.now ?? Date.now(),
  db: database(u.fx.env.DB),
  listeners: listenersOf(u.principal),
});
const wakeIf = (u: TaskChange, yes: boolean) => (yes ? u.principal.accountId : null);

export async function createTaskChange(u: TaskChange, input: NewTaskInput): Promise<TaskJson> {
  const { p, now, db, listeners } = setup(u);
  const { row, claimersWaiting, events } = await createTask(db, p, { input, quota: limit(u.fx.env, 'TASKS_PER_MONTH'), now, listeners });
  afterCommit(u.fx, {
    events,
    wakeAccount: wakeIf(u, wakes('tasks.create', { claimers_waiting: claimersWaiting })),
    wakeScope: wakeScopeOf([row]),
    now,
  });
  return taskJson(row, now);
}

export async function updateTaskChange(u: TaskChange, id: string, input: TaskInput): Promise<TaskJson> {
  const { p, now, db, listeners } = setup(u);
  const { before, after, events } = await updateTask(db, p, { taskId: id, input, now, listeners });
  afterCommit(u.fx, {
    events,
    wakeAccount: wakeIf(u, after !== before && wakes('tasks.update', { claimability_changed: claimabilityChanged(before, after) })),
    wakeScope: wakeScopeOf([after]),
    now,
  });
  return taskJson(after, now);
}

export async function deleteTaskChange(u: TaskChange, id: string): Promise<void> {
  const { p, now, db, listeners } = setup(u);
  const { parentReopened, events } = await deleteTask(db, p, { taskId: id, now, listeners });
  afterCommit(u.fx, { events, wakeAccount: wakeIf(u, wakes('tasks.delete', { parent_reopened: parentReopened })), now });
}

/** Completes through the account's claim queue: completions share its D1 batches with the fleet's claims. */
export async function completeTaskChange(
  u: TaskChange,
  id: string,
  evidence: EvidenceItem[],
): Promise<{ task: TaskJson; nextOccurrence: string | null }> {
  const { p, now, db, listeners } = setup(u);
  const completion = { principal: p, taskId: id, evidence };
  const recording = completionEvents(completion, now, listeners);
  // The event rows go right after the completing UPDATE, so they are written exactly when it changed the task.
  const [completing, ...rest] = completionStatements(db, completion, now);
  const statements = [completing!, ...recording.statements, ...rest].map((s) => toRawQuery(s));
  const [landedCompleting, ...landedRest] = completionLandedQueries(completion, now);
  const landed = [landedCompleting ?? null, ...recording.statements.map(() => null), ...landedRest];
  const shifted: RawRow[][] = await claimQueueOf(u.fx.env, p.accountId).commit(p.accountId, statements, landed);
  const results = [shifted[0]!, ...shifted.slice(1 + recording.statements.length)];
  const task = taskJson(await completionOutcome(db, completion, { results, now }), now);
  const parentReopened = Boolean(results[PARENT_REOPENED_RESULT]?.length);
  afterCommit(u.fx, {
    events: recorded(recording.events, task),
    wakeAccount: wakeIf(u, wakes('tasks.complete', { parent_reopened: parentReopened })),
    now,
  });
  const next = results[NEXT_OCCURRENCE_RESULT]?.[0]?.next_due_at;
  return { task, nextOccurrence: typeof next === 'string' ? next : null };
}

export async function uncompleteTaskChange(u: TaskChange, id: string): Promise<TaskJson> {
  const { p, now, db, listeners } = setup(u);
  const { row, events } = await uncompleteTask(db, p, { taskId: id, now, listeners });
  afterCommit(u.fx, { events, wakeAccount: wakeIf(u, wakes('tasks.uncomplete')), wakeScope: wakeScopeOf([row]), now });
  return taskJson(row, now);
}

export async function delegateTaskChange(u: TaskChange, id: string, input: NewTaskInput): Promise<TaskJson> {
  const { p, now, db, listeners } = setup(u);
  const limits = { quota: limit(u.fx.env, 'TASKS_PER_MONTH'), maxDepth: limit(u.fx.env, 'DELEGATION_DEPTH') };
  const { child, events } = await delegateTask(db, p, { parentId: id, input, limits, now, listeners });
  afterCommit(u.fx, { events, wakeAccount: wakeIf(u, wakes('tasks.delegate')), wakeScope: wakeScopeOf([child]), now });
  return taskJson(child, now);
}

export async function addCommentChange(u: TaskChange, id: string, input: { content: string; author?: string | null }) {
  const { p, now, db, listeners } = setup(u);
  const { task, comment, events } = await addComment(db, p, { taskId: id, input, now, listeners });
  afterCommit(u.fx, { events, now });
  return { task, comment };
}

export async function addLinkChange(u: TaskChange, id: string, input: LinkInput) {
  const { p, now, db, listeners } = setup(u);
  const { task, link, events } = await addLink(db, p, { taskId: id, input, now, listeners });
  afterCommit(u.fx, { events, now });
  return { task, link };
}

/** The tasks' JSON as they are now, for outbox rows recorded without it (the relay sweep's loader). */
export async function currentTaskJson(
  env: Env,
  refs: { accountId: string; taskId: string }[],
  now: number,
): Promise<Map<string, TaskJson>> {
  if (refs.length === 0) return new Map();
  const rows = await database(env.DB)
    .select()
    .from(tasks)
    .where(inArray(tasks.id, [...new Set(refs.map((r) => r.taskId))]));
  const accountOf = new Map(refs.map((r) => [r.taskId, r.accountId]));
  return new Map(rows.filter((r) => accountOf.get(r.id) === r.accountId).map((r) => [r.id, taskJson(r, now)]));
}
