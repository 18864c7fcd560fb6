/** /tasks/{id}/context: the task's versioned JSON context and its ledger. */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { CONTEXT_SOURCES, contextHistory, getContext, parseHistoryCursor, patchContext } from './task-context';
import { limit } from '../platform/config';
import { authedRoute, createRouter, errorContent, idParams, jsonBody, jsonContent } from '../access/router';
import { paginationQuery, queryInt, querySingle } from '../http/query';
import { timestamp } from '../http/schemas';

const ProvenanceSchema = z
  .object({
    author_agent_id: z.string().nullable(),
    author_name: z.string().nullable().openapi({ description: 'The author’s display name or name; null once the agent is deleted' }),
    source: z.enum(CONTEXT_SOURCES),
    version: z.number().int(),
    created_at: timestamp,
  })
  .openapi('ContextProvenance');

const ContextSchema = z
  .object({
    context: z.record(z.string(), z.unknown()),
    version: z.number().int(),
    provenance: z.record(z.string(), ProvenanceSchema).optional().openapi({ description: 'Per key, with ?include=provenance' }),
  })
  .openapi('TaskContext');

const ConflictSchema = z
  .object({
    error: z.string(),
    code: z.literal('CONTEXT_VERSION_CONFLICT'),
    version: z.number().int(),
    context: z.record(z.string(), z.unknown()),
  })
  .openapi('ContextConflict');

const HistoryEntrySchema = z
  .object({
    id: z.string(),
    key: z.string(),
    value: z.unknown().openapi({ description: 'The value written; null when the key was removed' }),
    version: z.number().int(),
    source: z.enum(CONTEXT_SOURCES),
    author_agent_id: z.string().nullable(),
    author_name: z.string().nullable(),
    created_at: timestamp,
    superseded_at: timestamp.nullable().openapi({ description: 'When a later write of the key replaced this value; null while live' }),
  })
  .openapi('ContextHistoryEntry');

const HistorySchema = z
  .object({
    entries: z.array(HistoryEntrySchema),
    next_cursor: z.string().nullable().openapi({ description: 'Pass as `cursor` for older entries; null on the last page' }),
  })
  .openapi('ContextHistory');

const PatchBody = z.record(z.string(), z.unknown()).openapi('ContextPatch', {
  description: 'A JSON object merged into the context (RFC 7396: a null value removes the key)',
  example: { notes: 'Found 3 competitors' },
});

const params = idParams('tsk');
const tags = ['Task context'];

const read = authedRoute('tasks.context.read', {
  method: 'get',
  path: '/tasks/{id}/context',
  tags,
  summary: 'Read the task context',
  request: { params, query: z.object({ include: querySingle.pipe(z.enum(['provenance'])).optional() }) },
  responses: { 200: jsonContent(ContextSchema, 'The context and its version') },
});

const patch = authedRoute('tasks.context.write', {
  method: 'patch',
  path: '/tasks/{id}/context',
  tags,
  summary: 'Merge a JSON object into the task context',
  description:
    'Concurrent merges of different keys never lose a key. `expected_version` guards the write: on mismatch 409 carries the current `version` and `context`.',
  request: {
    params,
    query: z.object({
      expected_version: queryInt(0, 2_147_483_647).optional(),
      source: querySingle
        .pipe(z.enum(CONTEXT_SOURCES))
        .optional()
        .openapi({ type: 'string', enum: [...CONTEXT_SOURCES], default: 'agent_inferred' }),
    }),
    body: jsonBody(PatchBody),
  },
  responses: {
    200: jsonContent(ContextSchema, 'The merged context and its new version'),
    409: jsonContent(ConflictSchema, 'Version conflict, or the task is completed'),
    413: errorContent('Context larger than the limit (CONTEXT_TOO_LARGE)'),
  },
});

const history = authedRoute('tasks.context.read', {
  method: 'get',
  path: '/tasks/{id}/context/history',
  tags,
  summary: 'The append-only ledger of context changes, newest first',
  request: {
    params,
    query: z.object({
      key: querySingle.optional(),
      limit: paginationQuery.limit,
      cursor: querySingle
        .pipe(
          z
            .string()
            .max(600)
            .refine((v) => parseHistoryCursor(v) !== null, 'Not a cursor from next_cursor'),
        )
        .optional(),
    }),
  },
  responses: { 200: jsonContent(HistorySchema, 'A page of ledger entries') },
});

export const taskContextRoutes = createRouter()
  .openapi(read, async (c) => {
    const q = c.req.valid('query');
    return c.json(
      await getContext(database(c.env.DB), c.get('principal'), {
        taskId: c.req.valid('param').id,
        withProvenance: q.include === 'provenance',
      }),
      200,
    );
  })
  .openapi(patch, async (c) => {
    const q = c.req.valid('query');
    const result = await patchContext(database(c.env.DB), c.get('principal'), {
      taskId: c.req.valid('param').id,
      patch: c.req.valid('json'),
      expectedVersion: q.expected_version,
      source: q.source ?? 'agent_inferred',
      maxBytes: limit(c.env, 'CONTEXT_BYTES'),
      now: Date.now(),
    });
    return c.json(result, 200);
  })
  .openapi(history, async (c) => {
    const q = c.req.valid('query');
    const cursor = q.cursor === undefined ? undefined : (parseHistoryCursor(q.cursor) ?? undefined);
    return c.json(
      await contextHistory(database(c.env.DB), c.get('principal'), {
        taskId: c.req.valid('param').id,
        key: q.key,
        page: { limit: q.limit ?? 100, cursor },
      }),
      200,
    );
  });
