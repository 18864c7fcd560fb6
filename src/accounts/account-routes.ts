/** GET /agent/me: the calling agent, its account, mode, role and sandbox project. */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { describeMe } from './agent-me';
import { mcpSetup } from './mcp-setup';
import { authedRoute, createRouter, jsonContent } from '../access/router';
import { AgentSchema } from './agent-routes';
import { ProjectSchema } from './project-routes';
import { ROLE, timestamp } from '../http/schemas';

const MeSchema = z
  .object({
    agent: AgentSchema.extend({ use_case: z.string().nullable() }),
    account: z.object({
      id: z.string(),
      name: z.string().nullable(),
      status: z.enum(['restricted', 'active']).openapi({ description: 'restricted until a human claims an agent-first account' }),
      plan: z.string(),
      claimed_at: timestamp.nullable(),
      created_at: timestamp,
    }),
    mode: z.enum(['restricted', 'full', 'admin']),
    role: ROLE,
    sandbox_project: ProjectSchema.nullable(),
    claim: z
      .object({
        status: z.enum(['pending', 'claimed']),
        email: z.string().openapi({ description: 'The human email, masked' }),
        how: z.string().nullable(),
      })
      .nullable()
      .openapi({ description: 'Agent-first accounts only' }),
    mcp: z
      .object({
        url: z.string().openapi({ example: 'https://api.delega.dev/mcp' }),
        config: z.object({
          mcpServers: z.record(
            z.string(),
            z.object({ type: z.literal('http'), url: z.string(), headers: z.record(z.string(), z.string()) }),
          ),
        }),
        how: z.string(),
      })
      .openapi({ description: 'The MCP endpoint (Streamable HTTP) and a ready `mcpServers` entry for agent hosts' }),
  })
  .openapi('Me');

const me = authedRoute('account.me', {
  method: 'get',
  path: '/agent/me',
  tags: ['Account'],
  summary: 'The calling agent, its account, mode, role and sandbox project',
  responses: { 200: jsonContent(MeSchema, 'Who this key is') },
});

export const accountRoutes = createRouter().openapi(me, async (c) =>
  c.json({ ...(await describeMe(database(c.env.DB), c.get('principal'))), mcp: mcpSetup(c.env) }, 200),
);
