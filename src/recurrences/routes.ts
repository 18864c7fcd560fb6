/** /recurrences: recurring task templates (list, create, partial update incl. pause/resume, delete). */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { limit } from '../platform/config';
import { authedRoute, createRouter, DeletedSchema, errorContent, idParams, jsonBody, jsonContent } from '../access/router';
import { paginationQuery } from '../http/query';
import { timestamp } from '../http/schemas';
import { dueDateInput, priorityInput } from '../tasks/routes';
import { createRecurrence, deleteRecurrence, listRecurrences, recurrenceJson, updateRecurrence } from './recurrences';
import { isTimeZone } from './schedule';

const RULE_TYPES = ['daily', 'weekly', 'monthly', 'yearly'] as const;

export const RecurrenceSchema = z
  .object({
    id: z.string().openapi({ example: 'rec_0Nf3aB1c2D3e4F5g6H7i8J9' }),
    content: z.string(),
    description: z.string().nullable(),
    project_id: z.string().nullable(),
    labels: z.array(z.string()),
    priority: z.number().int(),
    assigned_to_agent_id: z.string().nullable(),
    created_by_agent_id: z.string(),
    rule_type: z.enum(RULE_TYPES),
    interval: z.number().int(),
    timezone: z.string().openapi({ example: 'America/Chicago' }),
    anchor_day: z.number().int().nullable(),
    anchor_month: z.number().int().nullable(),
    anchor_weekday: z.number().int().nullable().openapi({ description: 'Sunday 0' }),
    next_due_at: timestamp,
    active: z.boolean(),
    skip_if_open: z.boolean(),
    last_spawned_at: timestamp.nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi('Recurrence');

const content = z.string().trim().min(1, 'Required').max(500, 'At most 500 characters');
const labels = z.array(z.string().trim().min(1, 'Empty label').max(50, 'At most 50 characters')).max(20, 'At most 20 labels');
const refId = z.string().min(1).max(64);
const timezone = z
  .string()
  .refine(isTimeZone, 'Expected an IANA time zone such as America/Chicago')
  .openapi({ example: 'America/Chicago' });

const fields = {
  description: z.string().max(10_000, 'At most 10000 characters').nullish(),
  project_id: refId.nullish(),
  labels: labels.optional(),
  priority: priorityInput.optional(),
  assigned_to_agent_id: refId.nullish(),
  interval: z.number().int().min(1).max(1000).optional(),
  timezone: timezone.optional(),
  anchor_day: z.number().int().min(1).max(31).nullish(),
  anchor_month: z.number().int().min(1).max(12).nullish(),
  anchor_weekday: z.number().int().min(0).max(6).nullish(),
  next_due_at: dueDateInput.nullish().openapi({
    type: 'string',
    description:
      'The next occurrence; a bare date is local midnight. Omitted: the first occurrence of the rule after now, at local midnight.',
  }),
  active: z.boolean().optional(),
  skip_if_open: z.boolean().optional(),
};

const CreateBody = z.strictObject({ content, rule_type: z.enum(RULE_TYPES), ...fields }).openapi('CreateRecurrence');
const UpdateBody = z
  .strictObject({ content: content.optional(), rule_type: z.enum(RULE_TYPES).optional(), ...fields })
  .openapi('UpdateRecurrence');

const tags = ['Recurrences'];
const params = idParams('rec');

const list = authedRoute('recurrences.list', {
  method: 'get',
  path: '/recurrences',
  tags,
  summary: 'List recurring task templates visible to the key',
  request: { query: z.object(paginationQuery) },
  responses: { 200: jsonContent(z.array(RecurrenceSchema), 'Recurrences, newest first') },
});

const create = authedRoute('recurrences.create', {
  method: 'post',
  path: '/recurrences',
  tags,
  summary: 'Create a recurring task template',
  description: 'The scheduler spawns an ordinary task (with `source_recurrence_id`) at each occurrence, computed in `timezone`.',
  request: { body: jsonBody(CreateBody) },
  responses: {
    201: jsonContent(RecurrenceSchema, 'The recurrence'),
    409: errorContent('Too many recurrences (RECURRENCE_LIMIT_REACHED) or the assignee is deactivated'),
  },
});

const update = authedRoute('recurrences.update', {
  method: 'put',
  path: '/recurrences/{id}',
  tags,
  summary: 'Update a recurrence (send only changed fields; active:false pauses, true resumes)',
  description: 'Changing the rule or resuming recomputes `next_due_at` from now unless `next_due_at` is given.',
  request: { params, body: jsonBody(UpdateBody) },
  responses: { 200: jsonContent(RecurrenceSchema, 'The whole updated recurrence') },
});

const remove = authedRoute('recurrences.delete', {
  method: 'delete',
  path: '/recurrences/{id}',
  tags,
  summary: 'Delete a recurrence (the tasks it spawned remain)',
  request: { params },
  responses: { 200: jsonContent(DeletedSchema, 'Deleted') },
});

export const recurrenceRoutes = createRouter()
  .openapi(list, async (c) => {
    const q = c.req.valid('query');
    const rows = await listRecurrences(database(c.env.DB), c.get('principal'), { limit: q.limit ?? 100, offset: q.offset ?? 0 });
    return c.json(rows.map(recurrenceJson), 200);
  })
  .openapi(create, async (c) => {
    const row = await createRecurrence(database(c.env.DB), c.get('principal'), {
      input: c.req.valid('json'),
      maxPerAccount: limit(c.env, 'RECURRENCES_PER_ACCOUNT'),
      now: Date.now(),
    });
    return c.json(recurrenceJson(row), 201);
  })
  .openapi(update, async (c) => {
    const row = await updateRecurrence(database(c.env.DB), c.get('principal'), {
      recurrenceId: c.req.valid('param').id,
      input: c.req.valid('json'),
      now: Date.now(),
    });
    return c.json(recurrenceJson(row), 200);
  })
  .openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    await deleteRecurrence(database(c.env.DB), c.get('principal'), id);
    return c.json({ deleted: true as const, id }, 200);
  });

/** The body schemas, for the MCP tools that take the same arguments. */
export { CreateBody as CreateRecurrenceBody, UpdateBody as UpdateRecurrenceBody };
