/** /stats and /usage: task statistics scoped like the caller's visibility, and plan usage. */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { taskStats } from '../domain/stats';
import { usage } from '../domain/usage';
import { limit } from '../lib/config';
import { authedRoute, createRouter, jsonContent } from './openapi';

const StatsSchema = z
  .object({
    total: z.number().int(),
    completed: z.number().int(),
    open: z.number().int(),
    completed_today: z.number().int(),
    due_today: z.number().int().openapi({ description: 'Open tasks due today' }),
    overdue: z.number().int().openapi({ description: 'Open tasks due before today' }),
    by_project: z.record(z.string(), z.object({ total: z.number().int(), completed: z.number().int() })).openapi({ description: 'Keyed by project id; tasks without a project under "none"' }),
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
  .openapi(stats, async (c) => c.json(await taskStats(database(c.env.DB), c.get('principal'), Date.now()), 200))
  .openapi(usageRoute, async (c) =>
    c.json(
      await usage(
        database(c.env.DB),
        c.get('principal'),
        {
          tasksPerMonth: limit(c.env, 'TASKS_PER_MONTH'),
          ratePerMinute: limit(c.env, 'RATE_PER_MINUTE'),
          contextBytes: limit(c.env, 'CONTEXT_BYTES'),
          bodyBytes: limit(c.env, 'BODY_BYTES'),
          delegationDepth: limit(c.env, 'DELEGATION_DEPTH'),
        },
        Date.now(),
      ),
      200,
    ),
  );
