/** /projects: CRUD; restricted keys see only their sandbox project. */
import { type RouteHandler, z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { createProject, deleteProject, getProject, listProjects, ProjectSchema, updateProject } from './projects';
import { limit } from '../platform/config';
import { authedRoute, createRouter, DeletedSchema, errorContent, idParams, jsonBody, jsonContent } from '../access/router';
import { shortText } from '../http/schemas';
import type { AppBindings } from '../env';

export { ProjectSchema };

const fields = {
  name: shortText(200).min(1, 'Must not be empty'),
  emoji: shortText(16).nullish(),
  color: shortText(32).nullish().openapi({ example: '#3498db' }),
  sort_order: z.number().int().min(-1_000_000).max(1_000_000).optional(),
};
const CreateProjectBody = z.strictObject(fields).openapi('CreateProject');
const UpdateProjectBody = z.strictObject({ ...fields, name: fields.name.optional() }).openapi('UpdateProject');
const params = idParams('prj');

const list = authedRoute('projects.list', {
  method: 'get',
  path: '/projects',
  tags: ['Projects'],
  summary: 'List projects',
  responses: { 200: jsonContent(z.array(ProjectSchema), 'Projects by sort_order') },
});
const create = authedRoute('projects.create', {
  method: 'post',
  path: '/projects',
  tags: ['Projects'],
  summary: 'Create a project',
  request: { body: jsonBody(CreateProjectBody) },
  responses: { 201: jsonContent(ProjectSchema, 'The project') },
});
const read = authedRoute('projects.read', {
  method: 'get',
  path: '/projects/{id}',
  tags: ['Projects'],
  summary: 'Read a project',
  request: { params },
  responses: { 200: jsonContent(ProjectSchema, 'The project') },
});
const updateRoute = (method: 'put' | 'patch') =>
  authedRoute('projects.update', {
    method,
    path: '/projects/{id}',
    tags: ['Projects'],
    summary: method === 'put' ? 'Update a project' : 'Update a project (same as PUT)',
    request: { params, body: jsonBody(UpdateProjectBody) },
    responses: { 200: jsonContent(ProjectSchema, 'The project') },
  });
/** PUT and PATCH answer alike. */
const update: RouteHandler<ReturnType<typeof updateRoute>, AppBindings> = async (c) =>
  c.json(
    await updateProject(database(c.env.DB), c.get('principal'), {
      projectId: c.req.valid('param').id,
      input: c.req.valid('json'),
      now: Date.now(),
    }),
    200,
  );
const remove = authedRoute('projects.delete', {
  method: 'delete',
  path: '/projects/{id}',
  tags: ['Projects'],
  summary: 'Delete an empty project',
  request: { params },
  responses: { 200: jsonContent(DeletedSchema, 'Deleted'), 409: errorContent('The project still has tasks') },
});

export const projectRoutes = createRouter()
  .openapi(list, async (c) => c.json(await listProjects(database(c.env.DB), c.get('principal')), 200))
  .openapi(create, async (c) =>
    c.json(
      await createProject(database(c.env.DB), c.get('principal'), {
        input: c.req.valid('json'),
        maxProjects: limit(c.env, 'PROJECTS_PER_ACCOUNT'),
        now: Date.now(),
      }),
      201,
    ),
  )
  .openapi(read, async (c) => c.json(await getProject(database(c.env.DB), c.get('principal'), c.req.valid('param').id), 200))
  .openapi(updateRoute('put'), update)
  .openapi(updateRoute('patch'), update)
  .openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    await deleteProject(database(c.env.DB), c.get('principal'), id);
    return c.json({ deleted: true as const, id }, 200);
  });
