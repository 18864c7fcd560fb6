/** /automations: admin-only rules that act on task events inside the service, and their run log. */
import type { AppBindings } from '../env';
import { type RouteHandler, z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { limit } from '../platform/config';
import { principalCache } from '../access/key-gate';
import { authedRoute, createRouter, DeletedSchema, idParams, jsonBody, jsonContent } from '../access/router';
import { queryInt } from '../http/query';
import { timestamp } from '../http/schemas';
import { TASK_EVENTS } from '../webhooks/events';
import { ACTION_TYPES, CONDITION_FIELDS, CONDITION_OPS } from './rules';
import { createAutomation, deleteAutomation, getAutomation, listAutomations, listRuns, updateAutomation } from './store';

const tags = ['Automations'];

const ConditionSchema = z
  .strictObject({
    field: z.enum(CONDITION_FIELDS),
    op: z.enum(CONDITION_OPS),
    value: z.union([z.string().max(200), z.number()]).optional(),
  })
  .openapi('AutomationCondition', {
    description: 'label: has/not_has; priority: eq/neq/gte/lte; ids: eq/neq/is_null/not_null; source (api, ingress): eq/neq',
  });

const text = (max: number) => z.string().max(max, `At most ${max} characters`);
const id = z.string().min(1).max(64);

const ActionSchema = z
  .strictObject({
    type: z.enum(ACTION_TYPES),
    agent_id: id.optional().openapi({ description: 'assign, delegate' }),
    priority: z.number().int().min(1).max(4).optional().openapi({ description: 'set_priority, create_task, delegate' }),
    label: text(100).min(1).optional().openapi({ description: 'add_label' }),
    policy: z.enum(['required']).optional().openapi({ description: 'set_evidence_policy: only tightens' }),
    content: text(2000).optional().openapi({
      description:
        'add_comment, create_task, delegate. Placeholders: {{event}}, {{task.id}}, {{task.content}}, {{task.priority}}, {{task.project_id}}, {{task.labels}}, {{task.due_date}}',
    }),
    description: text(5000).optional(),
    project_id: id.optional().openapi({ description: 'create_task' }),
    labels: z.array(text(100)).max(20).optional().openapi({ description: 'create_task, delegate' }),
    assigned_to_agent_id: id.optional().openapi({ description: 'create_task' }),
  })
  .openapi('AutomationAction');

const event = z.enum(TASK_EVENTS);
const name = z.string().trim().min(1, 'Required').max(80, 'At most 80 characters');
const conditions = z.array(ConditionSchema).max(10, 'At most 10 conditions');
const actions = z.array(ActionSchema).min(1, 'At least one action').max(5, 'At most 5 actions');

const AutomationSchema = z
  .object({
    id: z.string().openapi({ example: 'aut_0Nf3aB1c2D3e4F5g6H7i8J9' }),
    name: z.string(),
    event: z.string().openapi({ example: 'task.created' }),
    conditions: z.array(ConditionSchema),
    actions: z.array(ActionSchema),
    active: z.boolean(),
    run_count: z.number().int(),
    failure_count: z.number().int().openapi({ description: 'Consecutive failed runs; 10 deactivate the rule' }),
    last_run_at: timestamp.nullable(),
    disabled_reason: z.string().nullable(),
    created_by_agent_id: z.string().openapi({ description: 'The admin as whom the rule acts' }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi('Automation');

const RunSchema = z
  .object({
    id: z.string(),
    automation_id: z.string(),
    event: z.string(),
    event_id: z.string(),
    task_id: z.string().nullable(),
    hop: z.number().int().openapi({ description: '0 for an event from a write, +1 per rule reacting to a rule' }),
    status: z.enum(['succeeded', 'failed', 'skipped']),
    actions: z.array(
      z.object({
        index: z.number().int(),
        type: z.string(),
        outcome: z.enum(['applied', 'skipped_claimed', 'skipped_budget', 'already_applied', 'failed']),
        detail: z.string().optional(),
      }),
    ),
    created_at: timestamp,
  })
  .openapi('AutomationRun');

const CreateBody = z
  .strictObject({ name, event, conditions: conditions.optional(), actions, active: z.boolean().optional() })
  .openapi('CreateAutomation');
const UpdateBody = z
  .strictObject({
    name: name.optional(),
    event: event.optional(),
    conditions: conditions.optional().openapi({ description: 'Replaces the conditions' }),
    actions: actions.optional().openapi({ description: 'Replaces the actions' }),
    active: z.boolean().optional().openapi({ description: 'true also re-enables a rule deactivated after repeated failures' }),
  })
  .openapi('UpdateAutomation');

const params = idParams('aut');
const runQuery = z.object({
  limit: queryInt(1, 100).optional().openapi({ type: 'integer', minimum: 1, maximum: 100, default: 50 }),
  offset: queryInt(0, 1_000_000).optional().openapi({ type: 'integer', minimum: 0, default: 0 }),
});

const list = authedRoute('automations.list', {
  method: 'get',
  path: '/automations',
  tags,
  summary: 'List the account’s automation rules',
  responses: { 200: jsonContent(z.array(AutomationSchema), 'Rules, oldest first') },
});

const read = authedRoute('automations.list', {
  method: 'get',
  path: '/automations/{id}',
  tags,
  summary: 'Read one automation rule',
  request: { params },
  responses: { 200: jsonContent(AutomationSchema, 'The rule') },
});

const create = authedRoute('automations.create', {
  method: 'post',
  path: '/automations',
  tags,
  summary: 'Create an automation rule',
  description:
    'When `event` fires and every condition holds, the actions run in order, in the service, after the event’s write committed. Cascades stop at 3 hops and 25 actions per originating event; a rule never reacts to a task it created; field changes skip a task under another agent’s live claim; ingress tasks are ignored unless a condition is `source eq ingress`.',
  request: { body: jsonBody(CreateBody) },
  responses: { 201: jsonContent(AutomationSchema, 'The rule') },
});

const updateRoute = (method: 'put' | 'patch') =>
  authedRoute('automations.update', {
    method,
    path: '/automations/{id}',
    tags,
    summary: method === 'put' ? 'Update an automation rule' : 'Update an automation rule (same as PUT)',
    request: { params, body: jsonBody(UpdateBody) },
    responses: { 200: jsonContent(AutomationSchema, 'The updated rule') },
  });

const remove = authedRoute('automations.delete', {
  method: 'delete',
  path: '/automations/{id}',
  tags,
  summary: 'Delete an automation rule and its run log',
  request: { params },
  responses: { 200: jsonContent(DeletedSchema, 'Deleted') },
});

const runs = authedRoute('automations.runs', {
  method: 'get',
  path: '/automations/{id}/runs',
  tags,
  summary: 'The rule’s run log: each event it matched, with every action’s outcome',
  request: { params, query: runQuery },
  responses: { 200: jsonContent(z.array(RunSchema), 'Runs, newest first') },
});

/** PUT and PATCH answer alike. */
const update: RouteHandler<ReturnType<typeof updateRoute>, AppBindings> = async (c) =>
  c.json(
    await updateAutomation(database(c.env.DB), c.get('principal'), {
      cache: principalCache(c.env),
      automationId: c.req.valid('param').id,
      input: c.req.valid('json'),
      now: Date.now(),
    }),
    200,
  );

export const automationRoutes = createRouter()
  .openapi(list, async (c) => c.json(await listAutomations(database(c.env.DB), c.get('principal')), 200))
  .openapi(read, async (c) => c.json(await getAutomation(database(c.env.DB), c.get('principal'), c.req.valid('param').id), 200))
  .openapi(create, async (c) =>
    c.json(
      await createAutomation(database(c.env.DB), c.get('principal'), {
        cache: principalCache(c.env),
        input: c.req.valid('json'),
        maxRules: limit(c.env, 'AUTOMATIONS_PER_ACCOUNT'),
        now: Date.now(),
      }),
      201,
    ),
  )
  .openapi(updateRoute('put'), update)
  .openapi(updateRoute('patch'), update)
  .openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    await deleteAutomation(database(c.env.DB), c.get('principal'), id);
    return c.json({ deleted: true as const, id }, 200);
  })
  .openapi(runs, async (c) => {
    const q = c.req.valid('query');
    return c.json(
      await listRuns(database(c.env.DB), c.get('principal'), {
        automationId: c.req.valid('param').id,
        page: { limit: q.limit ?? 50, offset: q.offset ?? 0 },
      }),
      200,
    );
  });

/** The body schemas, for the MCP tools that take the same arguments. */
export { CreateBody as CreateAutomationBody, UpdateBody as UpdateAutomationBody };
