/**
 * Exact per-key request counts: one Durable Object per API key (or IP), so every isolate in
 * every location counts against the same fixed window. The count lives in the object's memory
 * and is checkpointed to its SQLite-backed storage (see `scheduleCheckpoint`).
 * Cost: one Durable Object call per authenticated request (no D1 work). The onboarding routes
 * use the same objects per IP and per email address.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds when the current window ends. */
  resetAt: number;
}

/** How often at most a busy key's count is written to storage. */
const CHECKPOINT_MS = 1000;

interface WindowState {
  window: number;
  count: number;
}

export class RateLimiter extends DurableObject<Env> {
  /** The live window; the object is single-threaded, so memory is the exact count. */
  private state: WindowState | undefined;
  private checkpointPending = false;
  /** When the count was last written to storage (memory only: a restarted object writes at its first hit). */
  private checkpointedAt = Number.NEGATIVE_INFINITY;

  hit(limit: number, windowSeconds: number, nowMs: number): RateDecision {
    const window = Math.floor(nowMs / 1000 / windowSeconds);
    this.state ??= this.ctx.storage.kv.get<WindowState>('w');
    const count = this.state && this.state.window === window ? this.state.count : 0;
    const resetAt = (window + 1) * windowSeconds;
    if (count >= limit) return { allowed: false, limit, remaining: 0, resetAt };
    this.state = { window, count: count + 1 };
    this.scheduleCheckpoint(Date.now());
    return { allowed: true, limit, remaining: limit - count - 1, resetAt };
  }

  /**
   * A storage write per request costs more than the rest of a busy key's request, so the count
   * is written at most once a second: at once when the last write is older (a key that calls now
   * and then, such as a parked claimer every 30 s, costs one write and no alarm), else by an
   * alarm a second after it. An object is evicted only after it has been idle, by which time the
   * alarm has run, so counts survive eviction; a crash can forget at most the last second's hits.
   */
  private scheduleCheckpoint(nowMs: number): void {
    if (nowMs - this.checkpointedAt >= CHECKPOINT_MS) {
      this.checkpointedAt = nowMs;
      this.ctx.storage.kv.put('w', this.state);
      return;
    }
    if (this.checkpointPending) return;
    this.checkpointPending = true;
    void this.ctx.storage.setAlarm(this.checkpointedAt + CHECKPOINT_MS);
  }

  override alarm(): void {
    this.checkpointPending = false;
    this.checkpointedAt = Date.now();
    if (this.state) this.ctx.storage.kv.put('w', this.state);
  }
}

/** One request counted against a limit. */
export interface RateHit {
  /** Who is counted, e.g. `agt_…`, `ip:1.2.3.4`, `mail:ada@example.com`. */
  subject: string;
  limit: number;
  nowMs: number;
  /** The window's length; 60 when not given. */
  windowSeconds?: number;
}

/** Counts one request for its subject. */
export function takeToken(env: Env, { subject, limit, nowMs, windowSeconds = 60 }: RateHit): Promise<RateDecision> {
  const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(subject));
  return stub.hit(limit, windowSeconds, nowMs);
}

/** Counts one request against a limit; the domain sees only this, not the Durable Object. */
export type RateCounter = (hit: RateHit) => Promise<RateDecision>;

export const rateCounter =
  (env: Env): RateCounter =>
  (hit) =>
    takeToken(env, hit);

export function rateLimitHeaders(rate: RateDecision): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(rate.limit),
    'X-RateLimit-Remaining': String(rate.remaining),
    'X-RateLimit-Reset': String(rate.resetAt),
  };
}
