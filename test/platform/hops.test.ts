/**
 * Sequential remote hops per request (X-Remote-Hops), counted when D1_METRICS=1 and the request
 * sends X-D1-Metrics: 1: each D1 round trip and each Durable Object call, calls in parallel once,
 * and the claim queue's own D1 batch behind its call. Targets: at most 2 for reads and plain
 * writes, 3 for claim and complete (a key's first request also reads its principal: one more).
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { HopMeter } from '../../src/platform/hops';
import { jsonRequest } from '../helpers/json-request';
import { BASE, makeAccount } from '../helpers/fixtures';

/** One request through the Worker's entry with metrics on: its status, body, D1 round trips and hops. */
async function measured(method: string, path: string, key: string, body?: unknown) {
  const ctx = createExecutionContext();
  const res = await jsonRequest<any>(
    (url, init) => worker.fetch(new Request(url, init) as Request<unknown, IncomingRequestCfProperties>, { ...env, D1_METRICS: '1' }, ctx),
    `${BASE}${path}`,
    method,
    { key, body, headers: { 'X-D1-Metrics': '1' } },
  );
  await waitOnExecutionContext(ctx);
  return {
    status: res.status,
    body: res.body,
    d1: Number(res.headers.get('X-D1-Round-Trips')),
    hops: Number(res.headers.get('X-Remote-Hops')),
    statements: Number(res.headers.get('X-D1-Statements')),
    rowsWritten: Number(res.headers.get('X-D1-Rows-Written')),
  };
}

describe('remote hops per request', () => {
  it('a read, a plain write, a claim and a completion stay within their targets', async () => {
    const account = await makeAccount();
    const key = account.adminKey;
    // The key's first request reads its principal from D1 inside the key gate: one hop more.
    const first = await measured('GET', '/v1/tasks', key);
    expect(first.status).toBe(200);
    expect(first.hops).toBe(3);

    const created = await measured('POST', '/v1/tasks', key, { content: 'Count my hops', labels: ['hops'] });
    expect(created.status).toBe(201);
    expect(created.hops).toBe(2);
    expect(created.d1).toBe(1);
    const id = created.body.id as string;

    const read = await measured('GET', `/v1/tasks/${id}`, key);
    expect(read.status).toBe(200);
    expect(read.hops).toBe(2);
    expect(read.d1).toBe(1);

    const list = await measured('GET', '/v1/tasks', key);
    expect([list.status, list.hops, list.d1]).toEqual([200, 2, 1]);

    const patched = await measured('PATCH', `/v1/tasks/${id}/context`, key, { step: 'hops' });
    expect([patched.status, patched.hops]).toEqual([200, 2]);

    const claimed = await measured('POST', '/v1/tasks/claim', key, { labels: ['hops'] });
    expect(claimed.status).toBe(200);
    expect(claimed.body.task.id).toBe(id);
    expect(claimed.hops).toBe(3);
    // The claim queue's batch comes back in its receipt: its statements and the rows it wrote.
    expect(claimed.statements).toBeGreaterThanOrEqual(3);
    expect(claimed.rowsWritten).toBeGreaterThan(0);

    const completed = await measured('POST', `/v1/tasks/${id}/complete`, key);
    expect(completed.status).toBe(200);
    expect(completed.body.completed).toBe(true);
    expect(completed.hops).toBe(3);
  });

  it('a request without metrics carries no counts', async () => {
    const account = await makeAccount();
    const res = await worker.fetch(
      new Request(`${BASE}/v1/tasks`, { headers: { 'X-Agent-Key': account.adminKey } }) as Request<unknown, IncomingRequestCfProperties>,
      { ...env, D1_METRICS: '1' },
      createExecutionContext(),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Remote-Hops')).toBeNull();
    expect(res.headers.get('X-D1-Round-Trips')).toBeNull();
  });
});

describe('the hop meter', () => {
  it('counts calls in parallel once, calls in sequence each, and what a callee did behind its call', async () => {
    const meter = new HopMeter();
    const call = () => meter.hop(() => Promise.resolve(1));
    await Promise.all([call(), call(), call()]);
    expect(meter.count).toBe(1);
    await call();
    expect(meter.count).toBe(2);
    await meter.hop(
      () => Promise.resolve({ trips: 2 }),
      (v) => v.trips,
    );
    expect(meter.count).toBe(5);
    // A call started before the last ones completed follows only what had completed when it started.
    const meter2 = new HopMeter();
    let release!: () => void;
    const slow = meter2.hop(() => new Promise<void>((r) => (release = r)));
    await meter2.hop(() => Promise.resolve());
    await meter2.hop(() => Promise.resolve());
    release();
    await slow;
    expect(meter2.count).toBe(2);
  });
});
