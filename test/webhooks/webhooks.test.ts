import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkWebhookUrl } from '../../src/webhooks/url-safety';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';
import { installReceivers, makeReceiver } from '../helpers/webhook-receiver';

let spy: ReturnType<typeof installReceivers>;
beforeAll(() => {
  spy = installReceivers();
});
afterAll(() => spy.mockRestore());

const HOOK = 'https://hooks.example.com/delega';

async function createHook(key: string, body: Record<string, unknown> = {}) {
  return api('POST', '/v1/webhooks', key, { url: HOOK, events: ['task.created'], ...body });
}

describe('webhook CRUD', () => {
  it('creates a webhook and shows a generated whsec_ secret exactly once', async () => {
    const acct = await makeAccount();
    const res = await createHook(acct.adminKey, { events: ['task.created', 'task.completed'], description: 'CI' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^whk_/),
      url: HOOK,
      events: ['task.created', 'task.completed'],
      active: true,
      description: 'CI',
      disabled_reason: null,
      consecutive_failures: 0,
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
      secret: expect.stringMatching(/^whsec_[0-9A-Za-z]{32}$/),
    });
    const id = res.body.id;

    const list = await api('GET', '/v1/webhooks', acct.adminKey);
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(1);
    expect(list.body[0]).not.toHaveProperty('secret');
    const one = await api('GET', `/v1/webhooks/${id}`, acct.adminKey);
    expect(one.status).toBe(200);
    expect(one.body).not.toHaveProperty('secret');
    expect(JSON.stringify(one.body)).not.toContain(res.body.secret);
  });

  it('never returns a secret the caller chose, not even at creation or update', async () => {
    const acct = await makeAccount();
    const res = await createHook(acct.adminKey, { secret: 'my-own-secret-123' });
    expect(res.status).toBe(201);
    expect(res.body).not.toHaveProperty('secret');
    const upd = await api('PUT', `/v1/webhooks/${res.body.id}`, acct.adminKey, { secret: 'another-secret-456' });
    expect(upd.status).toBe(200);
    expect(JSON.stringify(upd.body)).not.toContain('secret-456');
    const list = await api('GET', '/v1/webhooks', acct.adminKey);
    expect(JSON.stringify(list.body)).not.toMatch(/my-own-secret|another-secret/);
  });

  it('updates with PUT and PATCH, and deletes with {deleted, id}', async () => {
    const acct = await makeAccount();
    const { body: hook } = await createHook(acct.adminKey);
    const put = await api('PUT', `/v1/webhooks/${hook.id}`, acct.adminKey, {
      url: 'https://other.example.org/x',
      events: ['task.deleted', 'task.deleted'],
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ id: hook.id, url: 'https://other.example.org/x', events: ['task.deleted'], active: true });
    const patch = await api('PATCH', `/v1/webhooks/${hook.id}`, acct.adminKey, { active: false, description: null });
    expect(patch.status).toBe(200);
    expect(patch.body).toMatchObject({ active: false, description: null });

    const del = await api('DELETE', `/v1/webhooks/${hook.id}`, acct.adminKey);
    expect(del).toMatchObject({ status: 200, body: { deleted: true, id: hook.id } });
    expect((await api('GET', `/v1/webhooks/${hook.id}`, acct.adminKey)).status).toBe(404);
    expect((await api('DELETE', `/v1/webhooks/${hook.id}`, acct.adminKey)).status).toBe(404);
  });

  it('answers 404 for another account’s webhook, on every route', async () => {
    const owner = await makeAccount();
    const other = await makeAccount();
    const { body: hook } = await createHook(owner.adminKey);
    for (const [method, path, body] of [
      ['GET', `/v1/webhooks/${hook.id}`],
      ['PUT', `/v1/webhooks/${hook.id}`, { active: false }],
      ['PATCH', `/v1/webhooks/${hook.id}`, { active: false }],
      ['DELETE', `/v1/webhooks/${hook.id}`],
      ['GET', `/v1/webhooks/${hook.id}/deliveries`],
      ['POST', `/v1/webhooks/${hook.id}/test`],
      ['POST', `/v1/webhooks/${hook.id}/deliveries/dlv_nope/redeliver`],
    ] as const) {
      const res = await api(method, path, other.adminKey, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.code).toBe('WEBHOOK_NOT_FOUND');
    }
    expect((await api('GET', '/v1/webhooks', other.adminKey)).body).toEqual([]);
    expect((await api('GET', `/v1/webhooks/${hook.id}`, owner.adminKey)).body.active).toBe(true);
  });

  it('is admin only', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const coordinator = await makeAgent(acct, 'coordinator');
    for (const key of [worker.key, coordinator.key]) {
      expect((await api('GET', '/v1/webhooks', key)).status).toBe(403);
      expect((await createHook(key)).status).toBe(403);
    }
    expect((await api('GET', '/v1/webhooks')).status).toBe(401);
    expect((await api('GET', '/api/webhooks', acct.adminKey)).status).toBe(200);
  });

  it('refuses unknown events with 400 UNKNOWN_EVENT and per-event details', async () => {
    const acct = await makeAccount();
    const res = await createHook(acct.adminKey, { events: ['task.created', 'task.exploded', 'push'] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('UNKNOWN_EVENT');
    expect(res.body.details).toEqual([
      { field: 'events.1', message: expect.stringContaining('task.exploded') },
      { field: 'events.2', message: expect.stringContaining('push') },
    ]);
    const empty = await createHook(acct.adminKey, { events: [] });
    expect(empty.status).toBe(400);
    const upd = await createHook(acct.adminKey);
    expect((await api('PUT', `/v1/webhooks/${upd.body.id}`, acct.adminKey, { events: ['nope'] })).body.code).toBe('UNKNOWN_EVENT');
  });

  it('accepts every documented event', async () => {
    const acct = await makeAccount();
    const all = [
      'task.created',
      'task.updated',
      'task.completed',
      'task.deleted',
      'task.assigned',
      'task.delegated',
      'task.commented',
      'task.claimed',
      'task.released',
      'task.state_changed',
      'task.linked',
    ];
    const res = await createHook(acct.adminKey, { events: all });
    expect(res.status).toBe(201);
    expect(res.body.events).toEqual(all);
  });

  it('refuses unknown fields, missing fields and short secrets', async () => {
    const acct = await makeAccount();
    expect((await createHook(acct.adminKey, { colour: 'red' })).body).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ field: 'colour', message: 'Unknown field' }],
    });
    expect((await api('POST', '/v1/webhooks', acct.adminKey, { events: ['task.created'] })).status).toBe(400);
    expect((await createHook(acct.adminKey, { secret: 'short' })).status).toBe(400);
  });

  it('enforces the per-account webhook limit', async () => {
    const acct = await makeAccount();
    for (let i = 0; i < 10; i++) expect((await createHook(acct.adminKey)).status).toBe(201);
    const res = await createHook(acct.adminKey);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('WEBHOOK_LIMIT_REACHED');
  });
});

describe('webhook OpenAPI', () => {
  it('documents every webhook route', async () => {
    const res = await api('GET', '/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/webhooks',
        '/v1/webhooks/{id}',
        '/v1/webhooks/{id}/deliveries',
        '/v1/webhooks/{id}/test',
        '/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver',
      ]),
    );
  });
});

describe('webhook URL safety', () => {
  const UNSAFE = [
    'http://hooks.example.com/x', // plain http outside development
    'ftp://hooks.example.com/x',
    'https://user:pass@hooks.example.com/x',
    'https://user@hooks.example.com/x',
    'https://localhost/x',
    'https://api.localhost/x',
    'http://localhost:8787/x',
    'https://127.0.0.1/x',
    'https://127.255.0.9/x',
    'https://2130706433/x', // 127.0.0.1 as one number
    'https://0x7f.1/x', // hex and short forms
    'https://0x7f000001/x',
    'https://017700000001/x', // octal
    'https://127.1/x',
    'https://0.0.0.0/x',
    'https://0/x',
    'https://10.0.0.1/x',
    'https://172.16.5.4/x',
    'https://172.31.255.255/x',
    'https://192.168.1.1/x',
    'https://100.64.0.1/x', // CGNAT
    'https://169.254.169.254/latest/meta-data', // cloud metadata
    'https://metadata.google.internal/computeMetadata/v1',
    'https://224.0.0.1/x',
    'https://255.255.255.255/x',
    'https://[::1]/x',
    'https://[::]/x',
    'https://[0:0:0:0:0:0:0:1]/x',
    'https://[::ffff:127.0.0.1]/x',
    'https://[::ffff:7f00:1]/x',
    'https://[::ffff:10.0.0.1]/x',
    'https://[::ffff:169.254.169.254]/x',
    'https://[fc00::1]/x',
    'https://[fd12:3456::1]/x',
    'https://[fe80::1]/x',
    'https://[fe80::1%25eth0]/x',
    'https://[ff02::1]/x',
    'https://[64:ff9b::7f00:1]/x',
    'https://[2002:7f00:1::]/x', // 6to4 of 127.0.0.1
    'https://[2001:db8::1]/x',
    'not a url',
  ];

  it.each(UNSAFE)('refuses %s with 400 UNSAFE_WEBHOOK_URL', async (url) => {
    const acct = await makeAccount();
    const res = await api('POST', '/v1/webhooks', acct.adminKey, { url, events: ['task.created'] });
    expect(res.status).toBe(400);
    expect(['UNSAFE_WEBHOOK_URL', 'VALIDATION_FAILED']).toContain(res.body.code);
    if (url !== 'not a url') expect(res.body.code).toBe('UNSAFE_WEBHOOK_URL');
    expect(res.body.error).toEqual(expect.any(String));
  });

  it('refuses unsafe URLs on update too', async () => {
    const acct = await makeAccount();
    const { body: hook } = await api('POST', '/v1/webhooks', acct.adminKey, { url: HOOK, events: ['task.created'] });
    const res = await api('PUT', `/v1/webhooks/${hook.id}`, acct.adminKey, { url: 'https://169.254.169.254/' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('UNSAFE_WEBHOOK_URL');
    expect((await api('GET', `/v1/webhooks/${hook.id}`, acct.adminKey)).body.url).toBe(HOOK);
  });

  it.each([
    'https://hooks.example.com/x?token=1',
    'https://8.8.8.8/hook',
    'https://[2606:4700:4700::1111]/hook',
    'https://172.32.0.1/x',
    'https://hooks.example.com:8443/x',
  ])('accepts the public URL %s', async (url) => {
    const acct = await makeAccount();
    const res = await api('POST', '/v1/webhooks', acct.adminKey, { url, events: ['task.created'] });
    expect(res.status).toBe(201);
  });

  it('allows http only to localhost, 127.0.0.1 and [::1] in development', () => {
    const dev = { development: true };
    for (const url of ['http://localhost:3000/hook', 'http://127.0.0.1:9000/hook', 'http://[::1]:9000/hook', 'https://localhost/hook']) {
      expect(checkWebhookUrl(url, dev)).toBe(new URL(url).href);
    }
    for (const url of [
      'http://hooks.example.com/x',
      'http://10.0.0.1/x',
      'https://10.0.0.1/x',
      'http://2130706434/x',
      'https://169.254.169.254/',
    ]) {
      expect(() => checkWebhookUrl(url, dev), url).toThrow(/Webhook URL refused/);
    }
    expect(() => checkWebhookUrl('http://localhost:3000/hook', { development: false })).toThrow(/https is required/);
  });
});

describe('ping and the delivery log', () => {
  it('POST /test queues a signed ping that reaches the receiver and shows in the log', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver();
    const { body: hook } = await api('POST', '/v1/webhooks', acct.adminKey, { url: receiver.url, events: ['task.created'] });
    const ping = await api('POST', `/v1/webhooks/${hook.id}/test`, acct.adminKey);
    expect(ping.status).toBe(202);
    expect(ping.body).toMatchObject({ id: expect.stringMatching(/^dlv_/), event: 'ping', status: 'pending', attempts: [] });

    // The real queue consumer delivers it in the background.
    await vi.waitUntil(() => receiver.received.length === 1, { timeout: 10_000, interval: 50 });
    const got = receiver.received[0]!;
    expect(got.headers['x-delega-event']).toBe('ping');
    expect(got.headers['x-delega-delivery']).toBe(ping.body.id);
    expect(JSON.parse(got.body)).toMatchObject({
      event: 'ping',
      task: null,
      agent: { id: acct.adminId },
      account_id: acct.accountId,
      delivery_id: ping.body.id,
    });

    const log = await vi.waitUntil(
      async () => {
        const res = await api('GET', `/v1/webhooks/${hook.id}/deliveries`, acct.adminKey);
        return res.body[0]?.status === 'succeeded' ? res.body : null;
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(log).toEqual([
      {
        id: ping.body.id,
        webhook_id: hook.id,
        event: 'ping',
        status: 'succeeded',
        attempt_count: 1,
        last_status_code: 200,
        last_error: null,
        created_at: expect.any(String),
        updated_at: expect.any(String),
        attempts: [{ attempt: 1, status_code: 200, error: null, duration_ms: expect.any(Number), created_at: expect.any(String) }],
      },
    ]);
  });

  it('refuses to ping an inactive webhook', async () => {
    const acct = await makeAccount();
    const { body: hook } = await api('POST', '/v1/webhooks', acct.adminKey, { url: HOOK, events: ['task.created'], active: false });
    const res = await api('POST', `/v1/webhooks/${hook.id}/test`, acct.adminKey);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('WEBHOOK_INACTIVE');
  });

  it('paginates the log newest first', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver();
    const { body: hook } = await api('POST', '/v1/webhooks', acct.adminKey, { url: receiver.url, events: ['task.created'] });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api('POST', `/v1/webhooks/${hook.id}/test`, acct.adminKey)).body.id);
    const first = await api('GET', `/v1/webhooks/${hook.id}/deliveries?limit=2`, acct.adminKey);
    const rest = await api('GET', `/v1/webhooks/${hook.id}/deliveries?limit=2&offset=2`, acct.adminKey);
    expect(first.body.map((d: { id: string }) => d.id)).toEqual([ids[2], ids[1]]);
    expect(rest.body.map((d: { id: string }) => d.id)).toEqual([ids[0]]);
    expect((await api('GET', `/v1/webhooks/${hook.id}/deliveries?limit=0`, acct.adminKey)).status).toBe(400);
    await vi.waitUntil(() => receiver.received.length === 3, { timeout: 10_000, interval: 50 });
  });

  it('redelivery is refused unless the delivery failed', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver();
    const { body: hook } = await api('POST', '/v1/webhooks', acct.adminKey, { url: receiver.url, events: ['task.created'] });
    const ping = await api('POST', `/v1/webhooks/${hook.id}/test`, acct.adminKey);
    await vi.waitUntil(() => receiver.received.length === 1, { timeout: 10_000, interval: 50 });
    const res = await api('POST', `/v1/webhooks/${hook.id}/deliveries/${ping.body.id}/redeliver`, acct.adminKey);
    expect(res.status).toBe(409);
    expect(['DELIVERY_NOT_FAILED']).toContain(res.body.code);
    const missing = await api('POST', `/v1/webhooks/${hook.id}/deliveries/dlv_missing/redeliver`, acct.adminKey);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('DELIVERY_NOT_FOUND');
  });
});
