/** /tasks/{id}/comments: discussion on a task (allowed on completed tasks too). */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { deleteComment, listComments } from './comments';
import { addCommentChange } from './use-cases';
import { authedRoute, createRouter, DeletedSchema, idParams, jsonBody, jsonContent } from '../access/router';
import { paginationQuery } from '../http/query';
import { timestamp } from '../http/schemas';

const CommentSchema = z
  .object({
    id: z.string().openapi({ example: 'cmt_0abc' }),
    task_id: z.string(),
    content: z.string(),
    author: z.string().nullable(),
    agent_id: z.string().nullable(),
    created_at: timestamp,
  })
  .openapi('Comment');

export const CreateCommentBody = z
  .strictObject({
    content: z.string().trim().min(1, 'Required').max(10_000, 'At most 10000 characters'),
    author: z
      .string()
      .trim()
      .min(1)
      .max(100, 'At most 100 characters')
      .nullish()
      .openapi({ description: 'Display name; defaults to the agent’s name' }),
  })
  .openapi('CreateComment');

const taskParams = idParams('tsk');
const params = taskParams.extend({
  cid: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'cid', in: 'path' }, example: 'cmt_0abc' }),
});
const tags = ['Comments'];

const list = authedRoute('tasks.comments.read', {
  method: 'get',
  path: '/tasks/{id}/comments',
  tags,
  summary: 'List comments, oldest first',
  request: { params: taskParams, query: z.object(paginationQuery) },
  responses: { 200: jsonContent(z.array(CommentSchema), 'Comments') },
});

const create = authedRoute('tasks.comments.write', {
  method: 'post',
  path: '/tasks/{id}/comments',
  tags,
  summary: 'Add a comment',
  request: { params: taskParams, body: jsonBody(CreateCommentBody) },
  responses: { 201: jsonContent(CommentSchema, 'The comment') },
});

const remove = authedRoute('tasks.comments.delete', {
  method: 'delete',
  path: '/tasks/{id}/comments/{cid}',
  tags,
  summary: 'Delete a comment (its author, or an admin)',
  request: { params },
  responses: { 200: jsonContent(DeletedSchema, 'Deleted') },
});

export const commentRoutes = createRouter()
  .openapi(list, async (c) => {
    const q = c.req.valid('query');
    return c.json(
      await listComments(database(c.env.DB), c.get('principal'), {
        taskId: c.req.valid('param').id,
        page: { limit: q.limit ?? 100, offset: q.offset ?? 0 },
      }),
      200,
    );
  })
  .openapi(create, async (c) => {
    const { comment } = await addCommentChange(
      { fx: { env: c.env, ctx: c.executionCtx }, principal: c.get('principal') },
      c.req.valid('param').id,
      c.req.valid('json'),
    );
    return c.json(comment, 201);
  })
  .openapi(remove, async (c) => {
    const { id, cid } = c.req.valid('param');
    await deleteComment(database(c.env.DB), c.get('principal'), { taskId: id, commentId: cid });
    return c.json({ deleted: true as const, id: cid }, 200);
  });
