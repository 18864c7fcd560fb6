/** /ingress-sources (admin-only CRUD and delivery log) and the public, signed `POST /ingress/{sourceId}`. */
import type { AppBindings } from '../env';
import { type RouteHandler, createRoute, z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { limit } from '../platform/config';
import { ApiError } from '../platform/errors';
import { rateCounter } from '../access/rate-limiter';
import { readCapped } from '../http/body';
import { authedRoute, createRouter, DeletedSchema, errorContent, idParams, jsonBody, jsonContent } from '../access/router';
import { queryInt } from '../http/query';
import { timestamp } from '../http/schemas';
import { receiveDelivery } from './receive';
import { INGRESS_SIGNATURE_HEADER } from './signature';
import { createSource, deleteSource, getSource, listSourceDeliveries, listSources, updateSource } from './sources';

const tags = ['Ingress'];

const path = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'A dot path such as workflow.conclusion or runs.0.status');

const FilterSchema = z
  .strictObject({
    path,
    op: z.enum(['eq', 'neq', 'exists', 'not_exists']),
    value: z
      .union([z.string().max(500), z.number(), z.boolean()])
      .optional()
      .openapi({ description: 'For eq and neq (strict equality)' }),
  })
  .openapi('IngressFilter');

const TemplateSchema = z
  .strictObject({
    content: z.string().min(1).max(2000).openapi({
      description: 'Task title; {{dot.path}} placeholders resolve against the payload (primitives only)',
      example: 'CI failed: {{workflow.name}} on {{branch}}',
    }),
    description: z.string().max(2000).optional(),
    priority: z.number().int().min(1).max(4).optional(),
    labels: z.array(z.string().min(1).max(100)).max(10).optional().openapi({ description: 'Static labels; `ingress` is always added' }),
    dedupe_key: z.string().min(1).max(2000).optional().openapi({
      description: 'A retried delivery with the same rendered key makes no new task; default: the body’s SHA-256',
      example: '{{run.id}}',
    }),
  })
  .openapi('IngressTemplate');

const name = z.string().trim().min(1, 'Required').max(80, 'At most 80 characters');
const id = z.string().min(1).max(64);

const SourceSchema = z
  .object({
    id: z.string().openapi({ example: 'ing_0Nf3aB1c2D3e4F5g6H7i8J9' }),
    name: z.string(),
    ingest_path: z.string().openapi({ example: '/v1/ingress/ing_0Nf3aB1c2D3e4F5g6H7i8J9' }),
    scheme: z.literal('hmac-sha256'),
    template: TemplateSchema,
    filters: z.array(FilterSchema),
    default_project_id: z.string().nullable(),
    default_assignee_agent_id: z.string().nullable(),
    active: z.boolean(),
    delivery_count: z.number().int(),
    last_delivery_at: timestamp.nullable(),
    created_by_agent_id: z.string(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi('IngressSource');

const SourceWithSecretSchema = SourceSchema.extend({
  secret: z
    .string()
    .optional()
    .openapi({ description: 'The signing secret: only in the answer that created the source or rotated it', example: 'ingsec_...' }),
}).openapi('IngressSourceWithSecret');

const DeliverySchema = z
  .object({
    id: z.string(),
    source_id: z.string(),
    outcome: z
      .string()
      .openapi({ description: 'created, duplicate, filtered, or the refusal’s error code in lower case', example: 'created' }),
    status_code: z.number().int(),
    body_sha256: z.string(),
    body_bytes: z.number().int(),
    task_id: z.string().nullable(),
    created_at: timestamp,
  })
  .openapi('IngressDelivery');

const CreateBody = z
  .strictObject({
    name,
    template: TemplateSchema,
    filters: z.array(FilterSchema).max(10).optional(),
    default_project_id: id.nullish(),
    default_assignee_agent_id: id.nullish(),
    active: z.boolean().optional(),
  })
  .openapi('CreateIngressSource');

const UpdateBody = z
  .strictObject({
    name: name.optional(),
    template: TemplateSchema.optional(),
    filters: z.array(FilterSchema).max(10).optional().openapi({ description: 'Replaces the filters' }),
    default_project_id: id.nullish(),
    default_assignee_agent_id: id.nullish(),
    active: z.boolean().optional(),
    rotate_secret: z.boolean().optional().openapi({ description: 'Mints a new secret, shown once; the old one stops working at once' }),
  })
  .openapi('UpdateIngressSource');

const params = idParams('ing');
const pageQuery = z.object({
  limit: queryInt(1, 100).optional().openapi({ type: 'integer', minimum: 1, maximum: 100, default: 50 }),
  offset: queryInt(0, 1_000_000).optional().openapi({ type: 'integer', minimum: 0, default: 0 }),
});

const list = authedRoute('ingress.list', {
  method: 'get',
  path: '/ingress-sources',
  tags,
  summary: 'List the account’s ingress sources',
  responses: { 200: jsonContent(z.array(SourceSchema), 'Sources, oldest first (never with secrets)') },
});

const read = authedRoute('ingress.list', {
  method: 'get',
  path: '/ingress-sources/{id}',
  tags,
  summary: 'Read one ingress source',
  request: { params },
  responses: { 200: jsonContent(SourceSchema, 'The source') },
});

const create = authedRoute('ingress.create', {
  method: 'post',
  path: '/ingress-sources',
  tags,
  summary: 'Create an ingress source: a signed public endpoint that turns external events into tasks',
  request: { body: jsonBody(CreateBody) },
  responses: { 201: jsonContent(SourceWithSecretSchema, 'The source with its secret, shown this once') },
});

const updateRoute = (method: 'put' | 'patch') =>
  authedRoute('ingress.update', {
    method,
    path: '/ingress-sources/{id}',
    tags,
    summary: method === 'put' ? 'Update an ingress source' : 'Update an ingress source (same as PUT)',
    request: { params, body: jsonBody(UpdateBody) },
    responses: { 200: jsonContent(SourceWithSecretSchema, 'The source; `secret` only when rotated') },
  });

const remove = authedRoute('ingress.delete', {
  method: 'delete',
  path: '/ingress-sources/{id}',
  tags,
  summary: 'Delete an ingress source and its delivery log',
  request: { params },
  responses: { 200: jsonContent(DeletedSchema, 'Deleted') },
});

const deliveries = authedRoute('ingress.deliveries', {
  method: 'get',
  path: '/ingress-sources/{id}/deliveries',
  tags,
  summary: 'The delivery log: outcome, body hash and size (never the payload)',
  request: { params, query: pageQuery },
  responses: { 200: jsonContent(z.array(DeliverySchema), 'Deliveries, newest first') },
});

const AcceptedSchema = z
  .object({
    outcome: z.enum(['created', 'duplicate', 'filtered']),
    delivery_id: z.string(),
    task_id: z.string().nullable(),
  })
  .openapi('IngressAccepted');

const ingest = createRoute({
  method: 'post',
  path: '/ingress/{sourceId}',
  tags,
  summary: 'Deliver an external event (signed; no API key)',
  description:
    'Sign the raw body: `X-Delega-Ingress-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<raw body>">` under the source’s secret, within 5 minutes. The task goes to the source’s pinned project and assignee, with the `ingress` label and `source_ingress_id`.',
  request: {
    params: z.object({
      sourceId: z
        .string()
        .min(1)
        .max(64)
        .openapi({ param: { name: 'sourceId', in: 'path' }, example: 'ing_0abc' }),
    }),
    headers: z.object({ 'x-delega-ingress-signature': z.string().optional().openapi({ example: 't=1767225600,v1=5f2b...' }) }),
  },
  responses: {
    201: jsonContent(AcceptedSchema, 'A task was created'),
    200: jsonContent(AcceptedSchema, 'A retried delivery (same dedupe key): its task, nothing new'),
    202: jsonContent(AcceptedSchema, 'Filtered out: nothing created'),
    400: errorContent('The body is not a JSON object or array (INGRESS_BODY_NOT_JSON)'),
    401: errorContent('Unsigned, malformed, stale (over 5 minutes) or wrong signature'),
    402: errorContent('The account’s monthly task quota is used up'),
    404: errorContent('No such source'),
    409: errorContent(
      'Replayed signed request (INGRESS_REPLAYED), paused source (INGRESS_SOURCE_PAUSED), or a pinned project or assignee gone',
    ),
    413: errorContent('Body larger than the limit'),
    422: errorContent('Template paths missing from the payload (INGRESS_TEMPLATE_PATH_MISSING)'),
    429: errorContent(
      'The source’s rate limit (verified new deliveries), or the smaller one for unsigned, badly signed or replayed ones; see Retry-After',
    ),
  },
  'x-delega-operation': 'public',
});

/** PUT and PATCH answer alike. */
const update: RouteHandler<ReturnType<typeof updateRoute>, AppBindings> = async (c) =>
  c.json(
    await updateSource(database(c.env.DB), c.get('principal'), {
      sourceId: c.req.valid('param').id,
      input: c.req.valid('json'),
      now: Date.now(),
    }),
    200,
  );

export const ingressRoutes = createRouter()
  .openapi(list, async (c) => c.json(await listSources(database(c.env.DB), c.get('principal')), 200))
  .openapi(read, async (c) => c.json(await getSource(database(c.env.DB), c.get('principal'), c.req.valid('param').id), 200))
  .openapi(create, async (c) =>
    c.json(
      await createSource(database(c.env.DB), c.get('principal'), {
        input: c.req.valid('json'),
        maxSources: limit(c.env, 'INGRESS_SOURCES_PER_ACCOUNT'),
        now: Date.now(),
      }),
      201,
    ),
  )
  .openapi(updateRoute('put'), update)
  .openapi(updateRoute('patch'), update)
  .openapi(remove, async (c) => {
    const { id: sourceId } = c.req.valid('param');
    await deleteSource(database(c.env.DB), c.get('principal'), sourceId);
    return c.json({ deleted: true as const, id: sourceId }, 200);
  })
  .openapi(deliveries, async (c) => {
    const q = c.req.valid('query');
    return c.json(
      await listSourceDeliveries(database(c.env.DB), c.get('principal'), {
        sourceId: c.req.valid('param').id,
        page: {
          limit: q.limit ?? 50,
          offset: q.offset ?? 0,
        },
      }),
      200,
    );
  })
  .openapi(ingest, async (c) => {
    const max = limit(c.env, 'INGRESS_BODY_BYTES');
    const tooLarge = new ApiError({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      message: `Request body is larger than ${Math.floor(max / 1024)} KiB`,
    });
    if (Number(c.req.header('Content-Length') ?? '0') > max) throw tooLarge;
    // The signature covers the exact bytes received, so the body is read raw, never re-serialised.
    const body = c.req.raw.body ? await readCapped(c.req.raw.body, max) : new Uint8Array();
    if (body === null) throw tooLarge;
    const answer = await receiveDelivery(
      { db: database(c.env.DB), env: c.env, ctx: c.executionCtx, rate: rateCounter(c.env), now: Date.now() },
      { sourceId: c.req.valid('param').sourceId, signature: c.req.header(INGRESS_SIGNATURE_HEADER) ?? null, body },
    );
    for (const [header, value] of Object.entries(answer.headers)) c.header(header, value);
    return c.json(answer.body, answer.status);
  });

/** The body schemas, for the MCP tools that take the same arguments. */
export { CreateBody as CreateIngressSourceBody, UpdateBody as UpdateIngressSourceBody };
