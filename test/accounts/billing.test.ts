import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { accounts } from '../../src/db/schema';
import { hmacSha256Hex } from '../../src/platform/crypto';
import { api, db, makeAccount, makeAgent } from '../helpers/fixtures';

async function stripeHeader(body: string, t = Math.floor(Date.now() / 1000), secret = env.STRIPE_WEBHOOK_SECRET!) {
  return `t=${t},v1=${await hmacSha256Hex(secret, `${t}.${body}`)}`;
}

const planOf = async (accountId: string) => (await db().select().from(accounts).where(eq(accounts.id, accountId)).get())?.plan;

describe('billing', () => {
  it('answers 503 with what is missing while Stripe is not configured', async () => {
    const account = await makeAccount();
    const checkout = await api('POST', '/v1/billing/checkout', account.adminKey, { plan: 'pro' });
    expect(checkout.status).toBe(503);
    expect(checkout.body).toEqual({ error: expect.stringContaining('STRIPE_SECRET_KEY'), code: 'BILLING_NOT_CONFIGURED' });
    const portal = await api('GET', '/v1/billing/portal', account.adminKey);
    expect(portal.status).toBe(503);
  });

  it('is admin-only and validates the plan', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    expect((await api('POST', '/v1/billing/checkout', worker.key, { plan: 'pro' })).status).toBe(403);
    const bad = await api('POST', '/v1/billing/checkout', account.adminKey, { plan: 'enterprise' });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].field).toBe('plan');
  });

  it('a signed Stripe event moves the plan; cancelling moves it back to free', async () => {
    const account = await makeAccount();
    const completed = JSON.stringify({
      id: `evt_${crypto.randomUUID()}`,
      created: Math.floor(Date.now() / 1000),
      type: 'checkout.session.completed',
      data: { object: { customer: 'cus_123', payment_status: 'paid', metadata: { account_id: account.accountId, plan: 'scale' } } },
    });
    const res = await api('POST', '/v1/billing/stripe-webhook', null, completed, { 'Stripe-Signature': await stripeHeader(completed) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, handled: true });
    expect(await planOf(account.accountId)).toBe('scale');

    const deleted = JSON.stringify({
      id: `evt_${crypto.randomUUID()}`,
      created: Math.floor(Date.now() / 1000),
      type: 'customer.subscription.deleted',
      data: { object: { customer: 'cus_123', metadata: { account_id: account.accountId } } },
    });
    await api('POST', '/v1/billing/stripe-webhook', null, deleted, { 'Stripe-Signature': await stripeHeader(deleted) });
    expect(await planOf(account.accountId)).toBe('free');
  });

  it('refuses unsigned, wrongly signed and stale events, changing nothing', async () => {
    const account = await makeAccount();
    const body = JSON.stringify({
      type: 'checkout.session.completed',
      data: { object: { metadata: { account_id: account.accountId, plan: 'pro' } } },
    });
    const cases = [
      {},
      { 'Stripe-Signature': 'garbage' },
      { 'Stripe-Signature': await stripeHeader(body, undefined, 'whsec_wrong') },
      { 'Stripe-Signature': await stripeHeader(body, Math.floor(Date.now() / 1000) - 600) },
      { 'Stripe-Signature': await stripeHeader(body.replace('pro', 'scale')) },
    ];
    for (const headers of cases) {
      const res = await api('POST', '/v1/billing/stripe-webhook', null, body, headers as Record<string, string>);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_SIGNATURE');
    }
    expect(await planOf(account.accountId)).toBe('free');
  });
});
