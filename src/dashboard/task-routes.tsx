/**
 * The task page's subtasks (add, check off, delete) and links (add, remove): the same domain
 * functions and operations as /v1/tasks/{id}/subtasks and /links, answered with a redirect back.
 */
import { z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { createSubtask, deleteSubtask, toggleSubtask } from '../tasks/subtasks';
import { removeLink } from '../tasks/task-links';
import { CreateLinkBody } from '../tasks/link-routes';
import { addLinkChange } from '../tasks/use-cases';
import { db, formOf, one, parse, principal, type Ctx, type DashboardBindings } from './kit';

const ID_MAX = 64;
const param = (c: Ctx, name: string) => c.req.param(name)!.slice(0, ID_MAX);
const back = (c: Ctx, anchor: string) => c.redirect(`/app/tasks/${encodeURIComponent(param(c, 'id'))}#${anchor}`, 303);
const blank = (v: string | undefined) => (v?.trim() ? v.trim() : undefined);

const SubtaskForm = z.object({ content: z.string().trim().min(1, 'Write the step first').max(500, 'At most 500 characters') });

export const taskExtras = new Hono<DashboardBindings>()
  .post('/tasks/:id/subtasks', async (c) => {
    const p = principal(c, 'tasks.subtasks.write');
    const { content } = parse(SubtaskForm, { content: one(await formOf(c), 'content') });
    await createSubtask(db(c), p, { taskId: param(c, 'id'), input: { content }, now: Date.now() });
    return back(c, 'h-subtasks');
  })
  .post('/tasks/:id/subtasks/:subtaskId/toggle', async (c) => {
    const p = principal(c, 'tasks.subtasks.write');
    await toggleSubtask(db(c), p, { taskId: param(c, 'id'), subtaskId: param(c, 'subtaskId'), now: Date.now() });
    return back(c, 'h-subtasks');
  })
  .post('/tasks/:id/subtasks/:subtaskId/delete', async (c) => {
    const p = principal(c, 'tasks.subtasks.write');
    await deleteSubtask(db(c), p, { taskId: param(c, 'id'), subtaskId: param(c, 'subtaskId'), now: Date.now() });
    return back(c, 'h-subtasks');
  })
  .post('/tasks/:id/links', async (c) => {
    const p = principal(c, 'tasks.links.write');
    const form = await formOf(c);
    const input = parse(CreateLinkBody, {
      kind: one(form, 'kind'),
      ref: one(form, 'ref') ?? '',
      repo: blank(one(form, 'repo')),
      url: blank(one(form, 'url')),
    });
    await addLinkChange({ fx: { env: c.env, ctx: c.executionCtx }, principal: p }, param(c, 'id'), input);
    return back(c, 'h-links');
  })
  .post('/tasks/:id/links/:linkId/delete', async (c) => {
    const p = principal(c, 'tasks.links.write');
    await removeLink(db(c), p, { taskId: param(c, 'id'), linkId: param(c, 'linkId'), now: Date.now() });
    return back(c, 'h-links');
  });
