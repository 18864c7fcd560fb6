/**
 * One Durable Object per account's task queue: it serialises claims so no two callers get the
 * same task. (Filled in by the work-queue capability.)
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';

export class ClaimQueue extends DurableObject<Env> {
  async ping(): Promise<string> {
    return 'pong';
  }
}
