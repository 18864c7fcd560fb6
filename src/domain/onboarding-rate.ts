/**
 * Fixed-window counters for the unauthenticated onboarding routes, kept in D1 so every Worker
 * instance shares them. One upsert per check; past windows of the same scope are dropped in the
 * same batch, so the table stays as small as the set of recently active scopes.
 *
 *   await hitRate(db, { scope: `ip:${ip}`, windowSeconds: 60, max: 10 }, Date.now());
 */
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { onboardingRate } from '../db/schema';
import { ApiError } from '../lib/errors';

type BatchItem = Parameters<Db['batch']>[0][number];

export interface RateRule {
  scope: string;
  windowSeconds: number;
  max: number;
}

/**
 * Counts one hit against every rule in a single D1 batch; throws 429 with Retry-After for the
 * first rule past its `max` (e.g. per IP, then per email).
 */
export async function hitRates(db: Db, rules: RateRule[], now: number): Promise<void> {
  if (rules.length === 0) return;
  const nowSeconds = Math.floor(now / 1000);
  const windows = rules.map((r) => nowSeconds - (nowSeconds % r.windowSeconds));
  const statements = rules.flatMap((rule, i) => [
    db.delete(onboardingRate).where(and(eq(onboardingRate.scope, rule.scope), lt(onboardingRate.windowStart, windows[i]!))),
    db
      .insert(onboardingRate)
      .values({ scope: rule.scope, windowStart: windows[i]!, count: 1 })
      .onConflictDoUpdate({ target: [onboardingRate.scope, onboardingRate.windowStart], set: { count: sql`${onboardingRate.count} + 1` } })
      .returning({ count: onboardingRate.count }),
  ]);
  const results = (await db.batch(statements as unknown as [BatchItem, ...BatchItem[]])) as unknown[];
  rules.forEach((rule, i) => {
    const counted = results[i * 2 + 1] as { count: number }[];
    if ((counted[0]?.count ?? 1) <= rule.max) return;
    const retryAfter = Math.max(1, windows[i]! + rule.windowSeconds - nowSeconds);
    throw new ApiError(
      429,
      'RATE_LIMITED',
      `Too many requests; try again in ${retryAfter} second${retryAfter === 1 ? '' : 's'}.`,
      undefined,
      { retry_after: retryAfter },
      { 'Retry-After': String(retryAfter) },
    );
  });
}

export const hitRate = (db: Db, rule: RateRule, now: number) => hitRates(db, [rule], now);
