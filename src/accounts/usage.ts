/**
 * `GET /v1/usage`: the account's plan, this month's task count against its quota, its agents,
 * webhooks and projects against their limits, and the rate limit (limits from platform/config.ts).
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { agents, projects, usageCounters, webhooks } from '../db/schema';
import type { Env } from '../env';
import { limit, rateLimitFor } from '../platform/config';
import type { Principal } from '../access/policy';
import { period, quotaResetDate } from '../tasks/tasks';

export interface UsageLimits {
  tasksPerMonth: number;
  ratePerMinute: number;
  contextBytes: number;
  bodyBytes: number;
  delegationDepth: number;
  agentsPerAccount: number;
  webhooksPerAccount: number;
  projectsPerAccount: number;
}

/** The limits usage reports, from configuration and the account's plan. */
export function usageLimitsFor(env: Env, plan: Principal['plan']): UsageLimits {
  return {
    tasksPerMonth: limit(env, 'TASKS_PER_MONTH'),
    ratePerMinute: rateLimitFor(env, plan),
    contextBytes: limit(env, 'CONTEXT_BYTES'),
    bodyBytes: limit(env, 'BODY_BYTES'),
    delegationDepth: limit(env, 'DELEGATION_DEPTH'),
    agentsPerAccount: limit(env, 'AGENTS_PER_ACCOUNT'),
    webhooksPerAccount: limit(env, 'WEBHOOKS_PER_ACCOUNT'),
    projectsPerAccount: limit(env, 'PROJECTS_PER_ACCOUNT'),
  };
}

/** Longest task content, in characters (the create and update schemas enforce it). */
export const MAX_CONTENT_CHARS = 500;

export interface UsageJson {
  plan: 'free' | 'pro' | 'scale';
  period: string;
  task_count: number;
  task_limit: number;
  tasks_remaining: number;
  reset_date: string;
  agent_count: number;
  agent_limit: number;
  webhook_count: number;
  webhook_limit: number;
  project_count: number;
  project_limit: number;
  rate_limit_rpm: number;
  max_content_chars: number;
  rate_limit: { requests_per_minute: number };
  limits: {
    context_bytes: number;
    body_bytes: number;
    delegation_depth: number;
    content_chars: number;
    description_chars: number;
    label_chars: number;
    labels_per_task: number;
  };
}

export interface UsageOptions {
  limits: UsageLimits;
  now: number;
}

export async function usage(db: Db, p: Principal, { limits, now }: UsageOptions): Promise<UsageJson> {
  const countOf = (table: typeof agents | typeof webhooks | typeof projects) =>
    db.select({ n: sql<number>`count(*)` }).from(table).where(eq(table.accountId, p.accountId));
  const [counter, agentRows, webhookRows, projectRows] = await db.batch([
    db
      .select({ n: usageCounters.tasksCreated })
      .from(usageCounters)
      .where(and(eq(usageCounters.accountId, p.accountId), eq(usageCounters.period, period(now)))),
    countOf(agents),
    countOf(webhooks),
    countOf(projects),
  ]);
  const used = counter[0]?.n ?? 0;
  return {
    plan: p.plan,
    period: period(now),
    task_count: used,
    task_limit: limits.tasksPerMonth,
    tasks_remaining: Math.max(0, limits.tasksPerMonth - used),
    reset_date: quotaResetDate(now),
    agent_count: agentRows[0]?.n ?? 0,
    agent_limit: limits.agentsPerAccount,
    webhook_count: webhookRows[0]?.n ?? 0,
    webhook_limit: limits.webhooksPerAccount,
    project_count: projectRows[0]?.n ?? 0,
    project_limit: limits.projectsPerAccount,
    rate_limit_rpm: limits.ratePerMinute,
    max_content_chars: MAX_CONTENT_CHARS,
    rate_limit: { requests_per_minute: limits.ratePerMinute },
    limits: {
      context_bytes: limits.contextBytes,
      body_bytes: limits.bodyBytes,
      delegation_depth: limits.delegationDepth,
      content_chars: MAX_CONTENT_CHARS,
      description_chars: 10_000,
      label_chars: 50,
      labels_per_task: 20,
    },
  };
}
