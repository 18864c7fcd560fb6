/**
 * A key's principal lives in its Durable Object (access/key-gate.ts). These tests warm that
 * cache with a request first, then change the agent, key or account through the API, and
 * check that the very next request sees the change; that the cache really is used (a change
 * whose gate was never told shows once the scheduled sweep of `principal_forgets` tells it);
 * and that D1's triggers record every change a principal caches, and nothing else.
 */
import { env, evictDurableObject, listDurableObjectIds } from 'cloudflare:test';
import { hashKey, withTag } from '../../src/access/api-keys';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { accounts, agents, principalForgets } from '../../src/db/schema';
import { rateLimitFor } from '../../src/platform/config';
import { gateFor, PRINCIPAL_TTL_MS } from '../../src/access/key-gate';
import { sweepPrincipalForgets } from '../../src/access/forget-sweep';
import { keyRefOf, type KeyRef } from '../../src/access/authentication';
import { keyPepper } from '../../src/platform/config';
import { hmacSha256Hex } from '../../src/platform/crypto';
import { createApp } from '../../src/app';
import { withOverrides } from '../../src/platform/with-overrides';
import { agentRow, api, db, makeAccount, makeAgent } from '../helpers/fixtures';
import { agentFirst, anon, latestMail } from '../helpers/onboarding';
import { installReceivers, makeReceiver } from '../helpers/webhook-receiver';

afterEach(() => vi.useRealTimers());

const me = (key: string) => api('GET', '/v1/agent/me', key);
const forgetRows = async (keyHash: string) =>
  (await db().select().from(principalForgets).where(eq(principalForgets.keyHash, keyHash))).length;

describe('principal cache in the key object', () => {
  it('serves a known key without reading D1, even an hour on; the sweep tells it of a change nobody told it of', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-05-01T09:00:00Z'));
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const role = async () => (await api('GET', '/v1/capabilities', worker.key)).body.role;
    expect(await role()).toBe('worker');
    await sweepPrincipalForgets(env);
    // A write behind the API's back (no forget): the object still answers from memory, with no timed re-read.
    await db().update(agents).set({ role: 'coordinator' }).where(eq(agents.id, worker.id));
    expect(await role()).toBe('worker');
    vi.setSystemTime(Date.now() + 60 * 60_000);
    expect(await role()).toBe('worker');
    // The write's trigger recorded the key; the scheduled sweep tells its gate and deletes the row.
    const keyHash = (await agentRow(worker.id))!.keyHash;
    expect(await forgetRows(keyHash)).toBe(1);
    expect(await sweepPrincipalForgets(env)).toBeGreaterThanOrEqual(1);
    expect(await role()).toBe('coordinator');
    expect(await forgetRows(keyHash)).toBe(0);
    // PRINCIPAL_TTL_MS is only the last bound, for a change no trigger sees.
    expect(PRINCIPAL_TTL_MS).toBeGreaterThanOrEqual(24 * 60 * 60_000);
  });

  it('an object back from an eviction answers from its storage, and a forget clears that too', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const role = async () => (await api('GET', '/v1/capabilities', worker.key)).body.role;
    expect(await role()).toBe('worker');
    // A write behind the API's back (no forget), then the object is evicted.
    await db().update(agents).set({ role: 'coordinator' }).where(eq(agents.id, worker.id));
    const gate = gateFor(env, await keyRefOf(keyPepper(env), worker.key));
    const evict = () => evictDurableObject(gate);
    await evict();
    // No D1 read: still the principal it read before.
    expect(await role()).toBe('worker');
    // A change through the API forgets the principal in memory and in storage alike.
    expect((await api('PATCH', `/v1/agents/${worker.id}`, account.adminKey, { role: 'admin' })).status).toBe(200);
    await evict();
    expect(await role()).toBe('admin');
  });

  it('a rotated key is refused at once; the new one works', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    expect((await me(worker.key)).status).toBe(200);
    const rotated = await api('POST', `/v1/agents/${worker.id}/rotate-key`, account.adminKey);
    expect(rotated.status).toBe(200);
    const old = await me(worker.key);
    expect(old.status).toBe(401);
    expect(old.body).toEqual({ error: 'Invalid API key', code: 'UNAUTHORIZED' });
    expect((await me(rotated.body.api_key)).status).toBe(200);
  });

  it('deactivating, reactivating, changing the role and deleting take effect on the next request', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const caps = async () => (await api('GET', '/v1/capabilities', worker.key)).body;
    expect((await caps()).role).toBe('worker');

    expect((await api('PATCH', `/v1/agents/${worker.id}`, account.adminKey, { role: 'coordinator' })).status).toBe(200);
    expect((await caps()).role).toBe('coordinator');

    expect((await api('PATCH', `/v1/agents/${worker.id}`, account.adminKey, { active: false })).status).toBe(200);
    const off = await me(worker.key);
    expect(off.status).toBe(401);
    expect(off.body.error).toBe('This agent is deactivated');
    expect((await api('PATCH', `/v1/agents/${worker.id}`, account.adminKey, { active: true })).status).toBe(200);
    expect((await me(worker.key)).status).toBe(200);

    expect((await api('DELETE', `/v1/agents/${worker.id}`, account.adminKey)).status).toBe(200);
    expect((await me(worker.key)).status).toBe(401);
  });

  it('a claimed account gives its warmed restricted key full access at once', async () => {
    const { key, mail } = await agentFirst();
    expect((await api('GET', '/v1/agents', key)).status).toBe(403);
    expect((await anon('POST', '/v1/claim/complete', { token: mail.token })).status).toBe(200);
    expect((await api('GET', '/v1/agents', key)).status).toBe(200);
  });

  it("an account's change clears every key it kept, in storage too: a gate restarted after it reads D1 afresh", async () => {
    const { key, mail } = await agentFirst();
    expect((await api('GET', '/v1/agents', key)).status).toBe(403);
    const gate = gateFor(env, await keyRefOf(keyPepper(env), key));
    expect((await anon('POST', '/v1/claim/complete', { token: mail.token })).status).toBe(200);
    await evictDurableObject(gate);
    expect((await api('GET', '/v1/agents', key)).status).toBe(200);
  });

  it('recovery kills the old key of the recovery agent at once', async () => {
    const email = `recover-${Date.now()}@example.com`;
    const signup = await anon('POST', '/v1/signup', { email });
    expect(signup.status).toBe(201);
    const oldKey = signup.body.api_key as string;
    expect((await me(oldKey)).status).toBe(200);
    expect((await anon('POST', '/v1/recover', { email })).status).toBe(200);
    const done = await anon('POST', '/v1/recover', { email, code: (await latestMail(email, { subject: /recovery/ })).code });
    expect(done.status).toBe(200);
    expect((await me(oldKey)).status).toBe(401);
    expect((await me(done.body.api_key)).status).toBe(200);
  });

  it('a plan change by Stripe moves every warmed key to the new rate limit', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const limitOf = async (key: string) => (await me(key)).headers.get('X-RateLimit-Limit');
    expect(await limitOf(worker.key)).toBe(String(rateLimitFor(env, 'free')));
    const body = JSON.stringify({
      id: `evt_${crypto.randomUUID()}`,
      created: Math.floor(Date.now() / 1000),
      type: 'checkout.session.completed',
      data: { object: { customer: 'cus_9', payment_status: 'paid', metadata: { account_id: account.accountId, plan: 'scale' } } },
    });
    const t = Math.floor(Date.now() / 1000);
    const signature = `t=${t},v1=${await hmacSha256Hex(env.STRIPE_WEBHOOK_SECRET!, `${t}.${body}`)}`;
    const res = await api('POST', '/v1/billing/stripe-webhook', null, JSON.parse(body), { 'Stripe-Signature': signature });
    expect(res.status).toBe(200);
    expect(await limitOf(worker.key)).toBe(String(rateLimitFor(env, 'scale')));
    expect(await limitOf(account.adminKey)).toBe(String(rateLimitFor(env, 'scale')));
  });
});

describe('principal_forgets: what D1 records for the sweep', () => {
  it('records a key for each change its principal caches, in the same write, and nothing for the rest', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const hashOf = async (id: string) => (await agentRow(id))!.keyHash;
    const [adminHash, workerHash] = [await hashOf(account.adminId), await hashOf(worker.id)];
    await sweepPrincipalForgets(env);
    // What a principal does not hold: an agent's last-seen time, its description, the account's claimers flag.
    await db().update(agents).set({ lastSeenAt: '2026-01-01T00:00:00Z', description: 'x' }).where(eq(agents.id, worker.id));
    await db().update(accounts).set({ claimersWaiting: true }).where(eq(accounts.id, account.accountId));
    expect(await forgetRows(workerHash)).toBe(0);
    expect(await forgetRows(adminHash)).toBe(0);
    // An agent's role: its key.
    expect((await api('PUT', `/v1/agents/${worker.id}`, account.adminKey, { role: 'coordinator' })).status).toBe(200);
    expect([await forgetRows(workerHash), await forgetRows(adminHash)]).toEqual([1, 0]);
    // The account's plan: every key of the account.
    await db().update(accounts).set({ plan: 'pro' }).where(eq(accounts.id, account.accountId));
    expect([await forgetRows(workerHash), await forgetRows(adminHash)]).toEqual([2, 1]);
    // The first active webhook changes hasWebhooks for every key; a second one changes nothing cached.
    const hook = { url: 'https://example.com/hook', events: ['task.created'] };
    expect((await api('POST', '/v1/webhooks', account.adminKey, hook)).status).toBe(201);
    expect([await forgetRows(workerHash), await forgetRows(adminHash)]).toEqual([3, 2]);
    expect((await api('POST', '/v1/webhooks', account.adminKey, hook)).status).toBe(201);
    expect([await forgetRows(workerHash), await forgetRows(adminHash)]).toEqual([3, 2]);
    // A deleted agent: its key.
    expect((await api('DELETE', `/v1/agents/${worker.id}`, account.adminKey)).status).toBe(200);
    expect(await forgetRows(workerHash)).toBe(4);
    await sweepPrincipalForgets(env);
    expect([await forgetRows(workerHash), await forgetRows(adminHash)]).toEqual([0, 0]);
  });

  it("a record written before records named the account is swept to the key's own gate", async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const pepper = keyPepper(env);
    // A key from before keys named their account: its gate is its own.
    const olderKey = await withTag(pepper, `dlg_${'m'.repeat(21)}${String(Date.now()).slice(-13)}`);
    const olderHash = await hashKey(pepper, olderKey);
    await db().update(agents).set({ keyHash: olderHash }).where(eq(agents.id, worker.id));
    await sweepPrincipalForgets(env);
    const role = async () => (await api('GET', '/v1/capabilities', olderKey)).body.role;
    expect(await role()).toBe('worker');
    await db().update(agents).set({ role: 'coordinator' }).where(eq(agents.id, worker.id));
    await db().update(principalForgets).set({ accountId: null }).where(eq(principalForgets.keyHash, olderHash));
    expect(await role()).toBe('worker');
    await sweepPrincipalForgets(env);
    expect(await role()).toBe('coordinator');
    expect(await forgetRows(olderHash)).toBe(0);
  });

  it('a gate the sweep cannot reach keeps its rows for the next run; the others are deleted', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const [adminHash, workerHash] = [(await agentRow(account.adminId))!.keyHash, (await agentRow(worker.id))!.keyHash];
    await sweepPrincipalForgets(env);
    await db().update(accounts).set({ plan: 'scale' }).where(eq(accounts.id, account.accountId));
    const unreachable = {
      ...env.KEY_GATE,
      idFromName: (name: string) => env.KEY_GATE.idFromName(name),
      get: (id: DurableObjectId) =>
        id.equals(env.KEY_GATE.idFromName(workerHash))
          ? { forget: () => Promise.reject(new Error('gate unreachable')) }
          : env.KEY_GATE.get(id),
    } as unknown as typeof env.KEY_GATE;
    await sweepPrincipalForgets({ ...env, KEY_GATE: unreachable });
    expect([await forgetRows(workerHash), await forgetRows(adminHash)]).toEqual([1, 0]);
    await sweepPrincipalForgets(env);
    expect(await forgetRows(workerHash)).toBe(0);
  });
});

describe('one gate per account', () => {
  it("admits all of an account's keys in one object, counting each key against its own limit", async () => {
    const account = await makeAccount();
    const [first, second] = [await makeAgent(account, 'worker'), await makeAgent(account, 'worker')];
    const caps = (key: string) => api('GET', '/v1/capabilities', key);
    expect((await caps(account.adminKey)).status).toBe(200);
    const before = await listDurableObjectIds(env.KEY_GATE);
    const [a1, a2, b1] = [await caps(first.key), await caps(first.key), await caps(second.key)];
    expect([a1.status, a2.status, b1.status]).toEqual([200, 200, 200]);
    expect(b1.body.agent_id).toBe(second.id);
    // No new object for the account's other keys...
    expect((await listDurableObjectIds(env.KEY_GATE)).length).toBe(before.length);
    // ...and each key's window is its own.
    const limit = Number(a1.headers.get('X-RateLimit-Limit'));
    expect(Number(a2.headers.get('X-RateLimit-Remaining'))).toBe(limit - 2);
    expect(Number(b1.headers.get('X-RateLimit-Remaining'))).toBe(limit - 1);
  });

  it('a key of one account cannot be sent to the gate of another: the account it names is under its tag', async () => {
    const [mine, theirs] = [await makeAccount(), await makeAccount()];
    const key = mine.adminKey;
    const moved = `${key.slice(0, 38)}${theirs.accountId.slice(4)}${key.slice(60)}`;
    const res = await api('GET', '/v1/capabilities', moved, undefined, { 'CF-Connecting-IP': '203.0.113.78' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'Invalid API key', code: 'UNAUTHORIZED' });
  });

  it('a key issued before keys named their account (40 characters) still works through its own gate, and is told of changes', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const pepper = keyPepper(env);
    const olderKey = await withTag(pepper, `dlg_${'k'.repeat(21)}${String(Date.now()).slice(-13)}`);
    expect(olderKey).toMatch(/^dlg_[0-9A-Za-z]{40}$/);
    const olderHash = await hashKey(pepper, olderKey);
    await db().update(agents).set({ keyHash: olderHash }).where(eq(agents.id, worker.id));
    const caps = async () => (await api('GET', '/v1/capabilities', olderKey)).body;
    expect((await caps()).role).toBe('worker');
    const gates = await listDurableObjectIds(env.KEY_GATE);
    expect(gates.some((id) => id.equals(env.KEY_GATE.idFromName(olderHash)))).toBe(true);
    expect((await api('PATCH', `/v1/agents/${worker.id}`, account.adminKey, { role: 'coordinator' })).status).toBe(200);
    expect((await caps()).role).toBe('coordinator');
  });
});

describe('webhooks and warmed keys', () => {
  let spy: ReturnType<typeof installReceivers>;
  beforeAll(() => {
    spy = installReceivers();
  });
  afterAll(() => spy.mockRestore());

  it('the first webhook of an account is seen by keys that were warmed without one', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    // Warm the worker's key while the account has no webhook (its writes skip event lookups).
    expect((await api('POST', '/v1/tasks', worker.key, { content: 'before any webhook' })).status).toBe(201);
    const receiver = makeReceiver();
    expect((await api('POST', '/v1/webhooks', account.adminKey, { url: receiver.url, events: ['task.created'] })).status).toBe(201);
    const made = await api('POST', '/v1/tasks', worker.key, { content: 'after the webhook' });
    expect(made.status).toBe(201);
    await vi.waitUntil(() => receiver.received.length > 0, { timeout: 10_000, interval: 50 });
    expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ event: 'task.created', task: { id: made.body.id } });
  });
});

describe('a write whose gate cannot be told to forget', () => {
  const app = createApp();
  let forgetCalls = 0;
  /** KEY_GATE as deployed, except that `forget` fails (the object unreachable after the write committed). */
  const unreachableForget = withOverrides(env.KEY_GATE, {
    get: (id: DurableObjectId) => {
      const gate = env.KEY_GATE.get(id);
      // An RPC stub answers every property name with a remote method, so it is wrapped by hand.
      const wrapped = {
        admit: (key: KeyRef, nowMs: number) => gate.admit(key, nowMs),
        forget: () => (forgetCalls++, Promise.reject(new Error('key gate unreachable'))),
        forgetAll: () => (forgetCalls++, Promise.reject(new Error('key gate unreachable'))),
      };
      return wrapped as unknown as typeof gate;
    },
  });
  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const res = await app.request(
      path,
      {
        method,
        headers: { 'X-Agent-Key': key, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      { ...env, KEY_GATE: unreachableForget },
    );
    return { status: res.status, body: (await res.json()) as any };
  };

  it('still answers: the new key is shown, the change is made, the failure is logged and the sweep makes the old key lapse', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-06-01T09:00:00Z'));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const account = await makeAccount();
      const worker = await makeAgent(account, 'worker');
      expect((await me(worker.key)).status).toBe(200);
      forgetCalls = 0;
      const rotated = await call('POST', `/v1/agents/${worker.id}/rotate-key`, account.adminKey);
      expect(rotated.status).toBe(200);
      expect(rotated.body.api_key).toMatch(/^dlg_/);
      // Its account's gate and its own (which admitted keys issued before gates were per account): each tried, then tried once more.
      expect(forgetCalls).toBe(4);
      expect(logged).toHaveBeenCalledWith(expect.stringContaining('key gate forget failed'));
      expect((await me(rotated.body.api_key)).status).toBe(200);
      // The old key's gate was never told: the rotation's trigger recorded the key, and the
      // scheduled sweep tells the gate (the next minute's run at the latest).
      expect((await me(worker.key)).status).toBe(200);
      await sweepPrincipalForgets(env);
      expect((await me(worker.key)).status).toBe(401);

      const other = await makeAgent(account, 'worker');
      const promoted = await call('PUT', `/v1/agents/${other.id}`, account.adminKey, { role: 'coordinator' });
      expect(promoted.status).toBe(200);
      expect(promoted.body.role).toBe('coordinator');
      const deactivated = await call('PUT', `/v1/agents/${other.id}`, account.adminKey, { active: false });
      expect(deactivated.status).toBe(200);
      expect((await agentRow(other.id))?.active).toBe(false);
      const deleted = await call('DELETE', `/v1/agents/${other.id}`, account.adminKey);
      expect(deleted.status).toBe(200);
      expect(await agentRow(other.id)).toBeUndefined();
    } finally {
      logged.mockRestore();
    }
  });
});
