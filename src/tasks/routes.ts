/** /tasks: CRUD, the filtered list, complete/uncomplete, delegation (delegate, chain, children) and dedup. */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { database } from '../db/client';
import { taskChain, taskChildren } from './delegation';
import { findDuplicates } from './dedup';
import { taskWithSubtasks } from './subtasks';
import { parseContext } from './task-context';
import { listTasks } from './task-list';
import { taskJson, TaskSchema } from './task-json';
import { EVIDENCE_KINDS, normaliseDueDate, PRIORITY_WORDS } from './tasks';
import {
  completeTaskChange,
  createTaskChange,
  delegateTaskChange,
  deleteTaskChange,
  uncompleteTaskChange,
  updateTaskChange,
  type TaskChange,
} from './use-cases';
import type { AppBindings } from '../env';
import { limit } from '../platform/config';
import { badRequest } from '../platform/errors';
import { authedRoute, createRouter, DeletedSchema, errorContent, idParams, jsonBody, jsonContent } from '../access/router';
import { paginationQuery, queryBoolean, queryList, querySingle } from '../http/query';
import { shortText, timestamp } from '../http/schemas';
import type { TaskJson } from './task-json';

export const EvidenceSchema = z
  .strictObject({
    kind: z.enum(EVIDENCE_KINDS),
    ref: z.string().trim().min(1, 'Required').max(500, 'At most 500 characters'),
    summary: shortText(1000).optional(),
  })
  .openapi('Evidence');

const CompletedTaskSchema = TaskSchema.extend({
  next_occurrence: timestamp
    .optional()
    .openapi({ description: 'When the task came from a recurrence that is still active: its next occurrence' }),
}).openapi('CompletedTask');

const PRIORITY_MESSAGE = 'Priority must be 1, 2, 3 or 4, or one of low, medium, high, urgent';

/** 1..4, or the words low|medium|high|urgent (any case). */
export const priorityInput = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const word = typeof v === 'string' ? v.trim().toLowerCase() : null;
    const n =
      word === null
        ? v
        : word in PRIORITY_WORDS
          ? PRIORITY_WORDS[word as keyof typeof PRIORITY_WORDS]
          : /^[1-4]$/.test(word)
            ? Number(word)
            : NaN;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 4) {
      ctx.addIssue({ code: 'custom', message: PRIORITY_MESSAGE });
      return z.NEVER;
    }
    return n;
  })
  .openapi({
    oneOf: [
      { type: 'integer', minimum: 1, maximum: 4 },
      { type: 'string', enum: ['low', 'medium', 'high', 'urgent'] },
    ],
    example: 2,
  });

/** `YYYY-MM-DD` or a full ISO 8601 timestamp, stored normalised. */
export const dueDateInput = z
  .string()
  .transform((v, ctx) => {
    const n = normaliseDueDate(v);
    if (n === null) {
      ctx.addIssue({ code: 'custom', message: 'Expected a date YYYY-MM-DD or an ISO 8601 timestamp' });
      return z.NEVER;
    }
    return n;
  })
  .openapi({ type: 'string', example: '2026-01-15' });

const content = z.string().trim().min(1, 'Required').max(500, 'At most 500 characters');
const description = z.string().max(10_000, 'At most 10000 characters');
const labels = z.array(z.string().trim().min(1, 'Empty label').max(50, 'At most 50 characters')).max(20, 'At most 20 labels');
const refId = z.string().min(1).max(64);

const taskFields = {
  description: description.nullish(),
  priority: priorityInput.optional(),
  labels: labels.optional(),
  due_date: dueDateInput.nullish(),
  project_id: refId.nullish(),
  assigned_to_agent_id: refId.nullish(),
};

export const CreateTaskBody = z
  .strictObject({ content, ...taskFields, evidence_policy: z.enum(['required']).nullish() })
  .openapi('CreateTask');

export const UpdateTaskBody = z
  .strictObject({ content: content.optional(), ...taskFields, evidence_policy: z.enum(['required']).nullish() })
  .openapi('UpdateTask');

export const DelegateBody = z.strictObject({ content, ...taskFields }).openapi('DelegateTask');

export const CompleteBody = z
  .strictObject({ evidence: z.array(EvidenceSchema).max(20, 'At most 20 evidence items').optional() })
  .openapi('CompleteTask');

export const DedupBody = z
  .strictObject({
    content,
    threshold: z.number().min(0).max(1).optional().openapi({ default: 0.6 }),
  })
  .openapi('DedupRequest');

const DedupSchema = z
  .object({
    has_duplicates: z.boolean(),
    matches: z.array(
      z.object({ task_id: z.string(), content: z.string(), score: z.number().openapi({ description: 'Cosine similarity, 0-1' }) }),
    ),
  })
  .openapi('DedupMatches');

const SubtaskItemSchema = z
  .object({
    id: z.string(),
    task_id: z.string(),
    content: z.string(),
    completed: z.boolean(),
    sort_order: z.number().int(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi('Subtask');

const TaskDetailSchema = TaskSchema.extend({
  context: z.record(z.string(), z.unknown()).openapi({ description: 'The task context (its version is context_version)' }),
  subtasks: z.array(SubtaskItemSchema).openapi({ description: 'The checklist, in order' }),
}).openapi('TaskDetail');

const ChainSchema = z
  .object({
    root_id: z.string(),
    chain: z.array(TaskSchema),
    depth: z.number().int().openapi({ description: 'Depth of the deepest task in the chain (root = 0)' }),
    completed_count: z.number().int(),
    total_count: z.number().int(),
  })
  .openapi('TaskChain');

const dateQuery = dueDateInput.openapi({ type: 'string', example: '2026-12-31' });

const ListQuery = z.object({
  project_id: querySingle.optional(),
  completed: queryBoolean.optional(),
  priority: priorityInput.optional().openapi({ type: 'string', example: '3' }),
  search: querySingle.pipe(z.string().max(200, 'At most 200 characters')).optional(),
  label: queryList.optional(),
  labels: queryList
    .optional()
    .openapi({ description: 'Comma list or repeated; every label must be on the task (at most 20 with `label`)' }),
  due: z
    .union([
      z.enum(['today', 'upcoming', 'overdue']),
      z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'Expected today, upcoming, overdue or a date YYYY-MM-DD'),
    ])
    .optional()
    .openapi({ description: 'today, upcoming, overdue (the MCP server), or one date YYYY-MM-DD (the Python SDK)' }),
  due_after: dateQuery.optional().openapi({ description: 'Due on or after' }),
  due_before: dateQuery.optional().openapi({ description: 'Due on or before (a date includes that whole day)' }),
  claimed: queryBoolean.optional().openapi({ description: 'Holds a live claim (lease not expired)' }),
  assigned_to: querySingle.optional().openapi({ description: 'Agent id, or `me`' }),
  ...paginationQuery,
});

const params = idParams('tsk');
const tags = ['Tasks'];

const list = authedRoute('tasks.list', {
  method: 'get',
  path: '/tasks',
  tags,
  summary: 'List tasks visible to the key',
  description:
    'A bare JSON array, newest first (soonest due first when a due filter is given). `X-Total-Count` is exact when the page ends the list or the listing is counted (no filter or one of completed, priority, project_id, a single label, assigned_to; workers: no filter); otherwise `X-Total-Count-Lower-Bound` says how many at least. `Link` carries `rel="next"` while more pages exist.',
  request: { query: ListQuery },
  responses: { 200: jsonContent(z.array(TaskSchema), 'Tasks') },
});

const create = authedRoute('tasks.create', {
  method: 'post',
  path: '/tasks',
  tags,
  summary: 'Create a task',
  request: { body: jsonBody(CreateTaskBody) },
  responses: { 201: jsonContent(TaskSchema, 'The created task'), 402: errorContent('Monthly task quota reached (TASK_QUOTA_EXCEEDED)') },
});

const read = authedRoute('tasks.read', {
  method: 'get',
  path: '/tasks/{id}',
  tags,
  summary: 'Read one task, with its context and checklist',
  request: { params },
  responses: { 200: jsonContent(TaskDetailSchema, 'The task') },
});

const updateRoute = (method: 'put' | 'patch') =>
  authedRoute('tasks.update', {
    method,
    path: '/tasks/{id}',
    tags,
    summary: method === 'put' ? 'Update a task (send only changed fields)' : 'Update a task (same as PUT; the Python SDK sends PATCH)',
    request: { params, body: jsonBody(UpdateTaskBody) },
    responses: { 200: jsonContent(TaskSchema, 'The whole updated task'), 409: errorContent('The task is completed (TASK_COMPLETED)') },
  });

const remove = authedRoute('tasks.delete', {
  method: 'delete',
  path: '/tasks/{id}',
  tags,
  summary: 'Delete a task with its subtasks, comments, context history and links',
  request: { params },
  responses: { 200: jsonContent(DeletedSchema, 'Deleted'), 409: errorContent('The task has delegated children (TASK_HAS_CHILDREN)') },
});

const complete = authedRoute('tasks.complete', {
  method: 'post',
  path: '/tasks/{id}/complete',
  tags,
  summary: 'Complete a task (ends any live claim)',
  description:
    'An empty body is `{}`. With `evidence_policy: required`, at least one evidence item of kind commit, pr, ci_check, deploy_sha or artifact_url is needed (422 EVIDENCE_REQUIRED).',
  request: { params, body: jsonBody(CompleteBody, false) },
  responses: {
    200: jsonContent(CompletedTaskSchema, 'The whole completed task'),
    409: errorContent('Already completed'),
    422: errorContent('Evidence required'),
  },
});

const uncomplete = authedRoute('tasks.uncomplete', {
  method: 'post',
  path: '/tasks/{id}/uncomplete',
  tags,
  summary: 'Reopen a completed task',
  description: 'Returns the task to `open`, or to `delegated` while some of its children are still open; increments `reopen_count`.',
  request: { params },
  responses: { 200: jsonContent(TaskSchema, 'The whole reopened task'), 409: errorContent('Not completed') },
});

const delegate = authedRoute('tasks.delegate', {
  method: 'post',
  path: '/tasks/{id}/delegate',
  tags,
  summary: 'Delegate part of a task to a new child task',
  request: { params, body: jsonBody(DelegateBody) },
  responses: {
    201: jsonContent(TaskSchema, 'The child task'),
    402: errorContent('Monthly task quota reached'),
    409: errorContent('The parent is completed'),
    422: errorContent('Delegation depth limit reached (DELEGATION_TOO_DEEP)'),
  },
});

const chain = authedRoute('tasks.chain', {
  method: 'get',
  path: '/tasks/{id}/chain',
  tags,
  summary: 'The delegation chain, from the root to the deepest descendant',
  request: { params },
  responses: { 200: jsonContent(ChainSchema, 'The chain') },
});

const children = authedRoute('tasks.children', {
  method: 'get',
  path: '/tasks/{id}/children',
  tags,
  summary: 'Direct child tasks',
  request: { params },
  responses: { 200: jsonContent(z.array(TaskSchema), 'Children, oldest first') },
});

const dedup = authedRoute('tasks.dedup', {
  method: 'post',
  path: '/tasks/dedup',
  tags,
  summary: 'Find open tasks similar to some content (TF-IDF cosine)',
  request: { body: jsonBody(DedupBody) },
  responses: { 200: jsonContent(DedupSchema, 'Matches at or above the threshold, most similar first') },
});

type Ctx = Context<AppBindings>;

/** The request's change: its caller, and where its effects go. */
const change = (c: Ctx): TaskChange => ({ fx: { env: c.env, ctx: c.executionCtx }, principal: c.get('principal') });

const isDueWord = (due: string | undefined): due is 'today' | 'upcoming' | 'overdue' =>
  due === 'today' || due === 'upcoming' || due === 'overdue';
const laterDate = (a: string, b: string | undefined) => (b === undefined || a > b ? a : b);
const earlierDate = (a: string, b: string | undefined) => (b === undefined || a < b ? a : b);

interface PageLinks {
  requestUrl: string;
  /** The page size asked for. */
  limitValue: number;
  offset: number;
  /** Whether a next page exists. */
  hasMore: boolean;
}

/** `Link` with the next (and previous) page of the same query. */
function linkHeader({ requestUrl, limitValue, offset, hasMore }: PageLinks): string | null {
  const links: string[] = [];
  const page = (o: number) => {
    const url = new URL(requestUrl);
    url.searchParams.set('limit', String(limitValue));
    url.searchParams.set('offset', String(o));
    return url.toString();
  };
  if (hasMore) links.push(`<${page(offset + limitValue)}>; rel="next"`);
  if (offset > 0) links.push(`<${page(Math.max(0, offset - limitValue))}>; rel="prev"`);
  return links.length ? links.join(', ') : null;
}

export const taskRoutes = createRouter()
  .openapi(list, async (c) => {
    const p = c.get('principal');
    const q = c.req.valid('query');
    const now = Date.now();
    const pageLimit = q.limit ?? 100;
    const offset = q.offset ?? 0;
    const labelSet = [...new Set([...(q.label ?? []), ...(q.labels ?? [])])];
    const maxLabels = limit(c.env, 'LABELS_PER_QUERY');
    // Each label is one more EXISTS in the listing's SQL; past the cap SQLite's expression tree overflows.
    if (labelSet.length > maxLabels) {
      throw badRequest('VALIDATION_FAILED', `Invalid query: labels: at most ${maxLabels} labels`, [
        { field: 'labels', message: `At most ${maxLabels} labels` },
      ]);
    }
    const page = await listTasks(database(c.env.DB), p, {
      filters: {
        project_id: q.project_id,
        completed: q.completed,
        priority: q.priority,
        search: q.search === '' ? undefined : q.search,
        labels: labelSet.length ? labelSet : undefined,
        // A date is that one day: due on or after it and on or before it.
        due: isDueWord(q.due) ? q.due : undefined,
        due_after: isDueWord(q.due) || q.due === undefined ? q.due_after : laterDate(q.due, q.due_after),
        due_before: isDueWord(q.due) || q.due === undefined ? q.due_before : earlierDate(q.due, q.due_before),
        claimed: q.claimed,
        assigned_to: q.assigned_to === 'me' ? p.agentId : q.assigned_to,
        limit: pageLimit,
        offset,
      },
      now,
    });
    if (page.total !== null) c.header('X-Total-Count', String(page.total));
    else if (page.hasMore) c.header('X-Total-Count-Lower-Bound', String(offset + page.tasks.length + 1));
    const link = linkHeader({ requestUrl: c.req.url, limitValue: pageLimit, offset, hasMore: page.hasMore });
    if (link) c.header('Link', link);
    return c.json(page.tasks, 200);
  })
  .openapi(create, async (c) => {
    return c.json(await createTaskChange(change(c), c.req.valid('json')), 201);
  })
  .openapi(read, async (c) => {
    const now = Date.now();
    const { task, subtasks } = await taskWithSubtasks(database(c.env.DB), c.get('principal'), c.req.valid('param').id);
    return c.json({ ...taskJson(task, now), context: parseContext(task.context), subtasks }, 200);
  })
  .openapi(updateRoute('put'), async (c) => c.json(await update(c, c.req.valid('param').id, c.req.valid('json')), 200))
  .openapi(updateRoute('patch'), async (c) => c.json(await update(c, c.req.valid('param').id, c.req.valid('json')), 200))
  .openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    await deleteTaskChange(change(c), id);
    return c.json({ deleted: true as const, id }, 200);
  })
  .openapi(complete, async (c) => {
    const body = c.req.valid('json') ?? {};
    const { task, nextOccurrence } = await completeTaskChange(change(c), c.req.valid('param').id, body.evidence ?? []);
    return c.json(nextOccurrence !== null ? { ...task, next_occurrence: nextOccurrence } : task, 200);
  })
  .openapi(uncomplete, async (c) => {
    return c.json(await uncompleteTaskChange(change(c), c.req.valid('param').id), 200);
  })
  .openapi(delegate, async (c) => {
    return c.json(await delegateTaskChange(change(c), c.req.valid('param').id, c.req.valid('json')), 201);
  })
  .openapi(chain, async (c) => {
    const now = Date.now();
    const result = await taskChain(database(c.env.DB), c.get('principal'), c.req.valid('param').id);
    const items = result.rows.map((r) => taskJson(r, now));
    return c.json(
      {
        root_id: result.rootId,
        chain: items,
        depth: items.reduce((m, t) => Math.max(m, t.delegation_depth), 0),
        completed_count: items.filter((t) => t.completed).length,
        total_count: items.length,
      },
      200,
    );
  })
  .openapi(children, async (c) => {
    const now = Date.now();
    const rows = await taskChildren(database(c.env.DB), c.get('principal'), c.req.valid('param').id);
    return c.json(
      rows.map((r) => taskJson(r, now)),
      200,
    );
  })
  .openapi(dedup, async (c) => {
    const body = c.req.valid('json');
    const matches = await findDuplicates(database(c.env.DB), c.get('principal'), {
      content: body.content,
      threshold: body.threshold ?? 0.6,
    });
    return c.json(
      { has_duplicates: matches.length > 0, matches: matches.map((m) => ({ task_id: m.id, content: m.content, score: m.similarity })) },
      200,
    );
  });

const update = (c: Ctx, id: string, input: z.infer<typeof UpdateTaskBody>): Promise<TaskJson> => updateTaskChange(change(c), id, input);
