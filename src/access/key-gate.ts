/**
 * One Durable Object per API key (named by the key's HMAC, never the key): it admits the key's
 * requests. It knows who the key is (the principal, read from D1 once and then kept in memory)
 * and counts the key's requests exactly (the fixed window it inherits from RateLimiter).
 * So an authenticated request costs one call to this object and no D1 read for the key. The
 * principal is also kept in the object's storage, so one restarted after an eviction reads no D1 either.
 *
 * Cached principals go stale when an agent, its key or its account changes. Every write that
 * changes what a principal holds calls `forget` on the keys it touches (see PrincipalCache
 * in access/authentication.ts), after the write commits. A lost `forget` call is made good by
 * D1 itself: triggers record the keys of every such write in `principal_forgets`, in the
 * write's transaction, and the scheduled sweep (access/forget-sweep.ts) tells their gates again
 * within a minute. So a gate never re-reads on a timer while nothing changes (an idle fleet's
 * keys cost D1 nothing); PRINCIPAL_TTL_MS only bounds a change D1's triggers cannot see.
 *
 * The same object records when its agent was last seen: one D1 write at most every
 * LAST_SEEN_WRITE_MS per key, after the answer (never a write per request).
 */
import { eq } from 'drizzle-orm';
import { database } from '../db/client';
import { agents } from '../db/schema';
import { loadKeyHolder, type KeyHolder, type PrincipalCache } from './authentication';
import type { Env } from '../env';
import { rateLimitFor } from '../platform/config';
import { isoSeconds } from '../platform/time';
import { RateLimiter, type RateDecision } from './rate-limiter';
import { meteredEnv } from '../platform/d1-metrics';

/** The last bound on a cached principal, for a change no trigger records (a database restored from a backup). */
export const PRINCIPAL_TTL_MS = 24 * 60 * 60_000;
/** How stale an agent's `last_seen_at` may be (a restarted gate writes at its first request). */
export const LAST_SEEN_WRITE_MS = 5 * 60_000;
/** Where the object keeps the principal it read, so an eviction does not cost a D1 read. */
const HOLDER_KEY = 'holder';
/** When last_seen_at was last written, kept across evictions so a restarted gate does not write again at once. */
const SEEN_KEY = 'seen_written_at';

interface CachedHolder {
  holder: KeyHolder | null;
  readAt: number;
}

export interface Admission {
  /** Null for a key no agent holds. */
  holder: KeyHolder | null;
  /** The request counted against the key's limit; null when the key may not make requests at all. */
  rate: RateDecision | null;
  /** D1 round trips this admission waited on: 1 when the principal was (re)read, else 0 (hop counting). */
  d1RoundTrips: number;
}

export class KeyGate extends RateLimiter {
  private cached: CachedHolder | undefined;
  private loading: Promise<KeyHolder | null> | undefined;
  /** Bumped by `forget`, so a D1 read that started before it is not cached after it. */
  private generation = 0;

  /** When this gate last wrote its agent's last_seen_at (memory only). */
  private seenWrittenAt = Number.NEGATIVE_INFINITY;
  /** The latest of those writes, so a test can wait for it rather than sleep. */
  seenWrite: Promise<void> = Promise.resolve();
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, meteredEnv(env, 'KeyGate'));
  }

  async admit(keyHash: string, nowMs: number): Promise<Admission> {
    const d1RoundTrips = this.isCached() ? 0 : 1;
    const holder = await this.holder(keyHash);
    if (!holder?.active) return { holder, rate: null, d1RoundTrips };
    this.recordSeen(holder.principal.agentId, nowMs);
    return { holder, rate: this.hit(rateLimitFor(this.env, holder.principal.plan), 60, nowMs), d1RoundTrips };
  }

  private isCached(): boolean {
    // Back from an eviction (a key that calls every 30 s, as a parked claimer does): the principal as last read, no D1 read.
    this.cached ??= this.ctx.storage.kv.get<CachedHolder>(HOLDER_KEY);
    return this.cached !== undefined && Date.now() - this.cached.readAt < PRINCIPAL_TTL_MS;
  }

  private recordSeen(agentId: string, nowMs: number): void {
    if (this.seenWrittenAt === Number.NEGATIVE_INFINITY)
      this.seenWrittenAt = this.ctx.storage.kv.get<number>(SEEN_KEY) ?? Number.NEGATIVE_INFINITY;
    if (nowMs - this.seenWrittenAt < LAST_SEEN_WRITE_MS) return;
    this.seenWrittenAt = nowMs;
    this.ctx.storage.kv.put(SEEN_KEY, nowMs);
    const write = database(this.env.DB)
      .update(agents)
      .set({ lastSeenAt: isoSeconds(nowMs) })
      .where(eq(agents.id, agentId))
      .then(
        () => undefined,
        (error: unknown) => {
          // The next request tries again; a missed write only leaves last_seen_at older.
          this.seenWrittenAt = Number.NEGATIVE_INFINITY;
          this.ctx.storage.kv.delete(SEEN_KEY);
          console.error(JSON.stringify({ level: 'error', message: 'last_seen_at write failed', error: String(error) }));
        },
      );
    this.seenWrite = write;
    this.ctx.waitUntil(write);
  }

  forget(): void {
    this.generation++;
    this.cached = undefined;
    this.loading = undefined;
    this.ctx.storage.kv.delete(HOLDER_KEY);
  }

  private holder(keyHash: string): Promise<KeyHolder | null> {
    if (this.isCached()) return Promise.resolve(this.cached!.holder);
    // Concurrent first requests share one D1 read.
    if (!this.loading) {
      const generation = this.generation;
      const loading = loadKeyHolder(database(this.env.DB), keyHash).then((holder) => {
        if (generation === this.generation) {
          this.cached = { holder, readAt: Date.now() };
          this.ctx.storage.kv.put(HOLDER_KEY, this.cached);
        }
        return holder;
      });
      this.loading = loading;
      void loading
        .finally(() => {
          if (this.loading === loading) this.loading = undefined;
        })
        .catch(() => undefined);
    }
    return this.loading;
  }
}

export function gateFor(env: Env, keyHash: string) {
  return env.KEY_GATE.get(env.KEY_GATE.idFromName(keyHash));
}

/** Counts one request of the key and says who holds it. */
export function admitKey(env: Env, keyHash: string, nowMs: number): Promise<Admission> {
  return gateFor(env, keyHash).admit(keyHash, nowMs);
}

/**
 * The cache the domain tells when principals may be stale. It never throws: it is told after
 * the write committed, and that write's answer (a new key, say) must still reach the caller. A
 * gate that cannot be told is tried once more, then logged; the scheduled sweep tells it again
 * (its write recorded the key in `principal_forgets`).
 */
export function principalCache(env: Env): PrincipalCache {
  const forgetKeys = async (hashes: Iterable<string>) => {
    const unique = [...new Set(hashes)];
    const failed = await forgetEach(env, unique);
    const still =
      failed.length > 0
        ? await forgetEach(
            env,
            failed.map((f) => f.hash),
          )
        : [];
    if (still.length > 0) logForgetFailure(still.length, still[0]!.error);
  };
  return {
    forgetKeys,
    forgetAccount: async (accountId) => {
      let rows: { keyHash: string }[];
      try {
        rows = await database(env.DB).select({ keyHash: agents.keyHash }).from(agents).where(eq(agents.accountId, accountId));
      } catch (error) {
        return logForgetFailure(null, error);
      }
      await forgetKeys(rows.map((r) => r.keyHash));
    },
  };
}

/** The keys whose gate did not take the `forget`, with why. */
export async function forgetEach(env: Env, hashes: string[]): Promise<{ hash: string; error: unknown }[]> {
  const outcomes = await Promise.allSettled(hashes.map((hash) => gateFor(env, hash).forget()));
  return outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ hash: hashes[i]!, error: o.reason as unknown }] : []));
}

function logForgetFailure(keys: number | null, error: unknown): void {
  console.error(
    JSON.stringify({
      level: 'error',
      message: 'key gate forget failed; the scheduled sweep tells it again',
      keys: keys ?? 'account',
      error: String(error),
    }),
  );
}
