/** GET /fleet/attention: what a coordinator should look at across the account's tasks. */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { ATTENTION_LIMIT, fleetAttention, REOPEN_THRESHOLD } from './fleet';
import { authedRoute, createRouter, jsonContent } from '../access/router';
import { TaskSchema } from '../tasks/task-json';

const tasks = (description: string) => z.array(TaskSchema).openapi({ description });

const AttentionSchema = z
  .object({
    count: z.number().int().openapi({ description: 'Entries over all buckets' }),
    buckets: z.object({
      abandoned_claims: tasks('Claims whose lease ran out and that nobody has claimed again'),
      silent_holders: tasks('Live claims without a heartbeat for more than half their lease'),
      errored: tasks('Tasks whose session reported errored'),
      waiting_input: tasks('Tasks whose session waits for input'),
      overdue: tasks('Open tasks past their due date'),
      looping: tasks(`Open tasks reopened ${REOPEN_THRESHOLD} or more times`),
    }),
  })
  .openapi('FleetAttention');

const attention = authedRoute('fleet.attention', {
  method: 'get',
  path: '/fleet/attention',
  tags: ['Queue'],
  summary: 'Tasks that need a coordinator’s attention',
  description: `Each bucket holds at most ${ATTENTION_LIMIT} open tasks, highest priority first. Scoped like stats: coordinators and admins see the account, workers their own tasks.`,
  responses: { 200: jsonContent(AttentionSchema, 'The lists') },
});

export const fleetRoutes = createRouter().openapi(attention, async (c) =>
  c.json(await fleetAttention(database(c.env.DB), c.get('principal'), Date.now()), 200),
);
