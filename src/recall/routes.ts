/** GET /context/search: recall a decision or fact from the context of any task the key may read. */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { CONTEXT_SOURCES } from '../tasks/task-context';
import { authedRoute, createRouter, jsonContent } from '../access/router';
import { queryBoolean, queryInt, querySingle } from '../http/query';
import { timestamp } from '../http/schemas';
import { searchContext } from './search';

const RecallSchema = z
  .object({
    query: z.string(),
    count: z.number().int(),
    results: z.array(
      z.object({
        task_id: z.string(),
        task_content: z.string(),
        key: z.string(),
        value: z.unknown(),
        source: z.enum(CONTEXT_SOURCES),
        score: z
          .number()
          .openapi({ description: 'Higher is better: 1 + bm25 relevance, doubled for human_stated, halved when superseded' }),
        version: z.number().int(),
        superseded: z.boolean(),
        recorded_at: timestamp,
      }),
    ),
  })
  .openapi('RecallResults');

const SearchQuery = z.object({
  q: querySingle.pipe(z.string().trim().min(1, 'Required').max(500, 'At most 500 characters')),
  project_id: querySingle.optional(),
  source: querySingle.pipe(z.enum(CONTEXT_SOURCES)).optional(),
  key: querySingle.pipe(z.string().min(1).max(200, 'At most 200 characters')).optional(),
  limit: queryInt(1, 100).optional().openapi({ type: 'integer', minimum: 1, maximum: 100, default: 20 }),
  include_superseded: queryBoolean.optional(),
});

const search = authedRoute('context.search', {
  method: 'get',
  path: '/context/search',
  tags: ['Context'],
  summary: 'Recall: search the context entries of every task the key may read',
  description:
    'Lexical (any of the words), ranked by relevance with human_stated entries weighted highest. Superseded (overwritten or removed) entries only with include_superseded=true.',
  request: { query: SearchQuery },
  responses: { 200: jsonContent(RecallSchema, 'Matches, best first') },
});

export const recallRoutes = createRouter().openapi(search, async (c) => {
  const q = c.req.valid('query');
  const results = await searchContext(database(c.env.DB), c.get('principal'), {
    q: q.q,
    project_id: q.project_id,
    source: q.source,
    key: q.key,
    limit: q.limit ?? 20,
    include_superseded: q.include_superseded ?? false,
  });
  return c.json({ query: q.q, count: results.length, results }, 200);
});
