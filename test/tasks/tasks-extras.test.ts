import { describe, expect, it } from 'vitest';
import { rankSimilar } from '../../src/tasks/dedup';
import { api, makeAccount } from '../helpers/fixtures';

describe('subtasks', () => {
  it('adds in order, updates, toggles, deletes, and refuses bad input', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 't' })).body.id;
    const s1 = (await api('POST', `/v1/tasks/${t}/subtasks`, a.adminKey, { content: 'first' })).body;
    const s2 = (await api('POST', `/v1/tasks/${t}/subtasks`, a.adminKey, { content: 'second' })).body;
    const s0 = await api('POST', `/v1/tasks/${t}/subtasks`, a.adminKey, { content: 'zeroth', sort_order: -1 });
    expect(s0.status).toBe(201);
    expect([s1.sort_order, s2.sort_order]).toEqual([0, 1]);
    expect(s1).toMatchObject({ task_id: t, content: 'first', completed: false });
    expect((await api('GET', `/v1/tasks/${t}/subtasks`, a.adminKey)).body.map((s: any) => s.content)).toEqual([
      'zeroth',
      'first',
      'second',
    ]);
    const upd = await api('PUT', `/v1/tasks/${t}/subtasks/${s1.id}`, a.adminKey, { content: 'first!', sort_order: 5 });
    expect(upd.body).toMatchObject({ content: 'first!', sort_order: 5 });
    expect((await api('PATCH', `/v1/tasks/${t}/subtasks/${s1.id}`, a.adminKey, { completed: true })).body.completed).toBe(true);
    expect((await api('POST', `/v1/tasks/${t}/subtasks/${s2.id}/toggle`, a.adminKey)).body.completed).toBe(true);
    expect((await api('POST', `/v1/tasks/${t}/subtasks/${s2.id}/toggle`, a.adminKey)).body.completed).toBe(false);
    expect((await api('DELETE', `/v1/tasks/${t}/subtasks/${s2.id}`, a.adminKey)).body).toEqual({ deleted: true, id: s2.id });
    expect((await api('POST', `/v1/tasks/${t}/subtasks/${s2.id}/toggle`, a.adminKey)).status).toBe(404);
    for (const body of [
      {},
      { content: '' },
      { content: 'x'.repeat(501) },
      { content: 'x', completed: 'yes' },
      { content: 'x', sort_order: 1.5 },
      { content: 'x', extra: 1 },
    ]) {
      expect((await api('POST', `/v1/tasks/${t}/subtasks`, a.adminKey, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await api('PUT', `/v1/tasks/${t}/subtasks/${s1.id}`, a.adminKey, { completed: 1 })).status).toBe(400);
    // A subtask id under another task is not found.
    const other = (await api('POST', '/v1/tasks', a.adminKey, { content: 'other' })).body.id;
    expect((await api('PUT', `/v1/tasks/${other}/subtasks/${s1.id}`, a.adminKey, { content: 'x' })).status).toBe(404);
  });
});

describe('comments', () => {
  it('lists oldest first with the author defaulting to the agent name, and refuses bad input', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 't' })).body.id;
    const c1 = await api('POST', `/v1/tasks/${t}/comments`, a.adminKey, { content: 'one' });
    expect(c1.status).toBe(201);
    expect(c1.body).toMatchObject({ task_id: t, content: 'one', author: 'admin-agent', agent_id: a.adminId });
    await api('POST', `/v1/tasks/${t}/comments`, a.adminKey, { content: 'two', author: 'Ada' });
    const list = await api('GET', `/v1/tasks/${t}/comments`, a.adminKey);
    expect(list.body.map((c: any) => [c.content, c.author])).toEqual([
      ['one', 'admin-agent'],
      ['two', 'Ada'],
    ]);
    for (const body of [
      {},
      { content: '' },
      { content: 5 },
      { content: 'x'.repeat(10_001) },
      { content: 'x', author: 'y'.repeat(101) },
      { content: 'x', mood: 'happy' },
    ]) {
      expect((await api('POST', `/v1/tasks/${t}/comments`, a.adminKey, body)).status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe('links', () => {
  it('adds and lists links, and refuses bad input', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 't' })).body.id;
    const l = await api('POST', `/v1/tasks/${t}/links`, a.adminKey, {
      kind: 'pr',
      repo: 'acme/api',
      ref: '42',
      url: 'https://github.com/acme/api/pull/42',
    });
    expect(l.status).toBe(201);
    expect(l.body).toMatchObject({
      task_id: t,
      kind: 'pr',
      repo: 'acme/api',
      ref: '42',
      url: 'https://github.com/acme/api/pull/42',
      created_by_agent_id: a.adminId,
    });
    await api('POST', `/v1/tasks/${t}/links`, a.adminKey, { kind: 'branch', ref: 'feature/x' });
    expect((await api('GET', `/v1/tasks/${t}/links`, a.adminKey)).body.map((x: any) => x.kind)).toEqual(['pr', 'branch']);
    for (const body of [
      {},
      { kind: 'issue', ref: 'x' },
      { kind: 'pr' },
      { kind: 'url', ref: 'x', url: 'ftp://x' },
      { kind: 'url', ref: 'x', url: 'not a url' },
      { kind: 'pr', ref: 'x'.repeat(501) },
      { kind: 'pr', ref: '1', sha: 'abc' },
    ]) {
      expect((await api('POST', `/v1/tasks/${t}/links`, a.adminKey, body)).status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe('dedup', () => {
  const corpus = [
    { id: 'tsk_1', content: 'Research competitor pricing' },
    { id: 'tsk_2', content: 'Research competitor pricing pages for the EU' },
    { id: 'tsk_3', content: 'Fix login bug on mobile' },
    { id: 'tsk_4', content: 'Write the quarterly report' },
  ];

  it('ranks a fixed corpus by TF-IDF cosine similarity', () => {
    const exact = rankSimilar('research competitor pricing', corpus, 0.1);
    expect(exact.map((m) => m.id)).toEqual(['tsk_1', 'tsk_2']);
    expect(exact[0]!.similarity).toBe(1);
    expect(exact[1]!.similarity).toBeGreaterThan(0.5);
    expect(exact[1]!.similarity).toBeLessThan(1);
    expect(rankSimilar('login bug', corpus, 0.6).map((m) => m.id)).toEqual(['tsk_3']);
    expect(rankSimilar('something unrelated entirely', corpus, 0.1)).toEqual([]);
    expect(rankSimilar('', corpus, 0)).toEqual([]);
  });

  it('matches the caller’s open tasks over HTTP with the default threshold 0.6', async () => {
    const a = await makeAccount();
    const ids: string[] = [];
    for (const c of corpus) ids.push((await api('POST', '/v1/tasks', a.adminKey, { content: c.content })).body.id);
    const res = await api('POST', '/v1/tasks/dedup', a.adminKey, { content: 'Research competitor pricing' });
    expect(res.status).toBe(200);
    expect(res.body.has_duplicates).toBe(true);
    expect(res.body.matches[0]).toEqual({ task_id: ids[0], content: 'Research competitor pricing', score: 1 });
    expect(res.body.matches.every((m: any) => m.score >= 0.6)).toBe(true);
    await api('POST', `/v1/tasks/${ids[0]}/complete`, a.adminKey);
    const after = await api('POST', '/v1/tasks/dedup', a.adminKey, { content: 'Research competitor pricing', threshold: 0.99 });
    expect(after.body).toEqual({ has_duplicates: false, matches: [] });
    for (const body of [
      {},
      { content: '' },
      { content: 'x', threshold: 2 },
      { content: 'x', threshold: 'high' },
      { content: 'x', other: 1 },
    ]) {
      expect((await api('POST', '/v1/tasks/dedup', a.adminKey, body)).status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe('stats', () => {
  it('counts totals, today’s completions, due today, overdue and per project', async () => {
    const a = await makeAccount();
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const t1 = (await api('POST', '/v1/tasks', a.adminKey, { content: 'a', project_id: a.projectId, due_date: today })).body.id;
    await api('POST', '/v1/tasks', a.adminKey, { content: 'b', project_id: a.projectId, due_date: yesterday });
    await api('POST', '/v1/tasks', a.adminKey, { content: 'c' });
    const t4 = (await api('POST', '/v1/tasks', a.adminKey, { content: 'd', due_date: yesterday })).body.id;
    await api('POST', `/v1/tasks/${t4}/complete`, a.adminKey);
    const res = await api('GET', '/v1/stats', a.adminKey);
    expect(res.status).toBe(200);
    const projectName = (await api('GET', '/v1/projects', a.adminKey)).body.find((x: { id: string }) => x.id === a.projectId).name;
    expect(res.body).toEqual({
      total: 4,
      completed: 1,
      open: 3,
      completed_today: 1,
      due_today: 1,
      overdue: 1,
      // By project name, as the MCP server prints it (name: count).
      by_project: { [projectName]: 2, 'No project': 2 },
      total_tasks: 4,
      completed_tasks: 1,
      pending_tasks: 3,
      total_agents: 1,
      active_agents: 1,
    });
    await api('POST', `/v1/tasks/${t1}/complete`, a.adminKey);
    expect((await api('GET', '/v1/stats', a.adminKey)).body).toMatchObject({ completed_today: 2, due_today: 0 });
  });
});

describe('OpenAPI document', () => {
  it('lists every task route of the contract', async () => {
    const doc = (await api('GET', '/v1/openapi.json')).body;
    const expected: [string, string][] = [
      ['/v1/tasks', 'get'],
      ['/v1/tasks', 'post'],
      ['/v1/tasks/{id}', 'get'],
      ['/v1/tasks/{id}', 'put'],
      ['/v1/tasks/{id}', 'patch'],
      ['/v1/tasks/{id}', 'delete'],
      ['/v1/tasks/{id}/complete', 'post'],
      ['/v1/tasks/{id}/uncomplete', 'post'],
      ['/v1/tasks/{id}/delegate', 'post'],
      ['/v1/tasks/{id}/chain', 'get'],
      ['/v1/tasks/{id}/children', 'get'],
      ['/v1/tasks/{id}/context', 'get'],
      ['/v1/tasks/{id}/context', 'patch'],
      ['/v1/tasks/{id}/context/history', 'get'],
      ['/v1/tasks/{id}/subtasks', 'get'],
      ['/v1/tasks/{id}/subtasks', 'post'],
      ['/v1/tasks/{id}/subtasks/{sid}', 'put'],
      ['/v1/tasks/{id}/subtasks/{sid}', 'delete'],
      ['/v1/tasks/{id}/subtasks/{sid}/toggle', 'post'],
      ['/v1/tasks/{id}/comments', 'get'],
      ['/v1/tasks/{id}/comments', 'post'],
      ['/v1/tasks/{id}/comments/{cid}', 'delete'],
      ['/v1/tasks/{id}/links', 'get'],
      ['/v1/tasks/{id}/links', 'post'],
      ['/v1/tasks/dedup', 'post'],
      ['/v1/stats', 'get'],
      ['/v1/usage', 'get'],
    ];
    for (const [path, method] of expected) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
  });
});
