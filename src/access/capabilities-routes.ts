/** GET /capabilities: the authorisation table rendered for the calling key. */
import { z } from '@hono/zod-openapi';
import { capabilities, OPERATIONS } from './policy';
import { authedRoute, createRouter, jsonContent } from './router';

const CapabilitiesSchema = z
  .object({
    agent_id: z.string(),
    account_id: z.string(),
    mode: z.enum(['restricted', 'full', 'admin']),
    role: z.enum(['worker', 'coordinator', 'admin']),
    operations: z
      .record(
        z.string(),
        z.object({
          allowed: z.boolean(),
          scope: z.string(),
          task: z
            .enum(['owner', 'work'])
            .optional()
            .openapi({ description: 'For writes to one task: the standing on it the key needs (see task_standings)' }),
          agent: z
            .enum(['self'])
            .optional()
            .openapi({ description: 'For writes to one agent: `self`, the calling agent itself (unless any_target)' }),
          comment: z
            .enum(['author'])
            .optional()
            .openapi({ description: 'For writes to one comment: `author`, its author (unless any_target)' }),
          any_target: z
            .boolean()
            .optional()
            .openapi({ description: 'With a standing: whether this key may do it to every target of the account without it (admins)' }),
        }),
      )
      .openapi({
        description: `Every operation of the API (${OPERATIONS.length}), whether this key may perform it, and the scope that narrows it`,
      }),
    task_standings: z.object({ owner: z.string(), work: z.string(), self: z.string(), author: z.string() }).openapi({
      description:
        'What each standing means: who stands as `owner` of a task (delete, reassign, rewrite, delegate, reopen) and who may `work` it (context, subtasks, links, complete), a live claim giving `work`, never `owner`; `self` for an agent, `author` for a comment',
    }),
  })
  .openapi('Capabilities');

const read = authedRoute('account.capabilities', {
  method: 'get',
  path: '/capabilities',
  tags: ['Account'],
  summary: 'The live capability matrix for this key',
  responses: { 200: jsonContent(CapabilitiesSchema, 'Mode, role and every operation') },
});

export const capabilityRoutes = createRouter().openapi(read, (c) => c.json(capabilities(c.get('principal')), 200));
