/** /tasks/{id}/subtasks: the task's checklist. */
import { type RouteHandler, z } from '@hono/zod-openapi';
import { database } from '../db/client';
import type { AppBindings } from '../env';
import { createSubtask, deleteSubtask, listSubtasks, toggleSubtask, updateSubtask } from './subtasks';
import { authedRoute, createRouter, DeletedSchema, idParams, jsonBody, jsonContent } from '../access/router';
import { timestamp } from '../http/schemas';

const SubtaskSchema = z
  .object({
    id: z.string().openapi({ example: 'stk_0abc' }),
    task_id: z.string(),
    content: z.string(),
    completed: z.boolean(),
    sort_order: z.number().int(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi('Subtask');

const content = z.string().trim().min(1, 'Required').max(500, 'At most 500 characters');
const sortOrder = z.number().int().min(-1_000_000).max(1_000_000);

const CreateBody = z
  .strictObject({ content, completed: z.boolean().optional(), sort_order: sortOrder.optional() })
  .openapi('CreateSubtask');
const UpdateBody = z
  .strictObject({ content: content.optional(), completed: z.boolean().optional(), sort_order: sortOrder.optional() })
  .openapi('UpdateSubtask');

const taskParams = idParams('tsk');
const params = taskParams.extend({
  sid: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'sid', in: 'path' }, example: 'stk_0abc' }),
});
const tags = ['Subtasks'];

const list = authedRoute('tasks.subtasks.read', {
  method: 'get',
  path: '/tasks/{id}/subtasks',
  tags,
  summary: 'List the checklist, by sort_order',
  request: { params: taskParams },
  responses: { 200: jsonContent(z.array(SubtaskSchema), 'Subtasks') },
});

const create = authedRoute('tasks.subtasks.write', {
  method: 'post',
  path: '/tasks/{id}/subtasks',
  tags,
  summary: 'Add a checklist item (appended unless sort_order is given)',
  request: { params: taskParams, body: jsonBody(CreateBody) },
  responses: { 201: jsonContent(SubtaskSchema, 'The subtask') },
});

const updateRoute = (method: 'put' | 'patch') =>
  authedRoute('tasks.subtasks.write', {
    method,
    path: '/tasks/{id}/subtasks/{sid}',
    tags,
    summary: method === 'put' ? 'Update a checklist item' : 'Update a checklist item (same as PUT)',
    request: { params, body: jsonBody(UpdateBody) },
    responses: { 200: jsonContent(SubtaskSchema, 'The subtask') },
  });

const toggle = authedRoute('tasks.subtasks.write', {
  method: 'post',
  path: '/tasks/{id}/subtasks/{sid}/toggle',
  tags,
  summary: 'Flip a checklist item’s completion',
  request: { params },
  responses: { 200: jsonContent(SubtaskSchema, 'The subtask') },
});

const remove = authedRoute('tasks.subtasks.write', {
  method: 'delete',
  path: '/tasks/{id}/subtasks/{sid}',
  tags,
  summary: 'Delete a checklist item',
  request: { params },
  responses: { 200: jsonContent(DeletedSchema, 'Deleted') },
});

/** PUT and PATCH answer alike. */
const update: RouteHandler<ReturnType<typeof updateRoute>, AppBindings> = async (c) => {
  const { id, sid } = c.req.valid('param');
  return c.json(
    await updateSubtask(database(c.env.DB), c.get('principal'), {
      taskId: id,
      subtaskId: sid,
      input: c.req.valid('json'),
      now: Date.now(),
    }),
    200,
  );
};

export const subtaskRoutes = createRouter()
  .openapi(list, async (c) => c.json(await listSubtasks(database(c.env.DB), c.get('principal'), c.req.valid('param').id), 200))
  .openapi(create, async (c) =>
    c.json(
      await createSubtask(database(c.env.DB), c.get('principal'), {
        taskId: c.req.valid('param').id,
        input: c.req.valid('json'),
        now: Date.now(),
      }),
      201,
    ),
  )
  .openapi(updateRoute('put'), update)
  .openapi(updateRoute('patch'), update)
  .openapi(toggle, async (c) => {
    const { id, sid } = c.req.valid('param');
    return c.json(await toggleSubtask(database(c.env.DB), c.get('principal'), { taskId: id, subtaskId: sid, now: Date.now() }), 200);
  })
  .openapi(remove, async (c) => {
    const { id, sid } = c.req.valid('param');
    await deleteSubtask(database(c.env.DB), c.get('principal'), { taskId: id, subtaskId: sid, now: Date.now() });
    return c.json({ deleted: true as const, id: sid }, 200);
  });
