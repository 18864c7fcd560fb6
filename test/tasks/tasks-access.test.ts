import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { tasks } from '../../src/db/schema';
import { isAllowed, type Operation } from '../../src/access/policy';
import { api, db, makeAccount, makeAgent } from '../helpers/fixtures';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

type Step = { op: Operation; method: string; path: (id: string) => string; body?: unknown; status: number };

/** Every task route, run by each kind of key on a task it created itself. */
const STEPS: Step[] = [
  { op: 'tasks.list', method: 'GET', path: () => '/v1/tasks', status: 200 },
  { op: 'tasks.read', method: 'GET', path: (id) => `/v1/tasks/${id}`, status: 200 },
  { op: 'tasks.update', method: 'PUT', path: (id) => `/v1/tasks/${id}`, body: { content: 'changed' }, status: 200 },
  { op: 'tasks.chain', method: 'GET', path: (id) => `/v1/tasks/${id}/chain`, status: 200 },
  { op: 'tasks.children', method: 'GET', path: (id) => `/v1/tasks/${id}/children`, status: 200 },
  { op: 'tasks.context.write', method: 'PATCH', path: (id) => `/v1/tasks/${id}/context`, body: { k: 1 }, status: 200 },
  { op: 'tasks.context.read', method: 'GET', path: (id) => `/v1/tasks/${id}/context`, status: 200 },
  { op: 'tasks.subtasks.write', method: 'POST', path: (id) => `/v1/tasks/${id}/subtasks`, body: { content: 's' }, status: 201 },
  { op: 'tasks.subtasks.read', method: 'GET', path: (id) => `/v1/tasks/${id}/subtasks`, status: 200 },
  { op: 'tasks.comments.write', method: 'POST', path: (id) => `/v1/tasks/${id}/comments`, body: { content: 'c' }, status: 201 },
  { op: 'tasks.comments.read', method: 'GET', path: (id) => `/v1/tasks/${id}/comments`, status: 200 },
  {
    op: 'tasks.links.write',
    method: 'POST',
    path: (id) => `/v1/tasks/${id}/links`,
    body: { kind: 'url', ref: 'x', url: 'https://example.com' },
    status: 201,
  },
  { op: 'tasks.links.read', method: 'GET', path: (id) => `/v1/tasks/${id}/links`, status: 200 },
  { op: 'tasks.dedup', method: 'POST', path: () => '/v1/tasks/dedup', body: { content: 'mine' }, status: 200 },
  { op: 'account.stats', method: 'GET', path: () => '/v1/stats', status: 200 },
  { op: 'account.usage', method: 'GET', path: () => '/v1/usage', status: 200 },
  { op: 'tasks.delegate', method: 'POST', path: (id) => `/v1/tasks/${id}/delegate`, body: { content: 'child' }, status: 201 },
  { op: 'tasks.complete', method: 'POST', path: (id) => `/v1/tasks/${id}/complete`, status: 200 },
  { op: 'tasks.uncomplete', method: 'POST', path: (id) => `/v1/tasks/${id}/uncomplete`, status: 200 },
  { op: 'tasks.delete', method: 'DELETE', path: (id) => `/v1/tasks/${id}`, status: 409 },
];

describe('access table: every task route for every kind of key', () => {
  it.each(['restricted', 'worker', 'coordinator', 'admin'] as const)('%s', async (kind) => {
    const account = await makeAccount({ status: kind === 'restricted' ? 'restricted' : 'active' });
    const key = kind === 'restricted' || kind === 'admin' ? account.adminKey : (await makeAgent(account, kind)).key;
    const me = (await api('GET', '/v1/capabilities', key)).body;
    const principal = { mode: me.mode, role: me.role };
    const created = await api('POST', '/v1/tasks', key, { content: 'mine' });
    expect(created.status).toBe(201);
    const id = created.body.id;
    for (const step of STEPS) {
      const res = await api(step.method, step.path(id), key, step.body);
      const label = `${kind} ${step.op}: ${JSON.stringify(res.body).slice(0, 200)}`;
      if (isAllowed(principal, step.op)) {
        // Delete of a task with a delegated child is refused for a reason other than access.
        const expected = step.op === 'tasks.delete' && !isAllowed(principal, 'tasks.delegate') ? 200 : step.status;
        expect(res.status, label).toBe(expected);
      } else {
        expect(res.status, label).toBe(403);
        expect(typeof res.body.error).toBe('string');
      }
    }
  });
});

describe('visibility and ownership', () => {
  it('workers see what they created, are assigned, claimed or completed; others are 404', async () => {
    const a = await makeAccount();
    const w1 = await makeAgent(a, 'worker');
    const w2 = await makeAgent(a, 'worker');
    const mk = async (key: string, body: Record<string, unknown>) => (await api('POST', '/v1/tasks', key, body)).body.id as string;
    const own = await mk(w1.key, { content: 'own' });
    const assigned = await mk(a.adminKey, { content: 'assigned', assigned_to_agent_id: w1.id });
    const claimed = await mk(a.adminKey, { content: 'claimed' });
    const completed = await mk(a.adminKey, { content: 'completed' });
    const hidden = await mk(w2.key, { content: 'hidden' });
    await db()
      .update(tasks)
      .set({ claimedByAgentId: w1.id, claimedAt: iso(Date.now()), leaseExpiresAt: iso(Date.now() + 60_000), status: 'claimed' })
      .where(eq(tasks.id, claimed));
    await db().update(tasks).set({ completed: true, completedByAgentId: w1.id, status: 'completed' }).where(eq(tasks.id, completed));
    const list = await api('GET', '/v1/tasks', w1.key);
    expect(list.body.map((t: { id: string }) => t.id).sort()).toEqual([own, assigned, claimed, completed].sort());
    expect(list.headers.get('X-Total-Count')).toBe('4');
    for (const path of ['', '/comments', '/context', '/subtasks', '/links', '/chain', '/children']) {
      const r = await api('GET', `/v1/tasks/${hidden}${path}`, w1.key);
      expect(r.status, path).toBe(404);
      expect(r.body.code).toBe('TASK_NOT_FOUND');
    }
    expect((await api('PUT', `/v1/tasks/${hidden}`, w1.key, { content: 'x' })).status).toBe(404);
    // The assignee owns the task it was assigned and may change it.
    expect((await api('PUT', `/v1/tasks/${assigned}`, w1.key, { content: 'mine now' })).status).toBe(200);
    const stats = await api('GET', '/v1/stats', w1.key);
    expect(stats.body.total).toBe(4);
  });

  it('coordinators read and comment on every task, but writes need ownership: 403 with how to claim', async () => {
    const a = await makeAccount();
    const coord = await makeAgent(a, 'coordinator');
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 'admin task' })).body.id;
    expect((await api('GET', `/v1/tasks/${t}`, coord.key)).status).toBe(200);
    expect((await api('POST', `/v1/tasks/${t}/comments`, coord.key, { content: 'looks good' })).status).toBe(201);
    for (const [method, path, body] of [
      ['PUT', '', { content: 'x' }],
      ['POST', '/complete', undefined],
      ['DELETE', '', undefined],
      ['PATCH', '/context', { a: 1 }],
      ['POST', '/subtasks', { content: 's' }],
      ['POST', '/links', { kind: 'pr', ref: '#1' }],
      ['POST', '/delegate', { content: 'c' }],
    ] as const) {
      const r = await api(method, `/v1/tasks/${t}${path}`, coord.key, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.code).toBe('TASK_NOT_OWNED');
      expect(r.body.error).toContain(`POST /v1/tasks/${t}/claim`);
    }
    // A live claim lets the coordinator work the task, not rewrite it.
    await db()
      .update(tasks)
      .set({ claimedByAgentId: coord.id, claimedAt: iso(Date.now()), leaseExpiresAt: iso(Date.now() + 60_000), status: 'claimed' })
      .where(eq(tasks.id, t));
    expect((await api('PATCH', `/v1/tasks/${t}/context`, coord.key, { step: 1 })).status).toBe(200);
    expect((await api('PUT', `/v1/tasks/${t}`, coord.key, { content: 'claimed edit' })).status).toBe(403);
    // An expired one gives nothing.
    await db()
      .update(tasks)
      .set({ leaseExpiresAt: iso(Date.now() - 1000) })
      .where(eq(tasks.id, t));
    expect((await api('PATCH', `/v1/tasks/${t}/context`, coord.key, { step: 2 })).status).toBe(403);
  });

  it('restricted keys are pinned to their sandbox project and cannot assign to others', async () => {
    const r = await makeAccount({ status: 'restricted' });
    const other = await makeAccount();
    const t = await api('POST', '/v1/tasks', r.adminKey, { content: 'sandboxed' });
    expect(t.status).toBe(201);
    expect(t.body.project_id).toBe(r.projectId);
    expect((await api('POST', '/v1/tasks', r.adminKey, { content: 'x', project_id: r.projectId })).status).toBe(201);
    expect((await api('POST', '/v1/tasks', r.adminKey, { content: 'x', project_id: other.projectId })).status).toBe(404);
    expect((await api('POST', '/v1/tasks', r.adminKey, { content: 'x', assigned_to_agent_id: r.adminId })).status).toBe(201);
    const assign = await api('POST', '/v1/tasks', r.adminKey, { content: 'x', assigned_to_agent_id: other.adminId });
    expect(assign.status).toBe(403);
    expect(assign.body.code).toBe('ASSIGNMENT_NOT_ALLOWED');
    expect((await api('PUT', `/v1/tasks/${t.body.id}`, r.adminKey, { project_id: null })).status).toBe(404);
    expect((await api('PUT', `/v1/tasks/${t.body.id}`, r.adminKey, { assigned_to_agent_id: other.adminId })).status).toBe(403);
    const list = await api('GET', '/v1/tasks', r.adminKey);
    expect(list.body).toHaveLength(3);
    // Another account's task id answers 404, never 403.
    const foreign = (await api('POST', '/v1/tasks', other.adminKey, { content: 'foreign' })).body.id;
    expect((await api('GET', `/v1/tasks/${foreign}`, r.adminKey)).status).toBe(404);
    expect((await api('POST', `/v1/tasks/${foreign}/comments`, r.adminKey, { content: 'hi' })).status).toBe(404);
  });

  it('only the author or an admin deletes a comment', async () => {
    const a = await makeAccount();
    const coord = await makeAgent(a, 'coordinator');
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 't' })).body.id;
    const mine = (await api('POST', `/v1/tasks/${t}/comments`, coord.key, { content: 'by coord' })).body.id;
    const admins = (await api('POST', `/v1/tasks/${t}/comments`, a.adminKey, { content: 'by admin', author: 'Ada (human)' })).body;
    expect(admins.author).toBe('Ada (human)');
    const refused = await api('DELETE', `/v1/tasks/${t}/comments/${admins.id}`, coord.key);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('COMMENT_NOT_OWNED');
    expect((await api('DELETE', `/v1/tasks/${t}/comments/${mine}`, coord.key)).body).toEqual({ deleted: true, id: mine });
    expect((await api('DELETE', `/v1/tasks/${t}/comments/${admins.id}`, a.adminKey)).status).toBe(200);
    expect((await api('DELETE', `/v1/tasks/${t}/comments/${admins.id}`, a.adminKey)).status).toBe(404);
  });
});
