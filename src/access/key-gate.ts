/**
 * One Durable Object per account, the account's key gate: it admits the requests of the
 * account's keys (a key names its account, access/api-keys.ts; the gate is named by the account
 * id, never by a key). It knows who each key is (the principal, read from D1 once and then kept
 * in memory) and counts each key's requests exactly (a fixed window per key, `RateWindows`).
 * So an authenticated request costs one call to this object and no D1 read for the key. The
 * principals are also kept in the object's storage, so one restarted after an eviction reads no
 * D1 either. One object for all of an account's keys, not one per key: a fleet of parked
 * claimers that each come back every 30 s keeps its account's gate running, where a gate per key
 * would start afresh at every poll (Cloudflare hibernates an idle object after 10 s); measured
 * locally, the start was most of a poll's cost in the gate. A key issued before keys named their
 * account (40 characters) has a gate of its own, named by its HMAC.
 *
 * Cached principals go stale when an agent, its key or its account changes. Every write that
 * changes what a principal holds calls `forget` on the keys it touches (see PrincipalCache
 * in access/authentication.ts), after the write commits. A lost `forget` call is made good by
 * D1 itself: triggers record the keys of every such write in `principal_forgets`, in the
 * write's transaction, and the scheduled sweep (access/forget-sweep.ts) tells their gates again
 * within a minute. So a gate never re-reads on a timer while nothing changes (an idle fleet's
 * keys cost D1 nothing); PRINCIPAL_TTL_MS only bounds a change D1's triggers cannot see.
 *
 * The same object records when each agent was last seen: one D1 write at most every
 * LAST_SEEN_WRITE_MS per agent, after the answer (never a write per request).
 */
import { eq } from 'drizzle-orm';
import { database } from '../db/client';
import { agents } from '../db/schema';
import { loadKeyHolder, type KeyHolder, type KeyRef, type PrincipalCache } from './authentication';
import type { Env } from '../env';
import { rateLimitFor } from '../platform/config';
import { isoSeconds } from '../platform/time';
import { DurableObject } from 'cloudflare:workers';
import { RateWindows, type RateDecision } from './rate-limiter';
import { meteredEnv } from '../platform/d1-metrics';

/** The last bound on a cached principal, for a change no trigger records (a database restored from a backup). */
export const PRINCIPAL_TTL_MS = 24 * 60 * 60_000;
/** How stale an agent's `last_seen_at` may be (a restarted gate writes at its first request). */
export const LAST_SEEN_WRITE_MS = 5 * 60_000;
/** Where the object keeps the principal it read, so an eviction does not cost a D1 read. */
const HOLDER_KEY = 'holder:';
/** When last_seen_at was last written, kept across evictions so a restarted gate does not write again at once. */
const SEEN_KEY = 'seen:';
/** Where a key's rate count is kept. */
const WINDOW_KEY = 'w:';

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

export class KeyGate extends DurableObject<Env> {
  private readonly cached = new Map<string, CachedHolder>();
  private readonly loading = new Map<string, Promise<KeyHolder | null>>();
  /** Bumped by `forget`, so a D1 read that started before it is not cached after it. */
  private generation = 0;
  private readonly windows = new RateWindows(this.ctx);

  /** When this gate last wrote each agent's last_seen_at (memory; storage holds it across evictions). */
  private readonly seenWrittenAt = new Map<string, number>();
  /** The latest of those writes, so a test can wait for it rather than sleep. */
  seenWrite: Promise<void> = Promise.resolve();
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, meteredEnv(env, 'KeyGate'));
  }

  async admit({ keyHash, accountId }: KeyRef, nowMs: number): Promise<Admission> {
    const d1RoundTrips = this.cachedHolder(keyHash) ? 0 : 1;
    let holder = await this.holder(keyHash);
    // The tag binds a key to the account it names, so this holds; kept so a gate never admits another account's key.
    if (accountId !== null && holder?.principal.accountId !== accountId) holder = null;
    if (!holder?.active) return { holder, rate: null, d1RoundTrips };
    this.recordSeen(holder.principal.agentId, nowMs);
    const limit = rateLimitFor(this.env, holder.principal.plan);
    return { holder, rate: this.windows.hit(`${WINDOW_KEY}${keyHash}`, { limit, windowSeconds: 60, nowMs }), d1RoundTrips };
  }

  override alarm(): void {
    this.windows.alarm();
  }

  private cachedHolder(keyHash: string): CachedHolder | undefined {
    // Back from an eviction (a key that calls every 30 s, as a parked claimer does): the principal as last read, no D1 read.
    let cached = this.cached.get(keyHash);
    if (!cached) {
      cached = this.ctx.storage.kv.get<CachedHolder>(`${HOLDER_KEY}${keyHash}`);
      if (cached) this.cached.set(keyHash, cached);
    }
    return cached && Date.now() - cached.readAt < PRINCIPAL_TTL_MS ? cached : undefined;
  }

  private recordSeen(agentId: string, nowMs: number): void {
    let writtenAt = this.seenWrittenAt.get(agentId);
    if (writtenAt === undefined) {
      writtenAt = this.ctx.storage.kv.get<number>(`${SEEN_KEY}${agentId}`) ?? Number.NEGATIVE_INFINITY;
      this.seenWrittenAt.set(agentId, writtenAt);
    }
    if (nowMs - writtenAt < LAST_SEEN_WRITE_MS) return;
    this.seenWrittenAt.set(agentId, nowMs);
    this.ctx.storage.kv.put(`${SEEN_KEY}${agentId}`, nowMs);
    const write = database(this.env.DB)
      .update(agents)
      .set({ lastSeenAt: isoSeconds(nowMs) })
      .where(eq(agents.id, agentId))
      .then(
        () => undefined,
        (error: unknown) => {
          // The next request tries again; a missed write only leaves last_seen_at older.
          this.seenWrittenAt.delete(agentId);
          this.ctx.storage.kv.delete(`${SEEN_KEY}${agentId}`);
          console.error(JSON.stringify({ level: 'error', message: 'last_seen_at write failed', error: String(error) }));
        },
      );
    this.seenWrite = write;
    this.ctx.waitUntil(write);
  }

  /** The keys' principals may have changed: the next request of each reads D1. */
  forget(keyHashes: string[]): void {
    this.generation++;
    for (const keyHash of keyHashes) {
      this.cached.delete(keyHash);
      this.loading.delete(keyHash);
      this.ctx.storage.kv.delete(`${HOLDER_KEY}${keyHash}`);
    }
  }

  /** Every key's principal may have changed (its account's status, plan or webhooks did). */
  forgetAll(): void {
    this.generation++;
    this.cached.clear();
    this.loading.clear();
    // Listed first, then deleted: not while the listing's cursor is open.
    const stored = [...this.ctx.storage.kv.list({ prefix: HOLDER_KEY })].map(([key]) => key);
    for (const key of stored) this.ctx.storage.kv.delete(key);
  }

  private holder(keyHash: string): Promise<KeyHolder | null> {
    const cached = this.cachedHolder(keyHash);
    if (cached) return Promise.resolve(cached.holder);
    // Concurrent first requests of a key share one D1 read.
    let loading = this.loading.get(keyHash);
    if (!loading) {
      const generation = this.generation;
      const started = loadKeyHolder(database(this.env.DB), keyHash).then((holder) => {
        if (generation === this.generation) {
          const read = { holder, readAt: Date.now() };
          this.cached.set(keyHash, read);
          this.ctx.storage.kv.put(`${HOLDER_KEY}${keyHash}`, read);
        }
        return holder;
      });
      loading = started;
      this.loading.set(keyHash, started);
      void started
        .finally(() => {
          if (this.loading.get(keyHash) === started) this.loading.delete(keyHash);
        })
        .catch(() => undefined);
    }
    return loading;
  }
}

const gateNamed = (env: Env, name: string) => env.KEY_GATE.get(env.KEY_GATE.idFromName(name));

const accountGate = (env: Env, accountId: string) => gateNamed(env, `account:${accountId}`);

/** The gate that admits the key: its account's, or its own (named by its HMAC) for an older key. */
export const gateFor = (env: Env, { keyHash, accountId }: KeyRef) =>
  accountId === null ? gateNamed(env, keyHash) : accountGate(env, accountId);

/** Counts one request of the key and says who holds it. */
export function admitKey(env: Env, key: KeyRef, nowMs: number): Promise<Admission> {
  return gateFor(env, key).admit(key, nowMs);
}

/**
 * The cache the domain tells when principals may be stale. It never throws: it is told after
 * the write committed, and that write's answer (a new key, say) must still reach the caller. A
 * gate that cannot be told is tried once more, then logged; the scheduled sweep tells it again
 * (its write recorded the key in `principal_forgets`).
 */
export function principalCache(env: Env): PrincipalCache {
  const forgetKeys = async (keys: StaleKey[]) => {
    const failed = await forgetEach(env, keys);
    const still = failed.length > 0 ? await forgetEach(env, failed) : [];
    if (still.length > 0) logForgetFailure(still.length, still[0]!.error);
  };
  return {
    forgetKeys: (accountId, hashes) => forgetKeys([...new Set(hashes)].map((keyHash) => ({ keyHash, accountId }))),
    forgetAccount: async (accountId) => {
      let rows: { keyHash: string }[];
      try {
        rows = await database(env.DB).select({ keyHash: agents.keyHash }).from(agents).where(eq(agents.accountId, accountId));
      } catch (error) {
        return logForgetFailure(null, error);
      }
      await Promise.all([
        // The account's gate forgets all its keys at once; each key's own gate is told apart (older keys).
        forgetKeys(rows.map((r) => ({ keyHash: r.keyHash, accountId: null }))),
        accountGate(env, accountId)
          .forgetAll()
          .catch((error: unknown) => logForgetFailure(null, error)),
      ]);
    },
  };
}

/** A key whose principal may be stale; `accountId` null tells only the key's own gate (a record written before records named the account). */
export interface StaleKey {
  keyHash: string;
  accountId: string | null;
}

/**
 * Tells the gates that may hold each key's principal: its account's and its own (a key hash does
 * not say whether the key is older than account gates). Answers the keys not told, with why.
 */
export async function forgetEach(env: Env, keys: StaleKey[]): Promise<(StaleKey & { error: unknown })[]> {
  const byAccount = new Map<string, string[]>();
  for (const { keyHash, accountId } of keys) {
    if (accountId === null) continue;
    const hashes = byAccount.get(accountId);
    if (hashes) hashes.push(keyHash);
    else byAccount.set(accountId, [keyHash]);
  }
  const accountCalls = new Map(
    [...byAccount].map(([accountId, hashes]) => [accountId, settle(accountGate(env, accountId).forget(hashes))] as const),
  );
  const ownCalls = keys.map(({ keyHash }) => settle(gateNamed(env, keyHash).forget([keyHash])));
  const failed: (StaleKey & { error: unknown })[] = [];
  for (const [i, key] of keys.entries()) {
    const error = (await ownCalls[i]!) ?? (key.accountId === null ? undefined : await accountCalls.get(key.accountId));
    if (error !== undefined) failed.push({ ...key, error });
  }
  return failed;
}

/** The call's error, or undefined once it succeeded. */
const settle = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => undefined,
    (error: unknown) => error ?? new Error('forget failed'),
  );

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
