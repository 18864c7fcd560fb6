/** /tasks/{id}/links: where a task's work lives (branches, commits, PRs, URLs). */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { LINK_KINDS, listLinks, removeLink } from './task-links';
import { addLinkChange } from './use-cases';
import { authedRoute, createRouter, DeletedSchema, idParams, jsonBody, jsonContent } from '../access/router';
import { timestamp } from '../http/schemas';

const LinkSchema = z
  .object({
    id: z.string().openapi({ example: 'lnk_0abc' }),
    task_id: z.string(),
    kind: z.enum(LINK_KINDS),
    repo: z.string().nullable(),
    ref: z.string(),
    url: z.string().nullable(),
    created_by_agent_id: z.string().nullable(),
    created_at: timestamp,
  })
  .openapi('TaskLink');

const httpUrl = z
  .url('Must be a URL')
  .max(2000, 'At most 2000 characters')
  .refine((u) => /^https?:\/\//i.test(u), 'Must be an http or https URL');

export const CreateLinkBody = z
  .strictObject({
    kind: z.enum(LINK_KINDS),
    repo: z.string().trim().min(1).max(200, 'At most 200 characters').nullish().openapi({ example: 'acme/api' }),
    ref: z.string().trim().min(1, 'Required').max(500, 'At most 500 characters').openapi({ example: 'feature/login' }),
    url: httpUrl.nullish(),
  })
  .openapi('CreateTaskLink');

const params = idParams('tsk');
const tags = ['Task links'];

const list = authedRoute('tasks.links.read', {
  method: 'get',
  path: '/tasks/{id}/links',
  tags,
  summary: 'List the task’s links, oldest first',
  request: { params },
  responses: { 200: jsonContent(z.array(LinkSchema), 'Links') },
});

const create = authedRoute('tasks.links.write', {
  method: 'post',
  path: '/tasks/{id}/links',
  tags,
  summary: 'Link a branch, commit, pull request or URL',
  request: { params, body: jsonBody(CreateLinkBody) },
  responses: { 201: jsonContent(LinkSchema, 'The link') },
});

const remove = authedRoute('tasks.links.write', {
  method: 'delete',
  path: '/tasks/{id}/links/{linkId}',
  tags,
  summary: 'Remove a link from the task',
  request: {
    params: params.extend({
      linkId: z
        .string()
        .min(1)
        .max(64)
        .openapi({ param: { name: 'linkId', in: 'path' }, example: 'lnk_0abc' }),
    }),
  },
  responses: { 200: jsonContent(DeletedSchema, 'Deleted') },
});

export const taskLinkRoutes = createRouter()
  .openapi(list, async (c) => c.json(await listLinks(database(c.env.DB), c.get('principal'), c.req.valid('param').id), 200))
  .openapi(create, async (c) => {
    const { link } = await addLinkChange(
      { fx: { env: c.env, ctx: c.executionCtx }, principal: c.get('principal') },
      c.req.valid('param').id,
      c.req.valid('json'),
    );
    return c.json(link, 201);
  })
  .openapi(remove, async (c) => {
    const { id, linkId } = c.req.valid('param');
    await removeLink(database(c.env.DB), c.get('principal'), { taskId: id, linkId, now: Date.now() });
    return c.json({ deleted: true as const, id: linkId }, 200);
  });
