/**
 * `GET /v1/usage`: the account's plan, this month's task count against its quota, and the
 * rate limits, all from configuration (lib/config.ts).
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { usageCounters } from '../db/schema';
import type { Principal } from './access';
import { period, quotaResetDate } from './tasks';

export interface UsageLimits {
  tasksPerMonth: number;
  ratePerMinute: number;
  contextBytes: number;
  bodyBytes: number;
  delegationDepth: number;
}

export interface UsageJson {
  plan: 'free' | 'pro' | 'scale';
  period: string;
  task_count: number;
  task_limit: number;
  tasks_remaining: number;
  reset_date: string;
  rate_limit: { requests_per_minute: number };
  limits: { context_bytes: number; body_bytes: number; delegation_depth: number; content_chars: number; description_chars: number; label_chars: number; labels_per_task: number };
}

export async function usage(db: Db, p: Principal, limits: UsageLimits, now: number): Promise<UsageJson> {
  const row = await db
    .select({ n: usageCounters.tasksCreated })
    .from(usageCounters)
    .where(and(eq(usageCounters.accountId, p.accountId), eq(usageCounters.period, period(now))))
    .get();
  const used = row?.n ?? 0;
  return {
    plan: p.plan,
    period: period(now),
    task_count: used,
    task_limit: limits.tasksPerMonth,
    tasks_remaining: Math.max(0, limits.tasksPerMonth - used),
    reset_date: quotaResetDate(now),
    rate_limit: { requests_per_minute: limits.ratePerMinute },
    limits: {
      context_bytes: limits.contextBytes,
      body_bytes: limits.bodyBytes,
      delegation_depth: limits.delegationDepth,
      content_chars: 500,
      description_chars: 10_000,
      label_chars: 50,
      labels_per_task: 20,
    },
  };
}
