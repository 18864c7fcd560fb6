/** /webhooks: admin-only subscriptions, the delivery log, ping and redelivery. */
import type { AppBindings } from '../env';
import { type RouteHandler, z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { principalCache } from '../access/key-gate';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  pingWebhook,
  redeliver,
  updateWebhook,
  WebhookSchema,
} from './webhooks';
import type { Env } from '../env';
import { isDevelopment, limit } from '../platform/config';
import { TASK_EVENTS } from './events';
import { secretAnswer } from '../http/idempotency';
import { authedRoute, createRouter, DeletedSchema, errorContent, idParams, jsonBody, jsonContent } from '../access/router';
import { queryInt } from '../http/query';
import { shortText, timestamp } from '../http/schemas';

const EVENT_LIST = z
  .array(z.string().max(64))
  .max(TASK_EVENTS.length * 2)
  .openapi({ items: { type: 'string', enum: [...TASK_EVENTS] }, example: ['task.created', 'task.completed'] });

const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z
    .string()
    .optional()
    .openapi({ description: 'The generated signing secret, shown only here and only when you did not send one', example: 'whsec_...' }),
}).openapi('WebhookCreated');

const AttemptSchema = z
  .object({
    attempt: z.number().int(),
    status_code: z.number().int().nullable().openapi({ description: 'HTTP status of the answer; null for a network error or timeout' }),
    error: z.string().nullable(),
    duration_ms: z.number().int(),
    created_at: timestamp,
  })
  .openapi('WebhookAttempt');

export const DeliverySchema = z
  .object({
    id: z.string().openapi({ example: 'dlv_0Nf3aB1c2D3e4F5g6H7i8J9' }),
    webhook_id: z.string(),
    event: z.string().openapi({ example: 'task.created' }),
    status: z.enum(['pending', 'succeeded', 'retrying', 'failed']),
    attempt_count: z.number().int(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: timestamp,
    updated_at: timestamp,
    attempts: z.array(AttemptSchema).openapi({ description: 'Every attempt, oldest first' }),
  })
  .openapi('WebhookDelivery');

const secret = z.string().min(8, 'At least 8 characters').max(256, 'At most 256 characters');
const url = z.string().min(1).max(2048).openapi({ example: 'https://hooks.example.com/delega' });

export const CreateWebhookBody = z
  .strictObject({
    url,
    events: EVENT_LIST,
    secret: secret.optional().openapi({ description: 'Write-only; generated (`whsec_...`) and returned once when omitted' }),
    description: shortText(500).nullish(),
    active: z.boolean().optional(),
  })
  .openapi('CreateWebhook');

const UpdateWebhookBody = z
  .strictObject({
    url: url.optional(),
    events: EVENT_LIST.optional(),
    secret: secret.optional().openapi({ description: 'Replaces the signing secret (write-only)' }),
    description: shortText(500).nullish(),
    active: z.boolean().optional().openapi({ description: 'true also clears an automatic deactivation and its failure streak' }),
  })
  .openapi('UpdateWebhook');

const params = idParams('whk');
const deliveryParams = params.extend({
  delivery_id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'delivery_id', in: 'path' }, example: 'dlv_0abc' }),
});
const deliveryQuery = z.object({
  limit: queryInt(1, 100).optional().openapi({ type: 'integer', minimum: 1, maximum: 100, default: 50 }),
  offset: queryInt(0, 1_000_000).optional().openapi({ type: 'integer', minimum: 0, default: 0 }),
});

const settings = (env: Env) => ({ development: isDevelopment(env) });

const list = authedRoute('webhooks.list', {
  method: 'get',
  path: '/webhooks',
  tags: ['Webhooks'],
  summary: 'List the account’s webhooks',
  responses: { 200: jsonContent(z.array(WebhookSchema), 'Webhooks, oldest first (never with secrets)') },
});

const create = authedRoute('webhooks.create', {
  method: 'post',
  path: '/webhooks',
  tags: ['Webhooks'],
  summary: 'Subscribe a URL to task events',
  description:
    'https only, to a public host (http to localhost only in development). Deliveries are signed: `X-Delega-Signature: sha256=<hex HMAC-SHA-256 of "{X-Delega-Timestamp}.{raw body}">`.',
  request: { body: jsonBody(CreateWebhookBody) },
  responses: { 201: jsonContent(WebhookWithSecretSchema, 'The webhook; `secret` only when generated') },
});

const read = authedRoute('webhooks.list', {
  method: 'get',
  path: '/webhooks/{id}',
  tags: ['Webhooks'],
  summary: 'Read one webhook',
  request: { params },
  responses: { 200: jsonContent(WebhookSchema, 'The webhook') },
});

const updateRoute = (method: 'put' | 'patch') =>
  authedRoute('webhooks.update', {
    method,
    path: '/webhooks/{id}',
    tags: ['Webhooks'],
    summary: method === 'put' ? 'Update a webhook' : 'Update a webhook (same as PUT)',
    request: { params, body: jsonBody(UpdateWebhookBody) },
    responses: { 200: jsonContent(WebhookSchema, 'The updated webhook') },
  });

const remove = authedRoute('webhooks.delete', {
  method: 'delete',
  path: '/webhooks/{id}',
  tags: ['Webhooks'],
  summary: 'Delete a webhook and its delivery log',
  request: { params },
  responses: { 200: jsonContent(DeletedSchema, 'Deleted') },
});

const deliveries = authedRoute('webhooks.deliveries', {
  method: 'get',
  path: '/webhooks/{id}/deliveries',
  tags: ['Webhooks'],
  summary: 'The delivery log: every delivery with every attempt',
  request: { params, query: deliveryQuery },
  responses: { 200: jsonContent(z.array(DeliverySchema), 'Deliveries, newest first, each with its attempts') },
});

const ping = authedRoute('webhooks.test', {
  method: 'post',
  path: '/webhooks/{id}/test',
  tags: ['Webhooks'],
  summary: 'Queue a signed `ping` delivery',
  request: { params },
  responses: {
    202: jsonContent(DeliverySchema, 'The queued delivery; follow it in the delivery log'),
    409: errorContent('The webhook is inactive'),
  },
});

const redeliverRoute = authedRoute('webhooks.redeliver', {
  method: 'post',
  path: '/webhooks/{id}/deliveries/{delivery_id}/redeliver',
  tags: ['Webhooks'],
  summary: 'Send a failed delivery again',
  description: 'Same body, new timestamp and signature; the new attempts are added to the same delivery’s log.',
  request: { params: deliveryParams },
  responses: {
    202: jsonContent(DeliverySchema, 'The delivery, queued again'),
    409: errorContent('Not failed, or the webhook is inactive'),
  },
});

/** PUT and PATCH answer alike. */
const update: RouteHandler<ReturnType<typeof updateRoute>, AppBindings> = async (c) =>
  c.json(
    await updateWebhook(database(c.env.DB), c.get('principal'), {
      cache: principalCache(c.env),
      settings: settings(c.env),
      webhookId: c.req.valid('param').id,
      input: c.req.valid('json'),
      now: Date.now(),
    }),
    200,
  );

export const webhookRoutes = createRouter()
  .openapi(list, async (c) => c.json(await listWebhooks(database(c.env.DB), c.get('principal')), 200))
  .openapi(create, async (c) => {
    const hook = await createWebhook(database(c.env.DB), c.get('principal'), {
      cache: principalCache(c.env),
      settings: settings(c.env),
      input: c.req.valid('json'),
      maxWebhooks: limit(c.env, 'WEBHOOKS_PER_ACCOUNT'),
      now: Date.now(),
    });
    // A generated signing secret is shown this once.
    secretAnswer(c);
    return c.json(hook, 201);
  })
  .openapi(read, async (c) => c.json(await getWebhook(database(c.env.DB), c.get('principal'), c.req.valid('param').id), 200))
  .openapi(updateRoute('put'), update)
  .openapi(updateRoute('patch'), update)
  .openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    await deleteWebhook(database(c.env.DB), c.get('principal'), id);
    return c.json({ deleted: true as const, id }, 200);
  })
  .openapi(deliveries, async (c) => {
    const q = c.req.valid('query');
    return c.json(
      await listDeliveries(database(c.env.DB), c.get('principal'), {
        webhookId: c.req.valid('param').id,
        page: {
          limit: q.limit ?? 50,
          offset: q.offset ?? 0,
        },
      }),
      200,
    );
  })
  .openapi(ping, async (c) =>
    c.json(
      await pingWebhook(database(c.env.DB), c.get('principal'), { env: c.env, webhookId: c.req.valid('param').id, now: Date.now() }),
      202,
    ),
  )
  .openapi(redeliverRoute, async (c) => {
    const { id, delivery_id } = c.req.valid('param');
    return c.json(
      await redeliver(database(c.env.DB), c.get('principal'), { env: c.env, webhookId: id, deliveryId: delivery_id, now: Date.now() }),
      202,
    );
  });
