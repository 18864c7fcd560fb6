/**
 * Ingress and automations end to end against `wrangler dev` (local D1 and Queues): a sender
 * signs a CI-failure payload as the README shows, the task appears, a rule acts on it only
 * because it opted in with `source eq ingress`, and a retried delivery creates nothing.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startDevServer, type DevServer } from './harness';

let server: DevServer;
let adminKey: string;

beforeAll(async () => {
  server = await startDevServer();
  const signup = await http(server.baseUrl, 'POST', '/v1/signup', {
    body: { email: `ingress-${Date.now()}@example.com`, name: 'Ingress Tester' },
  });
  expect(signup.status, JSON.stringify(signup.body)).toBe(201);
  adminKey = (signup.body as { api_key: string }).api_key;
});

afterAll(async () => {
  await server?.stop();
});

const api = <T = any>(method: string, path: string, body?: unknown) => http<T>(server.baseUrl, method, path, { key: adminKey, body });

/** What a sender does: HMAC-SHA-256 over "<unix seconds>.<raw body>" with the source's secret. */
function sign(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

async function post(sourceId: string, body: string, signature: string) {
  const res = await fetch(`${server.baseUrl}/v1/ingress/${sourceId}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Delega-Ingress-Signature': signature },
    body,
  });
  return { status: res.status, body: (await res.json()) as any };
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

describe('a CI failure through an ingress source', () => {
  it('becomes a task, an opted-in rule acts on it, a rule that did not opt in leaves it alone, and a retry creates nothing', async () => {
    const source = await api('POST', '/v1/ingress-sources', {
      name: 'github-actions-ci',
      template: {
        content: 'CI failed: {{workflow.name}} on {{branch}}',
        description: 'Run {{run.id}}',
        priority: 3,
        labels: ['ci'],
        dedupe_key: '{{run.id}}',
      },
      filters: [{ path: 'workflow.conclusion', op: 'eq', value: 'failure' }],
    });
    expect(source.status).toBe(201);
    const { id: sourceId, secret } = source.body;

    const optedIn = await api('POST', '/v1/automations', {
      name: 'Triage CI failures',
      event: 'task.created',
      conditions: [
        { field: 'source', op: 'eq', value: 'ingress' },
        { field: 'label', op: 'has', value: 'ci' },
      ],
      actions: [
        { type: 'add_comment', content: 'Triage: {{task.content}}' },
        { type: 'set_priority', priority: 4 },
      ],
    });
    const everyTask = await api('POST', '/v1/automations', {
      name: 'Tag everything',
      event: 'task.created',
      actions: [{ type: 'add_label', label: 'tagged' }],
    });
    expect([optedIn.status, everyTask.status]).toEqual([201, 201]);

    const payload = JSON.stringify({
      workflow: { name: 'test', conclusion: 'failure' },
      branch: 'main',
      run: { id: 4242 },
      repository: 'acme/api',
    });
    const sentAt = Math.floor(Date.now() / 1000);
    const first = await post(sourceId, payload, sign(secret, payload, sentAt));
    expect(first.status).toBe(201);
    expect(first.body.outcome).toBe('created');

    const task = (await api('GET', `/v1/tasks/${first.body.task_id}`)).body;
    expect(task).toMatchObject({ content: 'CI failed: test on main', description: 'Run 4242', source_ingress_id: sourceId });
    expect(task.labels).toEqual(expect.arrayContaining(['ci', 'ingress']));

    const comments = await until('the opted-in rule’s comment', async () => {
      const res = await api<any[]>('GET', `/v1/tasks/${task.id}/comments`);
      return res.body.length > 0 && res.body;
    });
    expect(comments.map((c) => c.content)).toEqual(['Triage: CI failed: test on main']);
    const after = (await api('GET', `/v1/tasks/${task.id}`)).body;
    expect(after.priority).toBe(4);
    expect(after.labels).not.toContain('tagged');
    expect((await api('GET', `/v1/automations/${optedIn.body.id}`)).body.run_count).toBe(1);
    expect((await api('GET', `/v1/automations/${everyTask.body.id}`)).body.run_count).toBe(0);

    // The CI system retries the same run, signed anew (another timestamp).
    const retrySignature = sign(secret, payload, sentAt - 10);
    const retry = await post(sourceId, payload, retrySignature);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ outcome: 'duplicate', task_id: task.id });
    const all = (await api<any[]>('GET', '/v1/tasks?limit=100')).body;
    expect(all.filter((t) => t.source_ingress_id === sourceId)).toHaveLength(1);

    // The same bytes and signature again: a replay, refused.
    const replay = await post(sourceId, payload, retrySignature);
    expect(replay.status).toBe(409);

    const log = (await api<any[]>('GET', `/v1/ingress-sources/${sourceId}/deliveries`)).body;
    expect(log.map((d) => d.outcome)).toEqual(['ingress_replayed', 'duplicate', 'created']);
    expect(JSON.stringify(log)).not.toContain('acme/api');
  });
});
