import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { webhookDeliveries } from '../../src/db/schema';
import type { Principal } from '../../src/access/policy';
import { taskJson, type TaskJson } from '../../src/tasks/task-json';
import { newTaskRow } from '../../src/tasks/tasks';
import { handleWebhookBatch } from '../../src/webhooks/consumer';
import { newDelivery, type DeliveryRow } from '../../src/webhooks/deliveries';
import { enqueueTaskEvents } from '../../src/events/relay';
import type { WebhookMessage } from '../../src/webhooks/messages';
import { api, db, makeAccount, type TestAccount } from '../helpers/fixtures';
import { installReceivers, makeReceiver, type Receiver } from '../helpers/webhook-receiver';

let spy: ReturnType<typeof installReceivers>;
beforeAll(() => {
  spy = installReceivers();
});
afterAll(() => spy.mockRestore());

const MAIN = 'delega-webhooks';
const DLQ = 'delega-webhooks-dlq';

/** A task's answer as a new row gives it, so a column added to tasks is in it with nothing written here. */
function sampleTask(acct: TestAccount, content = 'Ship the release'): TaskJson {
  const now = Date.parse('2026-01-15T10:30:00Z');
  const author = { accountId: acct.accountId, agentId: acct.adminId, mode: 'admin', sandboxProjectId: null } as Principal;
  const id = 'tsk_sample0000000000000001';
  return taskJson(
    { ...newTaskRow(author, { input: { content, project_id: acct.projectId }, now }), id, rootTaskId: id, accountableAgentId: null },
    now,
  );
}

async function subscribe(acct: TestAccount, url: string, body: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const res = await api('POST', '/v1/webhooks', acct.adminKey, { url, events: ['task.created'], ...body });
  expect(res.status).toBe(201);
  return { id: res.body.id, secret: res.body.secret };
}

/** A recorded delivery that is not on the queue, so only the test drives its consumer. */
async function storedDelivery(acct: TestAccount, webhookId: string, event = 'task.created'): Promise<DeliveryRow> {
  const row = newDelivery({ webhookId, accountId: acct.accountId, event, task: sampleTask(acct), agentId: acct.adminId }, Date.now());
  await db().insert(webhookDeliveries).values(row);
  return row;
}

async function consume(queue: string, rows: DeliveryRow[], receiver: Receiver | null, opts: { attempts?: number; env?: typeof env } = {}) {
  const batch = createMessageBatch<WebhookMessage>(
    queue,
    rows.map((r) => ({
      id: `msg-${r.id}`,
      timestamp: new Date(),
      attempts: opts.attempts ?? 1,
      body: { deliveryId: r.id, webhookId: r.webhookId, accountId: r.accountId },
    })),
  );
  // getQueueResult does not report delaySeconds, so the retry calls are observed directly.
  const delays = new Map<string, number | undefined>();
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    vi.spyOn(m, 'retry').mockImplementation((options) => {
      delays.set(m.id, options?.delaySeconds);
      retry(options);
    });
  }
  const ctx = createExecutionContext();
  await handleWebhookBatch(batch, opts.env ?? env, receiver ? { fetch: receiver.fetch } : {});
  const result = await getQueueResult(batch, ctx);
  return { ...result, retryMessages: result.retryMessages.map((r) => ({ msgId: r.msgId, delaySeconds: delays.get(r.msgId) })) };
}

async function log(acct: TestAccount, webhookId: string) {
  const res = await api('GET', `/v1/webhooks/${webhookId}/deliveries`, acct.adminKey);
  expect(res.status).toBe(200);
  return res.body as any[];
}

async function hook(acct: TestAccount, webhookId: string) {
  return (await api('GET', `/v1/webhooks/${webhookId}`, acct.adminKey)).body;
}

/** The receiver's check from the Delega docs, done independently of the Worker's code. */
async function verify(secret: string, headers: Record<string, string>, rawBody: string): Promise<boolean> {
  const ts = headers['x-delega-timestamp']!;
  if (Math.abs(Date.now() - Date.parse(ts)) > 5 * 60_000) return false;
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${ts}.${rawBody}`)));
  const expected = `sha256=${[...mac].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  return expected === headers['x-delega-signature'];
}

describe('event emission and signing', () => {
  it('delivers a task event through the queue, signed over the exact bytes sent', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver();
    const sub = await subscribe(acct, receiver.url, { events: ['task.created', 'task.completed'] });
    const task = sampleTask(acct);

    await enqueueTaskEvents(env, [{ event: 'task.created', accountId: acct.accountId, agentId: acct.adminId, task }]);
    await vi.waitUntil(() => receiver.received.length === 1, { timeout: 10_000, interval: 50 });

    const got = receiver.received[0]!;
    expect(await verify(sub.secret, got.headers, got.body)).toBe(true);
    expect(await verify('whsec_wrong', got.headers, got.body)).toBe(false);
    expect(await verify(sub.secret, got.headers, got.body.replace('Ship', 'Skip'))).toBe(false);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['user-agent']).toMatch(/^Delega-Webhooks\//);
    expect(got.headers['x-delega-event']).toBe('task.created');
    expect(got.headers['x-delega-timestamp']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const body = JSON.parse(got.body);
    expect(Object.keys(body)).toEqual(['event', 'timestamp', 'task', 'agent', 'account_id', 'delivery_id']);
    expect(body).toEqual({
      event: 'task.created',
      timestamp: expect.any(String),
      task,
      agent: { id: acct.adminId },
      account_id: acct.accountId,
      delivery_id: got.headers['x-delega-delivery'],
    });
  });

  it('reaches only active webhooks of the same account subscribed to that event', async () => {
    const acct = await makeAccount();
    const other = await makeAccount();
    const yes = makeReceiver();
    const wrongEvent = makeReceiver();
    const inactive = makeReceiver();
    const otherAccount = makeReceiver();
    await subscribe(acct, yes.url, { events: ['task.completed'] });
    const wrong = await subscribe(acct, wrongEvent.url, { events: ['task.created'] });
    const off = await subscribe(acct, inactive.url, { events: ['task.completed'], active: false });
    await subscribe(other, otherAccount.url, { events: ['task.completed'] });

    await enqueueTaskEvents(env, [{ event: 'task.completed', accountId: acct.accountId, agentId: null, task: sampleTask(acct) }]);
    await vi.waitUntil(() => yes.received.length === 1, { timeout: 10_000, interval: 50 });
    expect(JSON.parse(yes.received[0]!.body).agent).toBeNull();
    expect(await log(acct, wrong.id)).toEqual([]);
    expect(await log(acct, off.id)).toEqual([]);
    expect(wrongEvent.received).toHaveLength(0);
    expect(inactive.received).toHaveLength(0);
    expect(otherAccount.received).toHaveLength(0);
  });
});

describe('the consumer: retry classification', () => {
  it.each([200, 201, 202, 204])('%i is success: acked, logged, streak reset', async (status) => {
    const acct = await makeAccount();
    const receiver = makeReceiver(() => new Response(null, { status }));
    const sub = await subscribe(acct, receiver.url);
    const d = await storedDelivery(acct, sub.id);
    const result = await consume(MAIN, [d], receiver);
    expect(result.explicitAcks).toEqual([`msg-${d.id}`]);
    expect(result.retryMessages).toEqual([]);
    const [entry] = await log(acct, sub.id);
    expect(entry).toMatchObject({
      id: d.id,
      status: 'succeeded',
      attempt_count: 1,
      last_status_code: status,
      attempts: [{ attempt: 1, status_code: status, error: null }],
    });
  });

  it.each([500, 502, 503, 504, 429])('%i is retried with backoff and the delivery shows retrying', async (status) => {
    const acct = await makeAccount();
    const receiver = makeReceiver(() => new Response('busy', { status }));
    const sub = await subscribe(acct, receiver.url);
    const d = await storedDelivery(acct, sub.id);
    const result = await consume(MAIN, [d], receiver);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: `msg-${d.id}`, delaySeconds: 30 }]);
    const [entry] = await log(acct, sub.id);
    expect(entry).toMatchObject({
      status: 'retrying',
      last_status_code: status,
      attempts: [{ attempt: 1, status_code: status, error: `HTTP ${status}` }],
    });
    expect((await hook(acct, sub.id)).consecutive_failures).toBe(0);
  });

  it.each([400, 401, 403, 404, 410, 422, 301])('%i is final: acked, failed, counted against the webhook', async (status) => {
    const acct = await makeAccount();
    const receiver = makeReceiver(
      () => new Response('no', { status, headers: status === 301 ? { Location: 'https://elsewhere.example.net/' } : {} }),
    );
    const sub = await subscribe(acct, receiver.url);
    const d = await storedDelivery(acct, sub.id);
    const result = await consume(MAIN, [d], receiver);
    expect(result.explicitAcks).toEqual([`msg-${d.id}`]);
    expect(result.retryMessages).toEqual([]);
    const [entry] = await log(acct, sub.id);
    expect(entry).toMatchObject({ status: 'failed', last_status_code: status, attempts: [{ attempt: 1, status_code: status }] });
    expect((await hook(acct, sub.id)).consecutive_failures).toBe(1);
  });

  it('a network error is retried, with no status code and the error in the log', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver(() => {
      throw new TypeError('connection refused');
    });
    const sub = await subscribe(acct, receiver.url);
    const d = await storedDelivery(acct, sub.id);
    const result = await consume(MAIN, [d], receiver);
    expect(result.retryMessages).toEqual([{ msgId: `msg-${d.id}`, delaySeconds: 30 }]);
    const [entry] = await log(acct, sub.id);
    expect(entry.attempts).toEqual([
      {
        attempt: 1,
        status_code: null,
        error: expect.stringContaining('connection refused'),
        duration_ms: expect.any(Number),
        created_at: expect.any(String),
      },
    ]);
  });

  it('a receiver slower than the timeout is aborted and retried', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver(
      (_n, req) =>
        new Promise<Response>((_resolve, reject) => {
          req.signal.addEventListener('abort', () => reject(req.signal.reason));
        }),
    );
    const sub = await subscribe(acct, receiver.url);
    const d = await storedDelivery(acct, sub.id);
    const result = await consume(MAIN, [d], receiver, { env: { ...env, LIMIT_WEBHOOK_TIMEOUT_MS: '100' } });
    expect(result.retryMessages).toHaveLength(1);
    const [entry] = await log(acct, sub.id);
    expect(entry.attempts[0]).toMatchObject({ status_code: null, error: 'Timed out after 100 ms' });
  });

  it('backs off exponentially by attempt, capped', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver(() => new Response(null, { status: 503 }));
    const sub = await subscribe(acct, receiver.url);
    const delays: number[] = [];
    for (const attempts of [1, 2, 3, 4, 10]) {
      const d = await storedDelivery(acct, sub.id);
      delays.push((await consume(MAIN, [d], receiver, { attempts })).retryMessages[0]!.delaySeconds!);
    }
    expect(delays).toEqual([30, 60, 120, 240, 3600]);
  });

  it('fails three times then succeeds: one acknowledged event, four attempts, same signed bytes', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver((n) => new Response(null, { status: n <= 3 ? 500 : 200 }));
    const sub = await subscribe(acct, receiver.url);
    const d = await storedDelivery(acct, sub.id);
    for (let attempt = 1; attempt <= 4; attempt++) {
      const result = await consume(MAIN, [d], receiver, { attempts: attempt });
      expect(result.retryMessages.length, `attempt ${attempt}`).toBe(attempt <= 3 ? 1 : 0);
    }
    // A duplicate message after success sends nothing.
    expect((await consume(MAIN, [d], receiver, { attempts: 5 })).explicitAcks).toEqual([`msg-${d.id}`]);
    expect(receiver.received).toHaveLength(4);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    for (const r of receiver.received) expect(await verify(sub.secret, r.headers, r.body)).toBe(true);
    const [entry] = await log(acct, sub.id);
    expect(entry.status).toBe('succeeded');
    expect(entry.attempts.map((a: { attempt: number; status_code: number }) => [a.attempt, a.status_code])).toEqual([
      [1, 500],
      [2, 500],
      [3, 500],
      [4, 200],
    ]);
    expect((await hook(acct, sub.id)).consecutive_failures).toBe(0);
  });
});

describe('the consumer: dead letters and stale messages', () => {
  it('the dead-letter queue marks the delivery failed; redelivery sends it again and extends the log', async () => {
    const acct = await makeAccount();
    let up = false;
    const receiver = makeReceiver(() => new Response(null, { status: up ? 200 : 503 }));
    const sub = await subscribe(acct, receiver.url);
    const d = await storedDelivery(acct, sub.id);
    await consume(MAIN, [d], receiver, { attempts: 1 });
    await consume(MAIN, [d], receiver, { attempts: 2 });

    // The Queue gave up (max_retries): the message arrives on the dead-letter queue.
    const dead = await consume(DLQ, [d], receiver);
    expect(dead.explicitAcks).toEqual([`msg-${d.id}`]);
    expect(receiver.received).toHaveLength(2);
    let [entry] = await log(acct, sub.id);
    expect(entry).toMatchObject({
      status: 'failed',
      attempt_count: 2,
      last_error: expect.stringMatching(/^Dead-lettered after 2 attempts/),
    });
    expect((await hook(acct, sub.id)).consecutive_failures).toBe(1);

    up = true;
    const again = await api('POST', `/v1/webhooks/${sub.id}/deliveries/${d.id}/redeliver`, acct.adminKey);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ id: d.id, status: 'pending', attempts: [{ attempt: 1 }, { attempt: 2 }] });
    // The real queue consumer picks the redelivery up.
    await vi.waitUntil(() => receiver.received.length === 3, { timeout: 10_000, interval: 50 });
    entry = await vi.waitUntil(async () => ((await log(acct, sub.id))[0].status === 'succeeded' ? (await log(acct, sub.id))[0] : null), {
      timeout: 10_000,
      interval: 50,
    });
    expect(entry.attempts.map((a: { attempt: number; status_code: number }) => [a.attempt, a.status_code])).toEqual([
      [1, 503],
      [2, 503],
      [3, 200],
    ]);
    expect(receiver.received[2]!.body).toBe(receiver.received[0]!.body);
    expect((await hook(acct, sub.id)).consecutive_failures).toBe(0);
  });

  it('a dead letter for a finished or deleted delivery changes nothing', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver();
    const sub = await subscribe(acct, receiver.url);
    const d = await storedDelivery(acct, sub.id);
    await consume(MAIN, [d], receiver);
    expect((await consume(DLQ, [d], receiver)).explicitAcks).toHaveLength(1);
    expect((await log(acct, sub.id))[0].status).toBe('succeeded');
    await api('DELETE', `/v1/webhooks/${sub.id}`, acct.adminKey);
    expect((await consume(DLQ, [d], receiver)).explicitAcks).toHaveLength(1);
  });

  it('a webhook deleted meanwhile: acked without sending', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver();
    const sub = await subscribe(acct, receiver.url);
    const d = await storedDelivery(acct, sub.id);
    expect((await api('DELETE', `/v1/webhooks/${sub.id}`, acct.adminKey)).status).toBe(200);
    const result = await consume(MAIN, [d], receiver);
    expect(result.explicitAcks).toEqual([`msg-${d.id}`]);
    expect(receiver.received).toHaveLength(0);
  });

  it('a webhook deactivated meanwhile: acked without sending, and the log says why', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver();
    const sub = await subscribe(acct, receiver.url);
    const d = await storedDelivery(acct, sub.id);
    await api('PUT', `/v1/webhooks/${sub.id}`, acct.adminKey, { active: false });
    const result = await consume(MAIN, [d], receiver);
    expect(result.explicitAcks).toEqual([`msg-${d.id}`]);
    expect(receiver.received).toHaveLength(0);
    const [entry] = await log(acct, sub.id);
    expect(entry).toMatchObject({ status: 'failed', attempts: [], last_error: expect.stringContaining('deactivated') });
    expect((await hook(acct, sub.id)).consecutive_failures).toBe(0);
  });
});

describe('auto-deactivation', () => {
  it('20 consecutive failed deliveries deactivate the webhook, with the reason shown', async () => {
    const acct = await makeAccount();
    const receiver = makeReceiver(() => new Response('gone', { status: 410 }));
    const sub = await subscribe(acct, receiver.url);
    const first = await Promise.all(Array.from({ length: 19 }, () => storedDelivery(acct, sub.id)));
    await consume(MAIN, first, receiver);
    expect(await hook(acct, sub.id)).toMatchObject({ active: true, consecutive_failures: 19, disabled_reason: null });

    await consume(MAIN, [await storedDelivery(acct, sub.id)], receiver);
    const off = await hook(acct, sub.id);
    expect(off).toMatchObject({
      active: false,
      consecutive_failures: 20,
      disabled_reason: expect.stringContaining('20 consecutive failed deliveries'),
    });
    expect(off.disabled_reason).toContain('HTTP 410');

    // No new deliveries are recorded for it while it is off.
    await enqueueTaskEvents(env, [{ event: 'task.created', accountId: acct.accountId, agentId: acct.adminId, task: sampleTask(acct) }]);
    expect(await log(acct, sub.id)).toHaveLength(20);

    const back = await api('PUT', `/v1/webhooks/${sub.id}`, acct.adminKey, { active: true });
    expect(back.body).toMatchObject({ active: true, consecutive_failures: 0, disabled_reason: null });
  });

  it('a success in between resets the streak', async () => {
    const acct = await makeAccount();
    let status = 500;
    const receiver = makeReceiver(() => new Response(null, { status }));
    const sub = await subscribe(acct, receiver.url);
    status = 404;
    await consume(MAIN, await Promise.all(Array.from({ length: 19 }, () => storedDelivery(acct, sub.id))), receiver);
    status = 200;
    await consume(MAIN, [await storedDelivery(acct, sub.id)], receiver);
    status = 404;
    await consume(MAIN, [await storedDelivery(acct, sub.id)], receiver);
    expect(await hook(acct, sub.id)).toMatchObject({ active: true, consecutive_failures: 1 });
  });
});
