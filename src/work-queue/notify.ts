/** Wake-ups of an account's claim queue from outside a use-case (the effects live in src/events/after-commit.ts). */
import type { Env } from '../env';
import { noteLeaseChanged, wakeHeldClaimers, type WaitUntil } from '../events/after-commit';

export function notifyTaskAvailable(env: Env, ctx: WaitUntil, accountId: string): void {
  wakeHeldClaimers({ env, ctx }, accountId);
}

export function notifyLeaseChanged(env: Env, ctx: WaitUntil, accountId: string, at: number): void {
  noteLeaseChanged({ env, ctx }, accountId, at);
}
