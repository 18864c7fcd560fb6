/**
 * What a use-case does once its write committed: relay the events it recorded in the write's
 * batch, and wake the account's held claimers when a task may have become claimable. Both run
 * after the answer (`waitUntil`) and never fail the write. The claim queue object is reached
 * through its binding (`env.CLAIM_QUEUE`), so concepts below work-queue/ can wake it.
 */
import { limit } from '../platform/config';
import type { Env } from '../env';
import type { RecordedEvent } from './outbox';
import { relayLater } from './relay';

export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

/** Where a use-case's effects go: the bindings, and the request's (or object's) waitUntil. */
export interface Effects {
  env: Env;
  ctx: WaitUntil;
}

/**
 * The claim queue object (work-queue/claim-queue.ts) that serves the account: FNV-1a of its id
 * over CLAIM_QUEUE_SHARDS objects, so one-agent accounts share D1 batches.
 */
export function claimQueueOf(env: Env, accountId: string) {
  return env.CLAIM_QUEUE.get(env.CLAIM_QUEUE.idFromName(`shard:${shardOf(accountId, limit(env, 'CLAIM_QUEUE_SHARDS'))}`));
}

export function shardOf(accountId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < accountId.length; i++) hash = Math.imul(hash ^ accountId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % shards;
}

/**
 * Which held claimers a wake-up is for. Tasks whose assignee is known (null: unassigned) wake
 * `tasks` claimers per claim filter (of that assignee only, for assigned tasks); unknown (a
 * mixed set): every held claimer of the account tries.
 */
export interface WakeScope {
  tasks?: number;
  assignee?: string | null;
}

/** The scope of a wake-up for these tasks: their common assignee, when they share one. */
export function wakeScopeOf(tasks: { assignedToAgentId: string | null }[]): WakeScope {
  const assignees = new Set(tasks.map((t) => t.assignedToAgentId));
  return assignees.size === 1 ? { tasks: tasks.length, assignee: [...assignees][0]! } : {};
}

export interface CommittedEffects {
  events?: RecordedEvent[];
  /** The account whose held claimers may now find a task. */
  wakeAccount?: string | null;
  /** Which of them (default: every one). */
  wakeScope?: WakeScope;
  now?: number;
}

export function afterCommit(fx: Effects, effects: CommittedEffects): void {
  if (effects.events?.length) relayLater(fx.env, fx.ctx, { events: effects.events, now: effects.now });
  if (effects.wakeAccount) wakeHeldClaimers(fx, effects.wakeAccount, effects.wakeScope);
}

/**
 * Tasks of the account may have become claimable (created, released, uncompleted, reassigned):
 * held long-poll claims (those of `scope`) try again at once, after the answer.
 */
export function wakeHeldClaimers(fx: Effects, accountId: string, scope: WakeScope = {}): void {
  fx.ctx.waitUntil(wakeHeldClaimersNow(fx.env, accountId, scope));
}

/** The same, awaited (a queue consumer, which has no answer to wait for). */
export function wakeHeldClaimersNow(env: Env, accountId: string, scope: WakeScope = {}): Promise<void> {
  return (
    claimQueueOf(env, accountId)
      .wake(accountId, scope)
      // A missed wake-up only delays held claimers until their deadline; never fail the write.
      .catch((e: unknown) =>
        console.error(JSON.stringify({ level: 'error', message: 'claim queue wake failed', accountId, error: String(e) })),
      )
  );
}

/** A lease was set to end at `at` outside the queue (a heartbeat): keep the expiry alarm no later. */
export function noteLeaseChanged(fx: Effects, accountId: string, at: number): void {
  fx.ctx.waitUntil(
    claimQueueOf(fx.env, accountId)
      .noteLease(accountId, at)
      .catch((e: unknown) =>
        console.error(JSON.stringify({ level: 'error', message: 'claim queue lease note failed', accountId, error: String(e) })),
      ),
  );
}
