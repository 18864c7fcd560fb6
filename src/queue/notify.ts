/**
 * Tells an account's claim queue that a task may have become claimable (created, released,
 * uncompleted, reassigned), so held long-poll claims wake at once. Off the request path.
 * (Filled in by the work-queue capability.)
 */
import type { Env } from '../env';
import type { WaitUntil } from '../webhooks/events';

export function notifyTaskAvailable(_env: Env, _ctx: WaitUntil, _accountId: string): void {
  // Filled in by the work-queue capability.
}
