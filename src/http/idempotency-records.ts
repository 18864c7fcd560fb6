/**
 * Idempotency-Key storage: the first answer to a write is kept for 24 hours and replayed for a
 * retry with the same key and the same request; the same key with another request is refused.
 * A key is claimed atomically (INSERT OR IGNORE in one batch), so two concurrent requests with
 * one key never both run.
 */
import { and, eq, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../db/client';
import { idempotencyKeys } from '../db/schema';
import { isoSeconds } from '../platform/time';

const TTL_MS = 24 * 60 * 60 * 1000;
/** A first request still unanswered after this long died with its isolate: a retry may run. */
const STALE_IN_PROGRESS_MS = 60 * 1000;

export type IdempotencyStart =
  | { kind: 'new' }
  | { kind: 'replay'; status: number; body: string; contentType: string | null }
  | { kind: 'mismatch' }
  | { kind: 'in_progress' };

export interface IdempotentStart {
  scopeKey: string;
  requestHash: string;
  now: number;
}

export async function beginIdempotent(db: Db, { scopeKey, requestHash, now }: IdempotentStart): Promise<IdempotencyStart> {
  const ts = isoSeconds(now);
  const [, inserted, existing] = await db.batch([
    db
      .delete(idempotencyKeys)
      .where(
        and(
          eq(idempotencyKeys.scopeKey, scopeKey),
          or(
            lt(idempotencyKeys.expiresAt, ts),
            and(isNull(idempotencyKeys.status), lt(idempotencyKeys.createdAt, isoSeconds(now - STALE_IN_PROGRESS_MS))),
          ),
        ),
      ),
    db
      .insert(idempotencyKeys)
      .values({ scopeKey, requestHash, createdAt: ts, expiresAt: isoSeconds(now + TTL_MS) })
      .onConflictDoNothing()
      .returning({ scopeKey: idempotencyKeys.scopeKey }),
    db.select().from(idempotencyKeys).where(eq(idempotencyKeys.scopeKey, scopeKey)),
  ]);
  if (inserted.length > 0) return { kind: 'new' };
  const row = existing[0];
  if (!row) return { kind: 'new' };
  if (row.requestHash !== requestHash) return { kind: 'mismatch' };
  if (row.status === null || row.body === null) return { kind: 'in_progress' };
  return { kind: 'replay', status: row.status, body: row.body, contentType: row.headers };
}

export interface IdempotentAnswer {
  scopeKey: string;
  /** The answer's HTTP status. */
  status: number;
  /** The answer's body, replayed as is. */
  body: string;
  contentType: string | null;
}

export async function finishIdempotent(db: Db, { scopeKey, status, body, contentType }: IdempotentAnswer): Promise<void> {
  await db.update(idempotencyKeys).set({ status, body, headers: contentType }).where(eq(idempotencyKeys.scopeKey, scopeKey));
}

/** Forget a key whose request failed in a way a retry should be allowed to redo (5xx, 429). */
export async function abandonIdempotent(db: Db, scopeKey: string): Promise<void> {
  await db.delete(idempotencyKeys).where(eq(idempotencyKeys.scopeKey, scopeKey));
}
