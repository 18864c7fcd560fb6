/**
 * Tells an account's claim queue that a task may have become claimable (created, released,
 * uncompleted, reassigned), so held long-poll claims wake at once. Off the request path.
 */
import type { Env } from '../env';
import type { WaitUntil } from '../webhooks/events';
import { queueFor } from './claim-queue';

export function notifyTaskAvailable(env: Env, ctx: WaitUntil, accountId: string): void {
  ctx.waitUntil(
    queueFor(env, accountId)
      .wake(accountId)
      // A missed wake-up only delays held claimers until their deadline; never fail the write.
      .catch((e: unknown) => console.error(JSON.stringify({ level: 'error', message: 'claim queue wake failed', accountId, error: String(e) }))),
  );
}

/** A lease was set to end at `at` outside the queue (a heartbeat): keep the expiry alarm no later. */
export function notifyLeaseChanged(env: Env, ctx: WaitUntil, accountId: string, at: number): void {
  ctx.waitUntil(
    queueFor(env, accountId)
      .noteLease(accountId, at)
      .catch((e: unknown) => console.error(JSON.stringify({ level: 'error', message: 'claim queue lease note failed', accountId, error: String(e) }))),
  );
}
