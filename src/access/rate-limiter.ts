/**
 * Exact request counts in fixed windows, kept by a Durable Object, so every isolate in every
 * location counts against the same window. `RateLimiter` is one object per subject (an IP or an
 * email address, for onboarding); the key gates (access/key-gate.ts) count their keys with the
 * same `RateWindows`. A count lives in memory and is checkpointed to the object's SQLite-backed
 * storage (see `RateWindows.checkpoint`).
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

/** How often at most a busy object's counts are written to storage. */
const CHECKPOINT_MS = 1000;

interface WindowState {
  window: number;
  count: number;
}

/** The counts of the subjects one object keeps, each under its own storage key. */
export class RateWindows {
  /** The live windows; the object is single-threaded, so memory is the exact count. */
  private readonly windows = new Map<string, WindowState>();
  /** Counts changed since the last checkpoint. */
  private readonly unsaved = new Set<string>();
  private checkpointPending = false;
  /** When counts were last written (memory only: a restarted object writes at its first hit). */
  private checkpointedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly ctx: DurableObjectState) {}

  hit(storageKey: string, { limit, windowSeconds, nowMs }: { limit: number; windowSeconds: number; nowMs: number }): RateDecision {
    const window = Math.floor(nowMs / 1000 / windowSeconds);
    let state = this.windows.get(storageKey);
    if (!state) {
      state = this.ctx.storage.kv.get<WindowState>(storageKey);
      if (state) this.windows.set(storageKey, state);
    }
    const count = state && state.window === window ? state.count : 0;
    const resetAt = (window + 1) * windowSeconds;
    if (count >= limit) return { allowed: false, limit, remaining: 0, resetAt };
    this.windows.set(storageKey, { window, count: count + 1 });
    this.unsaved.add(storageKey);
    this.checkpoint(Date.now());
    return { allowed: true, limit, remaining: limit - count - 1, resetAt };
  }

  /**
   * A storage write per request costs more than the rest of a busy key's request, so counts are
   * written at most once a second: at once when the last write is older (a key that calls now
   * and then, such as a parked claimer every 30 s, costs one write and no alarm), else by an
   * alarm a second after it. An object is evicted only after it has been idle, by which time the
   * alarm has run, so counts survive eviction; a crash can forget at most the last second's hits.
   */
  private checkpoint(nowMs: number): void {
    if (nowMs - this.checkpointedAt >= CHECKPOINT_MS) {
      this.checkpointedAt = nowMs;
      this.save();
      return;
    }
    if (this.checkpointPending) return;
    this.checkpointPending = true;
    void this.ctx.storage.setAlarm(this.checkpointedAt + CHECKPOINT_MS);
  }

  /** The object's alarm: the checkpoint that was put off. */
  alarm(): void {
    this.checkpointPending = false;
    this.checkpointedAt = Date.now();
    this.save();
  }

  private save(): void {
    for (const key of this.unsaved) this.ctx.storage.kv.put(key, this.windows.get(key));
    this.unsaved.clear();
  }
}

export class RateLimiter extends DurableObject<Env> {
  private readonly windows = new RateWindows(this.ctx);

  hit(limit: number, windowSeconds: number, nowMs: number): RateDecision {
    return this.windows.hit('w', { limit, windowSeconds, nowMs });
  }

  override alarm(): void {
    this.windows.alarm();
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
