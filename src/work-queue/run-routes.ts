/** GET /agents/{id}/runs: an agent's claim sessions, newest first, paginated. */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { listAgentRuns, RunSchema } from '../tasks/runs';
import { authedRoute, createRouter, idParams, jsonContent } from '../access/router';
import { paginationQuery } from '../http/query';

const DEFAULT_LIMIT = 100;

const list = authedRoute('agents.runs', {
  method: 'get',
  path: '/agents/{id}/runs',
  tags: ['Agents'],
  summary: 'An agent’s runs (claim sessions), newest first',
  description: 'Workers may read only their own runs. `X-Total-Count` has the total; `Link` points at the next page.',
  request: { params: idParams('agt'), query: z.object(paginationQuery) },
  responses: { 200: jsonContent(z.array(RunSchema), 'Runs, newest first') },
});

export const runRoutes = createRouter().openapi(list, async (c) => {
  const { id } = c.req.valid('param');
  const query = c.req.valid('query');
  const page = { limit: query.limit ?? DEFAULT_LIMIT, offset: query.offset ?? 0 };
  const { runs, total } = await listAgentRuns(database(c.env.DB), c.get('principal'), { agentId: id, page });
  c.header('X-Total-Count', String(total));
  if (page.offset + runs.length < total) {
    const next = new URL(c.req.url);
    next.searchParams.set('limit', String(page.limit));
    next.searchParams.set('offset', String(page.offset + page.limit));
    c.header('Link', `<${next.pathname}${next.search}>; rel="next"`);
  }
  return c.json(runs, 200);
});
