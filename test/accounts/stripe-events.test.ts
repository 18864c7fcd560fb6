/**
 * Stripe events apply once per event id, in the order of their own `created` times, and a
 * completed checkout moves the plan only once it is paid.
 */
import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { accounts } from '../../src/db/schema';
import { hmacSha256Hex } from '../../src/platform/crypto';
import { api, db, makeAccount } from '../helpers/fixtures';

const planOf = async (accountId: string) => (await db().select().from(accounts).where(eq(accounts.id, accountId)).get())?.plan;

async function send(event: Record<string, unknown>) {
  const body = JSON.stringify(event);
  const t = Math.floor(Date.now() / 1000);
  const signature = `t=${t},v1=${await hmacSha256Hex(env.STRIPE_WEBHOOK_SECRET!, `${t}.${body}`)}`;
  return api('POST', '/v1/billing/stripe-webhook', null, body, { 'Stripe-Signature': signature });
}

const now = Math.floor(Date.now() / 1000);
const event = (accountId: string, type: string, created: number, object: Record<string, unknown> = {}) => ({
  id: `evt_${crypto.randomUUID()}`,
  type,
  created,
  data: { object: { customer: 'cus_1', metadata: { account_id: accountId, plan: 'pro' }, ...object } },
});

describe('Stripe events', () => {
  it('a replayed signed upgrade does not restore a cancelled plan', async () => {
    const account = await makeAccount();
    const upgrade = event(account.accountId, 'checkout.session.completed', now - 60, { payment_status: 'paid' });
    expect((await send(upgrade)).body).toEqual({ received: true, handled: true });
    expect(await planOf(account.accountId)).toBe('pro');
    expect((await send(event(account.accountId, 'customer.subscription.deleted', now - 30))).body.handled).toBe(true);
    expect(await planOf(account.accountId)).toBe('free');
    // The same event again (a redelivery, or a replay within the signature tolerance).
    const replay = await send(upgrade);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ received: true, handled: false, duplicate: true });
    expect(await planOf(account.accountId)).toBe('free');
  });

  it('an older event arriving late never overrides a newer one', async () => {
    const account = await makeAccount();
    expect((await send(event(account.accountId, 'customer.subscription.deleted', now - 10))).body.handled).toBe(true);
    const stale = await send(event(account.accountId, 'customer.subscription.updated', now - 100, { status: 'active' }));
    expect(stale.body).toEqual({ received: true, handled: false });
    expect(await planOf(account.accountId)).toBe('free');
    // A newer one applies.
    expect((await send(event(account.accountId, 'customer.subscription.updated', now, { status: 'active' }))).body.handled).toBe(true);
    expect(await planOf(account.accountId)).toBe('pro');
  });

  it('checkout.session.completed moves the plan only when paid', async () => {
    const account = await makeAccount();
    const unpaid = await send(event(account.accountId, 'checkout.session.completed', now, { payment_status: 'unpaid' }));
    expect(unpaid.body).toEqual({ received: true, handled: false });
    expect(await planOf(account.accountId)).toBe('free');
    expect((await send(event(account.accountId, 'checkout.session.completed', now, { payment_status: 'paid' }))).body.handled).toBe(true);
    expect(await planOf(account.accountId)).toBe('pro');
  });

  it('parallel deliveries of one event apply it once', async () => {
    const account = await makeAccount();
    const upgrade = event(account.accountId, 'checkout.session.completed', now, { payment_status: 'paid' });
    const results = await Promise.all([send(upgrade), send(upgrade), send(upgrade)]);
    expect(results.map((r) => r.body.handled).filter(Boolean)).toHaveLength(1);
    expect(results.filter((r) => r.body.duplicate)).toHaveLength(2);
  });

  it('an event without an id is refused and changes nothing', async () => {
    const account = await makeAccount();
    const { id: _, ...noId } = event(account.accountId, 'checkout.session.completed', now, { payment_status: 'paid' });
    expect((await send(noId)).status).toBe(400);
    expect(await planOf(account.accountId)).toBe('free');
  });
});
