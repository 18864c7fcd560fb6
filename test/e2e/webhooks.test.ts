/**
 * Webhooks end to end: a real `wrangler dev` (local Queues, D1) delivering to real HTTP
 * receivers on 127.0.0.1 that verify signatures the way the Delega docs tell receivers to.
 * Retry delays are shortened through LIMIT_ vars so the retry and dead-letter paths finish fast.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, http, startDevServer, type DevServer } from './harness';

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  verified: boolean;
  status: number;
}

/** The receiver-side check: 5-minute tolerance, HMAC over "{timestamp}.{raw body}", timing-safe compare. */
function verifySignature(secret: string, headers: IncomingHttpHeaders, rawBody: string): boolean {
  const timestamp = String(headers['x-delega-timestamp'] ?? '');
  const signature = String(headers['x-delega-signature'] ?? '');
  const sent = Date.parse(timestamp);
  if (!Number.isFinite(sent) || Math.abs(Date.now() - sent) > 5 * 60 * 1000) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

interface Receiver {
  url: string;
  deliveries: Delivery[];
  secret: string;
  close: () => Promise<void>;
}

/** A Node HTTP receiver; `answer(n)` decides the status of the n-th request. */
async function startReceiver(answer: (n: number) => number): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const receiver: Receiver = { url: '', deliveries, secret: '', close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = answer(deliveries.length + 1);
      deliveries.push({ headers: req.headers, body, verified: verifySignature(receiver.secret, req.headers, body), status });
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${port}/delega`;
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let server: DevServer;
let adminKey: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  server = await startDevServer({
    vars: {
      LIMIT_WEBHOOK_RETRY_BASE_SECONDS: '1',
      LIMIT_WEBHOOK_RETRY_MAX_SECONDS: '1',
      LIMIT_WEBHOOK_TIMEOUT_MS: '3000',
      LIMIT_RATE_PER_MINUTE: '10000',
    },
  });
  const signup = await http(server.baseUrl, 'POST', '/v1/signup', {
    body: { email: `hooks-${Date.now()}@example.com`, name: 'Hook Tester' },
  });
  expect(signup.status, JSON.stringify(signup.body)).toBe(201);
  adminKey = (signup.body as { api_key: string }).api_key;
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await server?.stop();
});

async function subscribe(receiver: Receiver): Promise<string> {
  const res = await http<{ id: string; secret: string }>(server.baseUrl, 'POST', '/v1/webhooks', {
    key: adminKey,
    body: { url: receiver.url, events: ['task.created', 'task.state_changed'] },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.secret).toMatch(/^whsec_/);
  receiver.secret = res.body.secret;
  return res.body.id;
}

async function deliveryLog(webhookId: string) {
  const res = await http<any[]>(server.baseUrl, 'GET', `/v1/webhooks/${webhookId}/deliveries`, { key: adminKey });
  expect(res.status).toBe(200);
  return res.body;
}

describe('webhooks over wrangler dev', () => {
  it('a receiver failing the first 3 attempts gets the event once acknowledged, and the log shows 4 attempts', async () => {
    const receiver = await startReceiver((n) => (n <= 3 ? 503 : 200));
    receivers.push(receiver);
    const id = await subscribe(receiver);

    const ping = await http<{ id: string }>(server.baseUrl, 'POST', `/v1/webhooks/${id}/test`, { key: adminKey });
    expect(ping.status).toBe(202);

    const entry = await until('the delivery to succeed', async () =>
      (await deliveryLog(id)).find((d) => d.id === ping.body.id && d.status === 'succeeded'),
    );
    expect(entry.attempts.map((a: { attempt: number; status_code: number }) => [a.attempt, a.status_code])).toEqual([
      [1, 503],
      [2, 503],
      [3, 503],
      [4, 200],
    ]);
    expect(receiver.deliveries.filter((d) => d.status < 300)).toHaveLength(1);
    expect(receiver.deliveries).toHaveLength(4);
    for (const d of receiver.deliveries) {
      expect(d.verified).toBe(true);
      expect(d.headers['x-delega-delivery']).toBe(ping.body.id);
      expect(d.headers['x-delega-event']).toBe('ping');
      expect(d.body).toBe(receiver.deliveries[0]!.body);
    }
    expect(JSON.parse(receiver.deliveries[0]!.body)).toMatchObject({ event: 'ping', task: null, delivery_id: ping.body.id });
    // Still exactly one acknowledged request a moment later: nothing was sent twice.
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.deliveries).toHaveLength(4);
  });

  it('a receiver that is down throughout ends dead-lettered: the delivery is failed and every attempt logged', async () => {
    // A host that accepts connections and drops them unanswered: down, and the port stays ours.
    const sockets = new Set<Socket>();
    let connections = 0;
    const down = createTcpServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.destroy();
    });
    const port = await freePort();
    await new Promise<void>((resolve) => down.listen(port, '127.0.0.1', resolve));
    const receiver: Receiver = {
      url: `http://127.0.0.1:${port}/delega`,
      deliveries: [],
      secret: '',
      close: () => new Promise<void>((resolve) => down.close(() => resolve())),
    };
    receivers.push(receiver);
    const id = await subscribe(receiver);

    const ping = await http<{ id: string }>(server.baseUrl, 'POST', `/v1/webhooks/${id}/test`, { key: adminKey });
    expect(ping.status).toBe(202);
    let last: unknown;
    const entry = await until(
      'the delivery to be dead-lettered',
      async () => {
        const log = await deliveryLog(id);
        last = log;
        return log.find((d) => d.id === ping.body.id && d.status === 'failed');
      },
      60_000,
    ).catch((e) => {
      throw new Error(`${e.message}; log: ${JSON.stringify(last)}; connections: ${connections}`);
    });
    expect(connections).toBeGreaterThanOrEqual(9);
    // wrangler.toml: max_retries = 8, so 9 attempts, then the dead-letter queue.
    expect(entry.attempts).toHaveLength(9);
    expect(
      entry.attempts.every((a: { status_code: number | null; error: string }) => a.status_code === null && /^Network error/.test(a.error)),
    ).toBe(true);
    expect(entry.last_error).toMatch(/^Dead-lettered after 9 attempts/);
    const hook = await http<{ consecutive_failures: number; active: boolean }>(server.baseUrl, 'GET', `/v1/webhooks/${id}`, {
      key: adminKey,
    });
    expect(hook.body).toMatchObject({ consecutive_failures: 1, active: true });
  });

  it('task events from real routes arrive signed and verifiable', async (ctx) => {
    const receiver = await startReceiver(() => 200);
    receivers.push(receiver);
    await subscribe(receiver);
    const created = await http<{ id: string }>(server.baseUrl, 'POST', '/v1/tasks', {
      key: adminKey,
      body: { content: 'Webhook e2e task' },
    });
    // Reported as skipped, not passed, while the task routes are not mounted yet.
    if (created.status === 404) ctx.skip();
    expect(created.status).toBe(201);
    await until(
      'task.created to arrive',
      async () => receiver.deliveries.find((d) => d.headers['x-delega-event'] === 'task.created'),
      30_000,
    );
    const got = receiver.deliveries.find((d) => d.headers['x-delega-event'] === 'task.created')!;
    expect(got.verified).toBe(true);
    expect(JSON.parse(got.body)).toMatchObject({ event: 'task.created', task: { id: created.body.id, content: 'Webhook e2e task' } });
  });
});
