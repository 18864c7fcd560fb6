import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { comments, subtasks, taskContextHistory, taskLabels, taskLinks, tasks } from '../../src/db/schema';
import { api, db, makeAccount, makeAgent } from '../helpers/fixtures';

describe('task CRUD', () => {
  it('creates a task with defaults and every contract field', async () => {
    const a = await makeAccount();
    const res = await api('POST', '/v1/tasks', a.adminKey, { content: 'Write the report' });
    expect(res.status).toBe(201);
    const t = res.body;
    expect(t).toMatchObject({
      content: 'Write the report',
      description: null,
      priority: 1,
      labels: [],
      due_date: null,
      project_id: null,
      parent_task_id: null,
      parent_id: null,
      assigned_to_agent_id: null,
      created_by_agent_id: a.adminId,
      accountable_agent_id: a.adminId,
      status: 'open',
      completed: false,
      completed_at: null,
      claimed_by_agent_id: null,
      claimed_at: null,
      lease_expires_at: null,
      session_state: null,
      session_state_detail: null,
      handoff: null,
      evidence_policy: null,
      context_version: 0,
    });
    expect(t.id).toMatch(/^tsk_/);
    expect(t.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const got = await api('GET', `/v1/tasks/${t.id}`, a.adminKey);
    expect(got.status).toBe(200);
    // One task read also carries its context and checklist.
    expect(got.body).toEqual({ ...t, context: {}, subtasks: [] });
    // The same routes answer under /api for the clients' localhost namespace.
    expect((await api('GET', `/api/tasks/${t.id}`, a.adminKey)).body).toEqual(got.body);
  });

  it('accepts priority words, normalises due dates and de-duplicates labels', async () => {
    const a = await makeAccount();
    const worker = await makeAgent(a, 'worker');
    const res = await api('POST', '/v1/tasks', a.adminKey, {
      content: '  Ship it  ',
      description: 'Details',
      priority: 'Urgent',
      labels: ['ops', ' ops ', 'deploy'],
      due_date: '2026-03-01T12:30:00+02:00',
      project_id: a.projectId,
      assigned_to_agent_id: worker.id,
      evidence_policy: 'required',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      content: 'Ship it',
      priority: 4,
      labels: ['ops', 'deploy'],
      due_date: '2026-03-01T10:30:00Z',
      project_id: a.projectId,
      assigned_to_agent_id: worker.id,
      evidence_policy: 'required',
    });
    for (const [word, n] of [
      ['low', 1],
      ['medium', 2],
      ['high', 3],
      [2, 2],
      ['3', 3],
    ] as const) {
      const r = await api('POST', '/v1/tasks', a.adminKey, { content: 'p', priority: word, due_date: '2026-02-28' });
      expect(r.status).toBe(201);
      expect(r.body.priority).toBe(n);
      expect(r.body.due_date).toBe('2026-02-28');
    }
  });

  it.each([
    ['missing content', {}],
    ['empty content', { content: '   ' }],
    ['content wrong type', { content: 42 }],
    ['content too long', { content: 'x'.repeat(501) }],
    ['description too long', { content: 'ok', description: 'x'.repeat(10_001) }],
    ['priority 0', { content: 'ok', priority: 0 }],
    ['priority 5', { content: 'ok', priority: 5 }],
    ['priority 2.5', { content: 'ok', priority: 2.5 }],
    ['priority word unknown', { content: 'ok', priority: 'critical' }],
    ['labels not an array', { content: 'ok', labels: 'bug' }],
    ['label too long', { content: 'ok', labels: ['x'.repeat(51)] }],
    ['too many labels', { content: 'ok', labels: Array.from({ length: 21 }, (_, i) => `l${i}`) }],
    ['label wrong type', { content: 'ok', labels: [1] }],
    ['bad date', { content: 'ok', due_date: '2026-02-30' }],
    ['date garbage', { content: 'ok', due_date: 'tomorrow' }],
    ['unknown field', { content: 'ok', colour: 'red' }],
    ['evidence_policy unknown', { content: 'ok', evidence_policy: 'optional' }],
  ])('refuses bad create input: %s', async (_name, body) => {
    const a = await makeAccount();
    const res = await api('POST', '/v1/tasks', a.adminKey, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(typeof res.body.error).toBe('string');
    expect(res.body.details.length).toBeGreaterThan(0);
  });

  it('refuses malformed JSON, non-JSON bodies and oversize bodies without a 500', async () => {
    const a = await makeAccount();
    expect((await api('POST', '/v1/tasks', a.adminKey, '{"content":')).status).toBe(400);
    expect((await api('POST', '/v1/tasks', a.adminKey, 'content=x', { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await api('POST', '/v1/tasks', a.adminKey, { content: 'x', description: 'y'.repeat(70_000) })).status).toBe(413);
    expect((await api('POST', '/v1/tasks', a.adminKey, [])).status).toBe(400);
  });

  it('answers 404 for unknown projects and agents, and for other accounts’ ones', async () => {
    const a = await makeAccount();
    const b = await makeAccount();
    const p = await api('POST', '/v1/tasks', a.adminKey, { content: 'x', project_id: b.projectId });
    expect(p.status).toBe(404);
    expect(p.body.code).toBe('PROJECT_NOT_FOUND');
    const g = await api('POST', '/v1/tasks', a.adminKey, { content: 'x', assigned_to_agent_id: b.adminId });
    expect(g.status).toBe(404);
    expect(g.body.code).toBe('AGENT_NOT_FOUND');
    const t = await api('POST', '/v1/tasks', b.adminKey, { content: 'theirs' });
    for (const [method, path] of [
      ['GET', ''],
      ['PUT', ''],
      ['DELETE', ''],
      ['POST', '/complete'],
      ['POST', '/uncomplete'],
      ['GET', '/comments'],
      ['GET', '/context'],
      ['GET', '/chain'],
    ] as const) {
      const r = await api(method, `/v1/tasks/${t.body.id}${path}`, a.adminKey, method === 'PUT' ? { content: 'y' } : undefined);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.code).toBe('TASK_NOT_FOUND');
    }
    expect((await api('GET', '/v1/tasks/tsk_doesnotexist', a.adminKey)).status).toBe(404);
  });

  it('updates with PUT and PATCH, sending only changed fields, and answers the whole task', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 'Old', labels: ['a'], due_date: '2026-01-01' })).body;
    const put = await api('PUT', `/v1/tasks/${t.id}`, a.adminKey, { content: 'New', priority: 'high' });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ id: t.id, content: 'New', priority: 3, labels: ['a'], due_date: '2026-01-01' });
    const patch = await api('PATCH', `/v1/tasks/${t.id}`, a.adminKey, { labels: ['b', 'c'], due_date: null, description: 'd' });
    expect(patch.status).toBe(200);
    expect(patch.body).toMatchObject({ content: 'New', labels: ['b', 'c'], due_date: null, description: 'd' });
    const rows = await db().select().from(taskLabels).where(eq(taskLabels.taskId, t.id));
    expect(rows.map((r) => r.label).sort()).toEqual(['b', 'c']);
    const empty = await api('PUT', `/v1/tasks/${t.id}`, a.adminKey);
    expect(empty.status).toBe(200);
    expect(empty.body.content).toBe('New');
    for (const body of [
      { priority: 0 },
      { priority: 5 },
      { labels: Array(21).fill('x') },
      { due_date: '01/02/2026' },
      { content: '' },
      { nope: 1 },
      { content: 7 },
    ]) {
      const r = await api('PUT', `/v1/tasks/${t.id}`, a.adminKey, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('completes (empty body), makes the task immutable, allows comments, and uncompletes', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 'Do it' })).body;
    const done = await api('POST', `/v1/tasks/${t.id}/complete`, a.adminKey, '', { 'Content-Type': 'application/json' });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: t.id, content: 'Do it', completed: true, status: 'completed', completed_by_agent_id: a.adminId });
    expect(done.body.completed_at).toMatch(/Z$/);
    const again = await api('POST', `/v1/tasks/${t.id}/complete`, a.adminKey);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('TASK_ALREADY_COMPLETED');
    const upd = await api('PUT', `/v1/tasks/${t.id}`, a.adminKey, { content: 'Changed' });
    expect(upd.status).toBe(409);
    expect(upd.body.code).toBe('TASK_COMPLETED');
    expect((await api('POST', `/v1/tasks/${t.id}/subtasks`, a.adminKey, { content: 's' })).status).toBe(409);
    expect((await api('PATCH', `/v1/tasks/${t.id}/context`, a.adminKey, { k: 1 })).status).toBe(409);
    const comment = await api('POST', `/v1/tasks/${t.id}/comments`, a.adminKey, { content: 'Nice work' });
    expect(comment.status).toBe(201);
    const re = await api('POST', `/v1/tasks/${t.id}/uncomplete`, a.adminKey);
    expect(re.status).toBe(200);
    expect(re.body).toMatchObject({ id: t.id, completed: false, completed_at: null, status: 'open', reopen_count: 1 });
    expect((await api('POST', `/v1/tasks/${t.id}/uncomplete`, a.adminKey)).body.code).toBe('TASK_NOT_COMPLETED');
    expect((await api('PUT', `/v1/tasks/${t.id}`, a.adminKey, { content: 'Changed' })).status).toBe(200);
  });

  it('enforces evidence_policy: required with strong evidence kinds and stores the evidence', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 'Deploy', evidence_policy: 'required' })).body;
    const none = await api('POST', `/v1/tasks/${t.id}/complete`, a.adminKey);
    expect(none.status).toBe(422);
    expect(none.body.code).toBe('EVIDENCE_REQUIRED');
    const weak = await api('POST', `/v1/tasks/${t.id}/complete`, a.adminKey, { evidence: [{ kind: 'command_output', ref: 'ok' }] });
    expect(weak.status).toBe(422);
    for (const bad of [
      { evidence: [{ kind: 'tweet', ref: 'x' }] },
      { evidence: [{ kind: 'pr' }] },
      { evidence: 'pr' },
      { evidence: [{ kind: 'pr', ref: 'x', extra: 1 }] },
      { proof: [] },
    ]) {
      expect((await api('POST', `/v1/tasks/${t.id}/complete`, a.adminKey, bad)).status, JSON.stringify(bad)).toBe(400);
    }
    const ok = await api('POST', `/v1/tasks/${t.id}/complete`, a.adminKey, {
      evidence: [
        { kind: 'command_output', ref: 'tests passed' },
        { kind: 'pr', ref: 'acme/api#12', summary: 'the fix' },
      ],
    });
    expect(ok.status).toBe(200);
    expect(ok.body.completion_evidence).toEqual([
      { kind: 'command_output', ref: 'tests passed' },
      { kind: 'pr', ref: 'acme/api#12', summary: 'the fix' },
    ]);
    expect((await api('GET', `/v1/tasks/${t.id}`, a.adminKey)).body.completion_evidence).toHaveLength(2);
  });

  it('completing ends a live claim and closes its run in the same batch', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 'Claimed' })).body;
    const start = Date.now();
    const lease = new Date(start + 300_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await db()
      .update(tasks)
      .set({ status: 'claimed', claimedByAgentId: a.adminId, claimedAt: t.created_at, leaseExpiresAt: lease })
      .where(eq(tasks.id, t.id));
    await env.DB.prepare(`INSERT INTO runs (id, account_id, agent_id, task_id, claimed_at, claimed_at_ms) VALUES ('run_t1', ?, ?, ?, ?, ?)`)
      .bind(a.accountId, a.adminId, t.id, t.created_at, start - 5000)
      .run();
    const done = await api('POST', `/v1/tasks/${t.id}/complete`, a.adminKey);
    expect(done.body).toMatchObject({ status: 'completed', claimed_by_agent_id: null, lease_expires_at: null, claimed_at: null });
    const run = await env.DB.prepare(`SELECT outcome, ended_at, duration_ms FROM runs WHERE id = 'run_t1'`).first<{
      outcome: string;
      ended_at: string;
      duration_ms: number;
    }>();
    expect(run?.outcome).toBe('completed');
    expect(run?.ended_at).toMatch(/Z$/);
    expect(run!.duration_ms).toBeGreaterThanOrEqual(5000);
  });

  it('deletes a task with its subtasks, comments, context history, links and labels in one go', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 'Doomed', labels: ['x', 'y'] })).body;
    await api('POST', `/v1/tasks/${t.id}/subtasks`, a.adminKey, { content: 's1' });
    await api('POST', `/v1/tasks/${t.id}/comments`, a.adminKey, { content: 'c1' });
    await api('PATCH', `/v1/tasks/${t.id}/context`, a.adminKey, { k: 'v' });
    await api('POST', `/v1/tasks/${t.id}/links`, a.adminKey, { kind: 'pr', ref: 'acme/api#1' });
    const res = await api('DELETE', `/v1/tasks/${t.id}`, a.adminKey);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ deleted: true, id: t.id });
    expect((await api('GET', `/v1/tasks/${t.id}`, a.adminKey)).status).toBe(404);
    for (const table of [subtasks, comments, taskContextHistory, taskLinks, taskLabels]) {
      expect(await db().select().from(table).where(eq(table.taskId, t.id))).toEqual([]);
    }
    expect((await api('DELETE', `/v1/tasks/${t.id}`, a.adminKey)).status).toBe(404);
  });

  it('never lets concurrent creates overrun the quota', async () => {
    const a = await makeAccount();
    const month = new Date().toISOString().slice(0, 7);
    await env.DB.prepare('INSERT INTO usage_counters (account_id, period, tasks_created) VALUES (?, ?, 997)')
      .bind(a.accountId, month)
      .run();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => api('POST', '/v1/tasks', a.adminKey, { content: `race ${i}` })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 402)).toHaveLength(5);
    expect((await api('GET', '/v1/usage', a.adminKey)).body.task_count).toBe(1000);
    expect((await api('GET', '/v1/tasks', a.adminKey)).body).toHaveLength(3);
  });

  it('counts created tasks against the monthly quota and refuses past it with 402 TASK_QUOTA_EXCEEDED', async () => {
    const a = await makeAccount();
    const month = new Date().toISOString().slice(0, 7);
    await env.DB.prepare('INSERT INTO usage_counters (account_id, period, tasks_created) VALUES (?, ?, 998)')
      .bind(a.accountId, month)
      .run();
    expect((await api('POST', '/v1/tasks', a.adminKey, { content: 'one' })).status).toBe(201);
    const parent = await api('POST', '/v1/tasks', a.adminKey, { content: 'two' });
    expect(parent.status).toBe(201);
    const over = await api('POST', '/v1/tasks', a.adminKey, { content: 'three' });
    expect(over.status).toBe(402);
    expect(over.body).toMatchObject({ code: 'TASK_QUOTA_EXCEEDED', task_limit: 1000 });
    expect(over.body.error).toMatch(/resets on \d{4}-\d{2}-01/);
    expect((await api('POST', `/v1/tasks/${parent.body.id}/delegate`, a.adminKey, { content: 'child' })).status).toBe(402);
    const usage = await api('GET', '/v1/usage', a.adminKey);
    expect(usage.status).toBe(200);
    expect(usage.body).toMatchObject({
      plan: 'free',
      task_count: 1000,
      task_limit: 1000,
      tasks_remaining: 0,
      rate_limit: { requests_per_minute: Number(env.LIMIT_RATE_PER_MINUTE ?? 60) },
    });
    expect(usage.body.reset_date).toMatch(/^\d{4}-\d{2}-01$/);
  });
});
