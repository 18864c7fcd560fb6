import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { tasks } from '../../src/db/schema';
import { api, db, makeAccount, makeAgent } from '../helpers/fixtures';

describe('delegation', () => {
  it('creates a child, marks the parent delegated and propagates the accountable agent', async () => {
    const a = await makeAccount();
    const worker = await makeAgent(a, 'worker');
    const root = (await api('POST', '/v1/tasks', a.adminKey, { content: 'Research pricing', project_id: a.projectId })).body;
    const child = await api('POST', `/v1/tasks/${root.id}/delegate`, a.adminKey, {
      content: 'Competitor A',
      assigned_to_agent_id: worker.id,
      priority: 'high',
      labels: ['research'],
    });
    expect(child.status).toBe(201);
    expect(child.body).toMatchObject({
      content: 'Competitor A',
      parent_task_id: root.id,
      parent_id: root.id,
      root_task_id: root.id,
      delegation_depth: 1,
      assigned_to_agent_id: worker.id,
      accountable_agent_id: a.adminId,
      created_by_agent_id: a.adminId,
      project_id: a.projectId,
      priority: 3,
      labels: ['research'],
      status: 'open',
    });
    expect((await api('GET', `/v1/tasks/${root.id}`, a.adminKey)).body.status).toBe('delegated');
    // The worker delegates further; the accountable agent stays the root's.
    const grandchild = await api('POST', `/v1/tasks/${child.body.id}/delegate`, worker.key, { content: 'Pricing page' });
    expect(grandchild.status).toBe(201);
    expect(grandchild.body).toMatchObject({
      delegation_depth: 2,
      root_task_id: root.id,
      accountable_agent_id: a.adminId,
      created_by_agent_id: worker.id,
    });

    const chain = await api('GET', `/v1/tasks/${grandchild.body.id}/chain`, a.adminKey);
    expect(chain.status).toBe(200);
    expect(chain.body).toMatchObject({ root_id: root.id, depth: 2, completed_count: 0, total_count: 3 });
    expect(chain.body.chain.map((t: any) => [t.id, t.delegation_depth])).toEqual([
      [root.id, 0],
      [child.body.id, 1],
      [grandchild.body.id, 2],
    ]);
    const children = await api('GET', `/v1/tasks/${root.id}/children`, a.adminKey);
    expect(children.body.map((t: any) => t.id)).toEqual([child.body.id]);
    expect((await api('GET', `/v1/tasks/${grandchild.body.id}/children`, a.adminKey)).body).toEqual([]);
  });

  it('moves the parent back to open when its children are done, and back to delegated when one reopens', async () => {
    const a = await makeAccount();
    const root = (await api('POST', '/v1/tasks', a.adminKey, { content: 'Parent' })).body.id;
    const c1 = (await api('POST', `/v1/tasks/${root}/delegate`, a.adminKey, { content: 'c1' })).body.id;
    const c2 = (await api('POST', `/v1/tasks/${root}/delegate`, a.adminKey, { content: 'c2' })).body.id;
    await api('POST', `/v1/tasks/${c1}/complete`, a.adminKey);
    expect((await api('GET', `/v1/tasks/${root}`, a.adminKey)).body.status).toBe('delegated');
    await api('POST', `/v1/tasks/${c2}/complete`, a.adminKey);
    expect((await api('GET', `/v1/tasks/${root}`, a.adminKey)).body.status).toBe('open');
    expect((await api('GET', `/v1/tasks/${c1}/chain`, a.adminKey)).body).toMatchObject({ completed_count: 2, total_count: 3 });
    await api('POST', `/v1/tasks/${c2}/uncomplete`, a.adminKey);
    expect((await api('GET', `/v1/tasks/${root}`, a.adminKey)).body.status).toBe('delegated');
    // A reopened parent with an open child waits on it.
    await db().update(tasks).set({ completed: true, status: 'completed' }).where(eq(tasks.id, root));
    expect((await api('POST', `/v1/tasks/${root}/uncomplete`, a.adminKey)).body.status).toBe('delegated');
    // A parent with children is not deleted out from under them.
    const del = await api('DELETE', `/v1/tasks/${root}`, a.adminKey);
    expect(del.status).toBe(409);
    expect(del.body.code).toBe('TASK_HAS_CHILDREN');
  });

  it('caps the depth and refuses to delegate from a completed task', async () => {
    const a = await makeAccount();
    const max = Number(env.LIMIT_DELEGATION_DEPTH ?? 10);
    let id = (await api('POST', '/v1/tasks', a.adminKey, { content: 'level 0' })).body.id;
    for (let depth = 1; depth <= max; depth++) {
      const r = await api('POST', `/v1/tasks/${id}/delegate`, a.adminKey, { content: `level ${depth}` });
      expect(r.status).toBe(201);
      id = r.body.id;
    }
    const deep = await api('POST', `/v1/tasks/${id}/delegate`, a.adminKey, { content: 'too deep' });
    expect(deep.status).toBe(422);
    expect(deep.body.code).toBe('DELEGATION_TOO_DEEP');
    expect((await api('GET', `/v1/tasks/${id}/chain`, a.adminKey)).body).toMatchObject({ depth: max, total_count: max + 1 });
    await api('POST', `/v1/tasks/${id}/complete`, a.adminKey);
    const done = await api('POST', `/v1/tasks/${id}/delegate`, a.adminKey, { content: 'x' });
    expect(done.status).toBe(409);
    expect(done.body.code).toBe('TASK_COMPLETED');
  });

  it('refuses bad delegate input', async () => {
    const a = await makeAccount();
    const other = await makeAccount();
    const root = (await api('POST', '/v1/tasks', a.adminKey, { content: 'p' })).body.id;
    for (const body of [
      {},
      { content: '' },
      { content: 'x', priority: 0 },
      { content: 'x', priority: 5 },
      { content: 'x', labels: Array(21).fill('l') },
      { content: 'x', due_date: 'soon' },
      { content: 'x', parent_task_id: root },
      { content: 'x'.repeat(501) },
    ]) {
      expect((await api('POST', `/v1/tasks/${root}/delegate`, a.adminKey, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect(
      (await api('POST', `/v1/tasks/${root}/delegate`, a.adminKey, { content: 'x', assigned_to_agent_id: other.adminId })).status,
    ).toBe(404);
    expect((await api('POST', `/v1/tasks/tsk_missing/delegate`, a.adminKey, { content: 'x' })).status).toBe(404);
  });

  it('shows a worker only the chain members it can see', async () => {
    const a = await makeAccount();
    const w = await makeAgent(a, 'worker');
    const root = (await api('POST', '/v1/tasks', a.adminKey, { content: 'root' })).body.id;
    const mine = (await api('POST', `/v1/tasks/${root}/delegate`, a.adminKey, { content: 'for w', assigned_to_agent_id: w.id })).body.id;
    await api('POST', `/v1/tasks/${root}/delegate`, a.adminKey, { content: 'not for w' });
    const chain = await api('GET', `/v1/tasks/${mine}/chain`, w.key);
    expect(chain.status).toBe(200);
    expect(chain.body.root_id).toBe(root);
    expect(chain.body.chain.map((t: any) => t.id)).toEqual([mine]);
    expect((await api('GET', `/v1/tasks/${root}/chain`, w.key)).status).toBe(404);
  });
});
