/** /stats and /usage: task statistics scoped like the caller's visibility, and plan usage. */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { NO_PROJECT_NAME, statsAnswer } from '../tasks/stats';
import { usage, usageLimitsFor } from './usage';
import { authedRoute, createRouter, jsonContent } from '../access/router';

const StatsSchema = z
  .object({
    total: z.number().int(),
    completed: z.number().int(),
    open: z.number().int(),
    completed_today: z.number().int(),
    due_today: z.number().int().openapi({ description: 'Open tasks due today' }),
    overdue: z.number().int().openapi({ description: 'Open tasks due before today' }),
    by_project: z
      .record(z.string(), z.number().int())
      .openapi({ description: `Tasks per project name; tasks without a project under "${NO_PROJECT_NAME}"` }),
    total_tasks: z.number().int().openapi({ description: 'Same as total' }),
    completed_tasks: z.number().int().openapi({ description: 'Same as completed' }),
    pending_tasks: z.number().int().openapi({ description: 'Same as open' }),
    total_agents: z.number().int().openapi({ description: 'Agents of the account' }),
    active_agents: z.number().int(),
  })
  .openapi('Stats');

const UsageSchema = z
  .object({
    plan: z.enum(['free', 'pro', 'scale']),
    period: z.string().openapi({ example: '2026-01' }),
    task_count: z.number().int().openapi({ description: 'Tasks created this month' }),
    task_limit: z.number().int(),
    tasks_remaining: z.number().int(),
    reset_date: z.string().openapi({ example: '2026-02-01' }),
    agent_count: z.number().int(),
    agent_limit: z.number().int(),
    webhook_count: z.number().int(),
    webhook_limit: z.number().int(),
    project_count: z.number().int(),
    project_limit: z.number().int(),
    rate_limit_rpm: z.number().int().openapi({ description: 'Requests per minute per key on this plan' }),
    max_content_chars: z.number().int(),
    rate_limit: z.object({ requests_per_minute: z.number().int() }),
    limits: z.object({
      context_bytes: z.number().int(),
      body_bytes: z.number().int(),
      delegation_depth: z.number().int(),
      content_chars: z.number().int(),
      description_chars: z.number().int(),
      label_chars: z.number().int(),
      labels_per_task: z.number().int(),
    }),
  })
  .openapi('Usage');

const stats = authedRoute('account.stats', {
  method: 'get',
  path: '/stats',
  tags: ['Account'],
  summary: 'Task statistics over the tasks the key can see',
  responses: { 200: jsonContent(StatsSchema, 'Statistics') },
});

const usageRoute = authedRoute('account.usage', {
  method: 'get',
  path: '/usage',
  tags: ['Account'],
  summary: 'Plan, this month’s task count against the quota, and rate limits',
  responses: { 200: jsonContent(UsageSchema, 'Usage') },
});

export const statsRoutes = createRouter()
  .openapi(stats, async (c) => c.json(await statsAnswer(database(c.env.DB), c.get('principal'), Date.now()), 200))
  .openapi(usageRoute, async (c) =>
    c.json(
      await usage(database(c.env.DB), c.get('principal'), { limits: usageLimitsFor(c.env, c.get('principal').plan), now: Date.now() }),
      200,
    ),
  );
