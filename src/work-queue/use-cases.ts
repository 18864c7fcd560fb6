/**
 * The work-queue changes as use-cases: claims (through the account's ClaimQueue object, whose
 * batches record the claim's event), heartbeats, state reports and releases. Each records its
 * events in its own D1 batch and does what src/events/effects.ts says after the commit: relay
 * the events, wake held claimers, note a shortened lease, start a decision mail.
 */
import { database } from '../db/client';
import { afterCommit, noteLeaseChanged, wakeScopeOf, type Effects } from '../events/after-commit';
import { wakes } from '../events/effects';
import { listenersOf, recorded } from '../events/outbox';
import type { Principal } from '../access/policy';
import { readTask } from '../tasks/tasks';
import { taskJson, type TaskJson } from '../tasks/task-json';
import { claimQueueOf } from './claim-queue';
import {
  claimerOf,
  claimRefusal,
  heartbeat,
  plannedClaimEvent,
  release,
  setSessionState,
  type ClaimWrite,
  type HeartbeatInput,
  type SessionState,
} from './claims';
import { escalateIfWaiting } from './decision-mail';

/** Who changes what, and where the change's effects go. */
export interface QueueChange {
  fx: Effects;
  principal: Principal;
}

export interface ClaimNextInput {
  holdId?: string;
  labels: string[];
  projectId: string | null;
  leaseSeconds: number;
  waitSeconds: number;
}

/** The best claimable task, or null; its task.claimed is recorded in the claim's batch. */
export async function claimNextChange(u: QueueChange, input: ClaimNextInput): Promise<TaskJson | null> {
  const p = u.principal;
  const event = plannedClaimEvent(p, { listeners: listenersOf(p), change: 'queue.claim_next', now: Date.now() });
  const row = await claimQueueOf(u.fx.env, p.accountId).claimNext({ claimer: claimerOf(p), ...input, ...(event ? { event } : {}) });
  if (!row) return null;
  const now = Date.now();
  const task = taskJson(row, now);
  afterCommit(u.fx, { events: event ? recorded([{ ...event, taskId: row.id }], task) : [], now });
  return task;
}

/** Claims the given task (or extends the caller's own live claim, which records no event). */
export async function claimTaskChange(u: QueueChange, input: { taskId: string; leaseSeconds: number }): Promise<TaskJson> {
  const p = u.principal;
  const event = plannedClaimEvent(p, { listeners: listenersOf(p), change: 'queue.claim', now: Date.now() });
  const result = await claimQueueOf(u.fx.env, p.accountId).claimTask({ claimer: claimerOf(p), ...input, ...(event ? { event } : {}) });
  const now = Date.now();
  if (!result.row) throw claimRefusal(p, await readTask(database(u.fx.env.DB), p.accountId, input.taskId), now);
  const task = taskJson(result.row, now);
  afterCommit(u.fx, { events: event && result.fresh ? recorded([{ ...event, taskId: result.row.id }], task) : [], now });
  return task;
}

/** Where a decision mail's answer link points (null: no mail; see decision-mail.ts). */
export interface StateReportOptions {
  linkBase: string | null;
}

function afterStateWrite(u: QueueChange, write: ClaimWrite, { now, linkBase }: StateReportOptions & { now: number }): TaskJson {
  const task = taskJson(write.row, now);
  escalateIfWaiting(u.fx.env, u.fx.ctx, { write, now, linkBase });
  afterCommit(u.fx, { events: recorded(write.events, task), now });
  return task;
}

export interface HeartbeatChange extends StateReportOptions {
  taskId: string;
  input: HeartbeatInput;
}

export async function heartbeatChange(u: QueueChange, { taskId: id, input, linkBase }: HeartbeatChange): Promise<TaskJson> {
  const p = u.principal;
  const now = Date.now();
  const write = await heartbeat(database(u.fx.env.DB), p, { taskId: id, input, now, listeners: listenersOf(p) });
  const { leaseExpiresAt } = write.row;
  // A shorter lease than before must not wait for an alarm set for the old one.
  if (leaseExpiresAt && write.before.leaseExpiresAt && leaseExpiresAt < write.before.leaseExpiresAt)
    noteLeaseChanged(u.fx, p.accountId, Date.parse(leaseExpiresAt));
  return afterStateWrite(u, write, { now, linkBase });
}

export interface SetStateChange extends StateReportOptions {
  taskId: string;
  input: { state: SessionState; detail?: string | null };
}

export async function setStateChange(u: QueueChange, { taskId: id, input, linkBase }: SetStateChange): Promise<TaskJson> {
  const p = u.principal;
  const now = Date.now();
  const write = await setSessionState(database(u.fx.env.DB), p, { taskId: id, input, now, listeners: listenersOf(p) });
  return afterStateWrite(u, write, { now, linkBase });
}

export async function releaseChange(u: QueueChange, id: string, input: { handoff?: string | null }): Promise<TaskJson> {
  const p = u.principal;
  const now = Date.now();
  const write = await release(database(u.fx.env.DB), p, { taskId: id, input, now, listeners: listenersOf(p) });
  const task = taskJson(write.row, now);
  afterCommit(u.fx, {
    events: recorded(write.events, task),
    wakeAccount: wakes('queue.release') ? p.accountId : null,
    wakeScope: wakeScopeOf([write.row]),
    now,
  });
  return task;
}
