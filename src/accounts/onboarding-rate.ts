/**
 * Limits for the unauthenticated onboarding routes: per IP and per email address, fixed
 * windows counted exactly by the same rate-limiter objects as API keys.
 *
 *   await hitRates(counter, [{ scope: `ip:${ip}`, windowSeconds: 60, max: 10 }], Date.now());
 */
import type { RateCounter, RateDecision } from '../access/rate-limiter';
import { ApiError } from '../platform/errors';

export interface RateRule {
  scope: string;
  windowSeconds: number;
  max: number;
}

/**
 * Counts one hit against every rule at once; throws 429 with Retry-After for the first rule
 * past its `max` (e.g. per IP, then per email). Answers the decisions for response headers.
 */
export async function hitRates(counter: RateCounter, rules: RateRule[], now: number): Promise<RateDecision[]> {
  const decisions = await Promise.all(
    rules.map((r) => counter({ subject: r.scope, limit: r.max, nowMs: now, windowSeconds: r.windowSeconds })),
  );
  decisions.forEach((decision) => {
    if (decision.allowed) return;
    const retryAfter = Math.max(1, decision.resetAt - Math.floor(now / 1000));
    throw new ApiError({
      status: 429,
      code: 'RATE_LIMITED',
      message: `Too many requests; try again in ${retryAfter} second${retryAfter === 1 ? '' : 's'}.`,
      extra: { retry_after: retryAfter },
      headers: {
        'Retry-After': String(retryAfter),
        'X-RateLimit-Limit': String(decision.limit),
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': String(decision.resetAt),
      },
    });
  });
  return decisions;
}
