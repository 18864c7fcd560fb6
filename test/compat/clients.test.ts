/**
 * Client compatibility: drives `wrangler dev` exactly as the public Delega clients do (the
 * Python SDK, the MCP server, the CLI), from their documented behaviour. A bare localhost base
 * URL maps to the `/api` namespace; every shape asserted here is one a client parses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../e2e/harness';

let server: DevServer;
let api: string;
let key: string;

/** What the clients send: JSON bodies, X-Agent-Key, POST actions with an empty JSON body. */
async function call(method: string, path: string, body?: unknown, opts: { key?: string; rawQuery?: string } = {}) {
  const headers: Record<string, string> = {
    'X-Agent-Key': opts.key ?? key,
    'Content-Type': 'application/json',
    Accept: 'application/json',
  };
  const res = await fetch(`${api}${path}`, {
    method,
    headers,
    body: body === undefined ? (method === 'POST' ? '' : undefined) : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  server = await startDevServer();
  // The clients' self-hosted rule: a bare localhost URL means the /api namespace.
  api = `${server.baseUrl}/api`;
  const signup = await fetch(`${server.baseUrl}/v1/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: `compat-${Date.now()}@example.com`, name: 'Compat' }),
  });
  const body = (await signup.json()) as { api_key: string; agent: { api_key: string } };
  // The CLI reads agent.api_key from the signup answer.
  expect(body.agent.api_key).toBe(body.api_key);
  expect(body.api_key).toMatch(/^dlg_/);
  key = body.api_key;
});

afterAll(async () => {
  await server?.stop();
});

describe('Python SDK', () => {
  it('creates, lists (bare array), filters with Python-encoded query values, updates and completes', async () => {
    const created = await call('POST', '/tasks', { content: 'Deploy to production', priority: 1, labels: ['ops'] });
    expect(created.status).toBe(201);
    for (const field of ['id', 'content', 'priority', 'labels', 'completed', 'parent_id', 'created_at', 'updated_at'])
      expect(created.body).toHaveProperty(field);
    await call('POST', '/tasks', {
      content: 'Fix bug',
      description: 'Crash on login',
      priority: 3,
      labels: ['urgent', 'bug'],
      due_date: '2026-12-01',
    });

    const all = await call('GET', '/tasks');
    expect(Array.isArray(all.body)).toBe(true);
    expect(all.headers.get('X-Total-Count')).toBe(String(all.body.length));

    // urlencode(..., doseq=True) sends False and repeats list values.
    const open = await call('GET', '/tasks?priority=1&completed=False');
    expect(open.body.map((t: { content: string }) => t.content)).toEqual(['Deploy to production']);
    const labelled = await call('GET', '/tasks?labels=urgent&labels=bug&due_before=2026-12-31');
    expect(labelled.body.map((t: { content: string }) => t.content)).toEqual(['Fix bug']);
    const search = await call('GET', '/tasks?search=CRASH');
    expect(search.body).toHaveLength(1);

    const updated = await call('PUT', `/tasks/${created.body.id}`, { content: 'Updated title', priority: 3 });
    expect(updated.body).toMatchObject({ id: created.body.id, content: 'Updated title', priority: 3 });
    const done = await call('POST', `/tasks/${created.body.id}/complete`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: created.body.id, content: 'Updated title', completed: true });
    const undone = await call('POST', `/tasks/${created.body.id}/uncomplete`);
    expect(undone.body).toMatchObject({ id: created.body.id, completed: false });
    const deleted = await call('DELETE', `/tasks/${created.body.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ deleted: true, id: created.body.id });
    const missing = await call('GET', `/tasks/${created.body.id}`);
    expect(missing.status).toBe(404);
    expect(typeof missing.body.error).toBe('string');
  });

  it('delegates, comments, and runs the claim/heartbeat/release/complete worker loop', async () => {
    const parent = await call('POST', '/tasks', { content: 'Parent' });
    const child = await call('POST', `/tasks/${parent.body.id}/delegate`, { content: 'Research options', priority: 2 });
    expect(child.status).toBe(201);
    expect(child.body).toMatchObject({ content: 'Research options', parent_id: parent.body.id });
    const comment = await call('POST', `/tasks/${parent.body.id}/comments`, { content: 'Looks good, shipping it' });
    expect(comment.status).toBe(201);
    expect(comment.body).toMatchObject({ task_id: parent.body.id, content: 'Looks good, shipping it' });
    expect((await call('GET', `/tasks/${parent.body.id}/comments`)).body[0]).toHaveProperty('created_at');

    await call('POST', '/tasks', { content: 'Queue work', labels: ['worker'] });
    const claimed = await call('POST', '/tasks/claim', { labels: ['worker'], lease_seconds: 300 });
    expect(claimed.status).toBe(200);
    expect(claimed.body.task).toMatchObject({ content: 'Queue work', status: 'claimed' });
    expect(claimed.body.task.claimed_by_agent_id).toBeTruthy();
    expect(claimed.body.task.lease_expires_at).toBeTruthy();
    const id = claimed.body.task.id;
    expect((await call('GET', '/tasks?claimed=True')).body.map((t: { id: string }) => t.id)).toContain(id);
    expect((await call('POST', `/tasks/${id}/heartbeat`, { lease_seconds: 300 })).status).toBe(200);
    expect((await call('POST', `/tasks/${id}/release`)).status).toBe(200);
    const again = await call('POST', '/tasks/claim', { labels: ['worker'], lease_seconds: 300 });
    expect(again.body.task.id).toBe(id);
    expect((await call('POST', `/tasks/${id}/complete`)).body.completed).toBe(true);
    const empty = await call('POST', '/tasks/claim', { labels: ['worker'] });
    expect(empty.body).toEqual({ task: null });
  });

  it('manages agents (PATCH updates, key only at creation and rotation), projects and webhooks; me() and usage()', async () => {
    const agent = await call('POST', '/agents', { name: 'deploy-bot', display_name: 'Deploy Bot' });
    expect(agent.body.api_key).toMatch(/^dlg_/);
    const listed = await call('GET', '/agents');
    expect(listed.body.every((a: object) => !('api_key' in a))).toBe(true);
    const patched = await call('PATCH', `/agents/${agent.body.id}`, { description: 'Handles deployments' });
    expect(patched.body.description).toBe('Handles deployments');
    const rotated = await call('POST', `/agents/${agent.body.id}/rotate-key`);
    expect(rotated.body.api_key).toMatch(/^dlg_/);
    expect((await call('DELETE', `/agents/${agent.body.id}`)).body).toEqual({ deleted: true, id: agent.body.id });

    const project = await call('POST', '/projects', { name: 'Backend', emoji: '⚙️', color: '#3498db' });
    expect(project.body).toMatchObject({ name: 'Backend', emoji: '⚙️', color: '#3498db' });
    expect((await call('GET', '/projects')).body.length).toBeGreaterThan(0);

    const hook = await call('POST', '/webhooks', {
      url: 'https://example.com/webhook',
      events: ['task.created', 'task.completed'],
      secret: 'whsec_compat_secret_value',
    });
    expect(hook.status).toBe(201);
    expect((await call('GET', '/webhooks')).body[0]).not.toHaveProperty('secret');

    const me = await call('GET', '/agent/me');
    expect(me.status).toBe(200);
    expect(JSON.stringify(me.body)).toContain('"mode"');
    const usage = await call('GET', '/usage');
    expect(usage.body).toHaveProperty('plan');
  });
});

describe('MCP server', () => {
  it('reads {task} from claims, {context, version} from context, 409 with version and context, chain with root_id', async () => {
    const root = await call('POST', '/tasks', { content: 'Root' });
    const mid = await call('POST', `/tasks/${root.body.id}/delegate`, { content: 'Mid' });
    await call('POST', `/tasks/${mid.body.id}/delegate`, { content: 'Leaf' });
    const chain = await call('GET', `/tasks/${mid.body.id}/chain`);
    expect(chain.body.root_id).toBe(root.body.id);
    expect(chain.body.chain.map((t: { content: string; delegation_depth: number }) => [t.content, t.delegation_depth])).toEqual([
      ['Root', 0],
      ['Mid', 1],
      ['Leaf', 2],
    ]);

    const first = await call('PATCH', `/tasks/${root.body.id}/context`, { repo: 'delega' });
    expect(first.body).toEqual({ context: { repo: 'delega' }, version: 1 });
    const read = await call('GET', `/tasks/${root.body.id}/context`);
    expect(read.body).toEqual({ context: { repo: 'delega' }, version: 1 });
    const stale = await call('PATCH', `/tasks/${root.body.id}/context?expected_version=0`, { branch: 'main' });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ error: expect.any(String), version: 1, context: { repo: 'delega' } });
  });
});

describe('CLI', () => {
  it('reads /stats and /usage, and error bodies carry a string error', async () => {
    const stats = await call('GET', '/stats');
    expect(stats.body).toMatchObject({
      total: expect.any(Number),
      completed_today: expect.any(Number),
      due_today: expect.any(Number),
      overdue: expect.any(Number),
    });
    expect(stats.body).toHaveProperty('by_project');
    const usage = await call('GET', '/usage');
    expect(usage.status).toBe(200);
    const unauthorised = await call('GET', '/tasks', undefined, { key: `dlg_${'Z'.repeat(40)}` });
    expect(unauthorised.status).toBe(401);
    expect(typeof unauthorised.body.error).toBe('string');
  });
});
