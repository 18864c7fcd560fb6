/** /billing: Stripe checkout and portal for admins, and Stripe's signed webhook. */
import { z } from '@hono/zod-openapi';
import { database } from '../db/client';
import { principalCache } from '../access/key-gate';
import { applyStripeEvent, createCheckout, createPortal, verifyStripeSignature } from './billing';
import { ApiError } from '../platform/errors';
import { authedRoute, createRouter, errorContent, jsonBody, jsonContent, publicRoute } from '../access/router';

const UrlSchema = z.object({ url: z.url() }).openapi('BillingUrl');

const checkout = authedRoute('billing.checkout', {
  method: 'post',
  path: '/billing/checkout',
  tags: ['Billing'],
  summary: 'Start a Stripe checkout for a paid plan',
  request: { body: jsonBody(z.strictObject({ plan: z.enum(['pro', 'scale']) }).openapi('Checkout')) },
  responses: {
    200: jsonContent(UrlSchema, 'Where to send the human'),
    503: errorContent('Billing is not configured or Stripe is unavailable'),
  },
});

const portal = authedRoute('billing.portal', {
  method: 'get',
  path: '/billing/portal',
  tags: ['Billing'],
  summary: 'Open the Stripe customer portal',
  responses: {
    200: jsonContent(UrlSchema, 'Where to send the human'),
    409: errorContent('No subscription yet'),
    503: errorContent('Billing is not configured or Stripe is unavailable'),
  },
});

const stripeWebhook = publicRoute({
  method: 'post',
  path: '/billing/stripe-webhook',
  tags: ['Billing'],
  summary: 'Stripe events (signature checked); moves the account’s plan',
  request: { body: jsonBody(z.looseObject({ type: z.string() })) },
  responses: {
    200: jsonContent(
      z.object({
        received: z.literal(true),
        handled: z.boolean(),
        duplicate: z.literal(true).optional().openapi({ description: 'This event id was already received; nothing changed' }),
      }),
      'Acknowledged',
    ),
    503: errorContent('Not configured'),
  },
});

export const billingRoutes = createRouter()
  .openapi(checkout, async (c) =>
    c.json(await createCheckout(database(c.env.DB), c.get('principal'), { env: c.env, plan: c.req.valid('json').plan }), 200),
  )
  .openapi(portal, async (c) => c.json(await createPortal(database(c.env.DB), c.env, c.get('principal')), 200))
  .openapi(stripeWebhook, async (c) => {
    const secret = c.env.STRIPE_WEBHOOK_SECRET;
    if (!secret)
      throw new ApiError({
        status: 503,
        code: 'BILLING_NOT_CONFIGURED',
        message: 'Billing is not configured on this server (STRIPE_WEBHOOK_SECRET is not set)',
      });
    const now = Date.now();
    await verifyStripeSignature({ secret, header: c.req.header('Stripe-Signature'), rawBody: c.get('rawBody') ?? '', nowMs: now });
    const result = await applyStripeEvent(database(c.env.DB), { cache: principalCache(c.env), event: c.req.valid('json'), now });
    return c.json({ received: true as const, ...result }, 200);
  });
