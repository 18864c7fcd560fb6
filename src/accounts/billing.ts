/**
 * Billing through Stripe's REST API (no SDK: two form-encoded calls and a signature check).
 * Checkout and the customer portal answer a URL; Stripe's webhook moves the account's plan.
 * Without Stripe configuration every billing route answers 503 with what is missing.
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { accounts, stripeEvents } from '../db/schema';
import type { Env } from '../env';
import { hmacSha256Hex, timingSafeEqual } from '../platform/crypto';
import { ApiError, badRequest, conflict } from '../platform/errors';
import { isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import type { PrincipalCache } from '../access/authentication';
import { sqlBatch } from '../db/sql-batch';

export type PaidPlan = 'pro' | 'scale';

const SIGNATURE_TOLERANCE_S = 300;

function stripeConfig(env: Env) {
  if (!env.STRIPE_SECRET_KEY) {
    throw new ApiError({
      status: 503,
      code: 'BILLING_NOT_CONFIGURED',
      message: 'Billing is not configured on this server (STRIPE_SECRET_KEY is not set)',
    });
  }
  return { key: env.STRIPE_SECRET_KEY, base: env.STRIPE_API_BASE ?? 'https://api.stripe.com' };
}

function priceFor(env: Env, plan: PaidPlan): string {
  const price = plan === 'pro' ? env.STRIPE_PRICE_PRO : env.STRIPE_PRICE_SCALE;
  if (!price)
    throw new ApiError({
      status: 503,
      code: 'BILLING_NOT_CONFIGURED',
      message: `Billing is not configured for the ${plan} plan (STRIPE_PRICE_${plan.toUpperCase()} is not set)`,
    });
  return price;
}

async function stripePost(env: Env, path: string, form: Record<string, string>): Promise<Record<string, unknown>> {
  const { key, base } = stripeConfig(env);
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    throw new ApiError({ status: 503, code: 'BILLING_UNAVAILABLE', message: 'The payment provider did not answer; try again shortly' });
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    console.error(
      JSON.stringify({ level: 'error', stripe: path, status: res.status, error: (body.error as { message?: string })?.message }),
    );
    throw new ApiError({
      status: 503,
      code: 'BILLING_UNAVAILABLE',
      message: 'The payment provider refused the request; try again or contact support',
    });
  }
  return body;
}

export interface CheckoutOptions {
  env: Env;
  plan: PaidPlan;
}

export async function createCheckout(db: Db, p: Principal, { env, plan }: CheckoutOptions): Promise<{ url: string }> {
  stripeConfig(env);
  const price = priceFor(env, plan);
  const account = await db.select({ customer: accounts.stripeCustomerId }).from(accounts).where(eq(accounts.id, p.accountId)).get();
  const base = env.PUBLIC_BASE_URL ?? 'https://api.delega.dev';
  const session = await stripePost(env, '/v1/checkout/sessions', {
    mode: 'subscription',
    'line_items[0][price]': price,
    'line_items[0][quantity]': '1',
    success_url: `${base}/billing/success`,
    cancel_url: `${base}/billing/cancel`,
    client_reference_id: p.accountId,
    'metadata[account_id]': p.accountId,
    'metadata[plan]': plan,
    'subscription_data[metadata][account_id]': p.accountId,
    'subscription_data[metadata][plan]': plan,
    ...(account?.customer ? { customer: account.customer } : {}),
  });
  if (typeof session.url !== 'string')
    throw new ApiError({ status: 503, code: 'BILLING_UNAVAILABLE', message: 'The payment provider answered without a checkout URL' });
  return { url: session.url };
}

export async function createPortal(db: Db, env: Env, p: Principal): Promise<{ url: string }> {
  stripeConfig(env);
  const account = await db.select({ customer: accounts.stripeCustomerId }).from(accounts).where(eq(accounts.id, p.accountId)).get();
  if (!account?.customer)
    throw conflict('NO_BILLING_CUSTOMER', 'This account has no subscription yet; start one with POST /v1/billing/checkout');
  const session = await stripePost(env, '/v1/billing_portal/sessions', {
    customer: account.customer,
    return_url: env.PUBLIC_BASE_URL ?? 'https://api.delega.dev',
  });
  if (typeof session.url !== 'string')
    throw new ApiError({ status: 503, code: 'BILLING_UNAVAILABLE', message: 'The payment provider answered without a portal URL' });
  return { url: session.url };
}

export interface StripeSignatureCheck {
  secret: string;
  /** The `Stripe-Signature` header. */
  header: string | undefined;
  /** The body exactly as received. */
  rawBody: string;
  nowMs: number;
}

/** Checks `Stripe-Signature: t=…,v1=…` over `${t}.${raw body}` with a 5-minute tolerance. */
export async function verifyStripeSignature({ secret, header, rawBody, nowMs }: StripeSignatureCheck): Promise<void> {
  const parts = new Map<string, string[]>();
  for (const item of (header ?? '').split(',')) {
    const [k, v] = item.split('=', 2);
    if (k && v) parts.set(k.trim(), [...(parts.get(k.trim()) ?? []), v.trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  const signatures = parts.get('v1') ?? [];
  if (!Number.isFinite(t) || signatures.length === 0) throw badRequest('INVALID_SIGNATURE', 'Missing or malformed Stripe-Signature header');
  if (Math.abs(nowMs / 1000 - t) > SIGNATURE_TOLERANCE_S)
    throw badRequest('INVALID_SIGNATURE', 'Stripe-Signature timestamp is outside the tolerance');
  const expected = await hmacSha256Hex(secret, `${t}.${rawBody}`);
  if (!signatures.some((s) => timingSafeEqual(s, expected))) throw badRequest('INVALID_SIGNATURE', 'Stripe-Signature does not match');
}

interface StripeEvent {
  id?: string;
  type?: string;
  /** When Stripe created the event (Unix seconds): the order in which plan changes apply. */
  created?: number;
  data?: {
    object?: {
      customer?: string;
      metadata?: Record<string, string>;
      client_reference_id?: string;
      status?: string;
      payment_status?: string;
    };
  };
}

/** The plan a subscription event asks for, or null when the event does not move the plan. */
function planFromEvent(event: StripeEvent): 'free' | PaidPlan | null {
  const object = event.data?.object ?? {};
  const plan = object.metadata?.plan;
  const paid = plan === 'pro' || plan === 'scale' ? plan : null;
  switch (event.type) {
    case 'checkout.session.completed':
      // An unpaid checkout (e.g. a delayed payment method) moves nothing; the subscription events follow.
      return object.payment_status === 'paid' || object.payment_status === 'no_payment_required' ? (paid ?? 'free') : null;
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
      return object.status === 'active' || object.status === 'trialing' ? (paid ?? 'free') : 'free';
    case 'customer.subscription.deleted':
      return 'free';
    default:
      return null;
  }
}

export interface StripeEventApplication {
  cache: PrincipalCache;
  event: StripeEvent;
  now: number;
}

/**
 * Applies a verified Stripe event to the account's plan, once per event id and in the order of
 * the events' own `created` times: a redelivered event, or one older than the last applied,
 * changes nothing. Unknown events are acknowledged.
 */
export async function applyStripeEvent(
  db: Db,
  { cache, event, now }: StripeEventApplication,
): Promise<{ handled: boolean; duplicate?: true }> {
  const object = event.data?.object ?? {};
  const accountId = object.metadata?.account_id ?? object.client_reference_id;
  const next = planFromEvent(event);
  if (!event.id) throw badRequest('INVALID_EVENT', 'A Stripe event needs its id');
  const ts = isoSeconds(now);
  const receipt = crypto.randomUUID();
  const eventAt = isoSeconds(typeof event.created === 'number' && Number.isFinite(event.created) ? event.created * 1000 : now);
  const recordedHere = sql`exists (select 1 from ${stripeEvents} where ${stripeEvents.id} = ${event.id} and ${stripeEvents.receipt} = ${receipt})`;
  // One transaction: record the event id, then move the plan only if this delivery recorded it
  // and no newer event was applied already.
  const statements = [
    sql`insert into ${stripeEvents} (id, type, receipt, received_at) values (${event.id}, ${event.type ?? ''}, ${receipt}, ${ts}) on conflict (id) do nothing`,
    sql`select ${recordedHere} as recorded`,
  ];
  if (accountId && next) {
    statements.push(sql`update ${accounts} set plan = ${next}, billing_event_at = ${eventAt}, updated_at = ${ts}
      ${object.customer ? sql`, stripe_customer_id = ${object.customer}` : sql``}
      where ${accounts.id} = ${accountId} and (billing_event_at is null or billing_event_at <= ${eventAt}) and ${recordedHere}
      returning id`);
  }
  const results = await sqlBatch(db, statements);
  if (!results[1]?.[0]?.recorded) return { handled: false, duplicate: true };
  if (!results[2]?.[0]) return { handled: false };
  // Each key's rate limit follows the plan.
  await cache.forgetAccount(accountId!);
  return { handled: true };
}
