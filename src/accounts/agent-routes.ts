/** /agents: the account's agent directory, keys and runs. */
import type { AppBindings } from '../env';
import { type RouteHandler, z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { principalCache } from '../access/key-gate';
import { createAgent, deleteAgent, getAgent, listAgents, rotateAgentKey, updateAgent } from './agents';
import { keyPepper, limit } from '../platform/config';
import { authedRoute, createRouter, DeletedSchema, errorContent, idParams, jsonBody, jsonContent } from '../access/router';
import { agentSlug, ROLE, shortText, timestamp } from '../http/schemas';
import { secretAnswer } from '../http/idempotency';

export const AgentSchema = z
  .object({
    id: z.string().openapi({ example: 'agt_0Nf3aB1c2D3e4F5g6H7i8J9' }),
    account_id: z.string(),
    name: z.string(),
    display_name: z.string().nullable(),
    description: z.string().nullable(),
    role: ROLE,
    active: z.boolean(),
    is_default: z.boolean().openapi({ description: 'The recovery agent whose key `POST /v1/recover` rotates' }),
    key_prefix: z.string().openapi({ description: 'First characters of the key, to tell keys apart', example: 'dlg_a1B2c3' }),
    sandbox_project_id: z.string().nullable(),
    last_seen_at: timestamp
      .nullable()
      .openapi({ description: 'When the agent’s key last made a request, up to 5 minutes stale; null: never' }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi('Agent');

export const AgentWithKeySchema = AgentSchema.extend({
  api_key: z.string().openapi({ description: 'The plaintext key, shown only in this answer', example: 'dlg_...' }),
}).openapi('AgentWithKey');

/** The MCP server's fine-grained scopes; together they are what the coordinator role grants. */
const PERMISSION = z.enum(['tasks.read_all', 'tasks.comment_all']);

export const CreateAgentBody = z
  .strictObject({
    name: agentSlug,
    display_name: shortText(100).nullish(),
    description: shortText(1000).nullish(),
    role: ROLE.optional().openapi({ description: 'Defaults to worker (least privilege)' }),
    permissions: z
      .array(PERMISSION)
      .max(10)
      .optional()
      .openapi({ description: 'Instead of role: any of these scopes makes a coordinator, none a worker' }),
  })
  .refine((b) => b.role === undefined || b.permissions === undefined, {
    message: 'Give role or permissions, not both',
    path: ['permissions'],
  })
  .openapi('CreateAgent');

export const UpdateAgentBody = z
  .strictObject({
    name: agentSlug.optional(),
    display_name: shortText(100).nullish(),
    description: shortText(1000).nullish(),
    role: ROLE.optional(),
    active: z.boolean().optional(),
  })
  .openapi('UpdateAgent');

const params = idParams('agt');

const list = authedRoute('agents.list', {
  method: 'get',
  path: '/agents',
  tags: ['Agents'],
  summary: 'List the account’s agents',
  responses: { 200: jsonContent(z.array(AgentSchema), 'Agents, oldest first (never with keys)') },
});

const create = authedRoute('agents.create', {
  method: 'post',
  path: '/agents',
  tags: ['Agents'],
  summary: 'Create an agent; its key is returned once',
  request: { body: jsonBody(CreateAgentBody) },
  responses: { 201: jsonContent(AgentWithKeySchema, 'The agent with its plaintext key'), 409: errorContent('Name taken') },
});

const read = authedRoute('agents.read', {
  method: 'get',
  path: '/agents/{id}',
  tags: ['Agents'],
  summary: 'Read one agent',
  request: { params },
  responses: { 200: jsonContent(AgentSchema, 'The agent') },
});

const updateRoute = (method: 'put' | 'patch') =>
  authedRoute('agents.update', {
    method,
    path: '/agents/{id}',
    tags: ['Agents'],
    summary: method === 'put' ? 'Update an agent' : 'Update an agent (same as PUT; the Python SDK sends PATCH)',
    request: { params, body: jsonBody(UpdateAgentBody) },
    responses: { 200: jsonContent(AgentSchema, 'The updated agent'), 409: errorContent('Refused') },
  });

const remove = authedRoute('agents.delete', {
  method: 'delete',
  path: '/agents/{id}',
  tags: ['Agents'],
  summary: 'Delete an agent',
  description:
    'Refused (409) for the recovery agent, the caller itself, the last active agent, and agents that tasks, recurrences, automation rules or ingress sources still refer to (AGENT_REFERENCED, naming them in `references`).',
  request: { params },
  responses: { 200: jsonContent(DeletedSchema, 'Deleted'), 409: errorContent('Refused, with the reason') },
});

const rotate = authedRoute('agents.rotate_key', {
  method: 'post',
  path: '/agents/{id}/rotate-key',
  tags: ['Agents'],
  summary: 'Rotate an agent’s key; the old key stops working at once',
  request: { params },
  responses: {
    200: jsonContent(AgentWithKeySchema, 'The agent with its new plaintext key'),
    409: errorContent('A parallel rotation won; its key is the live one (KEY_ROTATION_CONFLICT)'),
  },
});

/** PUT and PATCH answer alike. */
const update: RouteHandler<ReturnType<typeof updateRoute>, AppBindings> = async (c) =>
  c.json(
    await updateAgent(database(c.env.DB), c.get('principal'), {
      cache: principalCache(c.env),
      agentId: c.req.valid('param').id,
      input: c.req.valid('json'),
      now: Date.now(),
    }),
    200,
  );

export const agentRoutes = createRouter()
  .openapi(list, async (c) => c.json(await listAgents(database(c.env.DB), c.get('principal')), 200))
  .openapi(create, async (c) => {
    const { permissions, ...body } = c.req.valid('json');
    const input = permissions === undefined ? body : { ...body, role: permissions.length ? ('coordinator' as const) : ('worker' as const) };
    const agent = await createAgent(database(c.env.DB), c.get('principal'), {
      pepper: keyPepper(c.env),
      input,
      maxAgents: limit(c.env, 'AGENTS_PER_ACCOUNT'),
      now: Date.now(),
    });
    secretAnswer(c);
    return c.json({ ...agent, api_key: agent.api_key! }, 201);
  })
  .openapi(read, async (c) => c.json(await getAgent(database(c.env.DB), c.get('principal'), c.req.valid('param').id), 200))
  .openapi(updateRoute('put'), update)
  .openapi(updateRoute('patch'), update)
  .openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    await deleteAgent(database(c.env.DB), c.get('principal'), { cache: principalCache(c.env), agentId: id });
    return c.json({ deleted: true as const, id }, 200);
  })
  .openapi(rotate, async (c) => {
    const agent = await rotateAgentKey(database(c.env.DB), c.get('principal'), {
      cache: principalCache(c.env),
      pepper: keyPepper(c.env),
      agentId: c.req.valid('param').id,
      now: Date.now(),
    });
    secretAnswer(c);
    return c.json({ ...agent, api_key: agent.api_key! }, 200);
  });
