import { createExecutionContext, env, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { database } from '../../src/db/client';
import { claimNextQueries, claimNextStatements, CLAIMED_RESULT, type ClaimNextRequest } from '../../src/work-queue/claims';
import { CLAIMERS_WAITING_GRACE_MS, claimQueueOf, type ClaimQueue } from '../../src/work-queue/claim-queue';
import { wakeHeldClaimers } from '../../src/events/after-commit';
import worker from '../../src/index';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';
import { expireLease, insertTask, insertTasks, leaseAlarm, runsOf, taskRow } from '../helpers/task-rows';
import { installReceivers, makeReceiver } from '../helpers/webhook-receiver';

const claim = (key: string, body?: unknown) => api('POST', '/v1/tasks/claim', key, body);
const claimId = (key: string, id: string, body?: unknown) => api('POST', `/v1/tasks/${id}/claim`, key, body);
const post = (key: string, path: string, body?: unknown) => api('POST', path, key, body);

/** The id the next claim answers, or null. */
async function nextId(key: string, body?: unknown): Promise<string | null> {
  const res = await claim(key, body);
  expect(res.status).toBe(200);
  return res.body.task?.id ?? null;
}

async function notify(accountId: string) {
  const ctx = createExecutionContext();
  wakeHeldClaimers({ env, ctx }, accountId);
  await waitOnExecutionContext(ctx);
}

describe('POST /v1/tasks/claim', () => {
  it('hands out the highest priority first, then the oldest, then nothing', async () => {
    const account = await makeAccount();
    const [low, urgentNew, urgentOld, medium] = await insertTasks(account, [
      { content: 'low', priority: 1, ageSeconds: 500 },
      { content: 'urgent new', priority: 4, ageSeconds: 10 },
      { content: 'urgent old', priority: 4, ageSeconds: 100 },
      { content: 'medium', priority: 2, ageSeconds: 50 },
    ]);
    const order = [];
    for (let i = 0; i < 5; i++) order.push(await nextId(account.adminKey));
    expect(order).toEqual([urgentOld, urgentNew, medium, low, null]);
  });

  it('sets the claim fields, never touches the assignee, and records a run', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const id = await insertTask(account, { assignedToAgentId: worker.id });
    const before = Date.now();
    const res = await claim(worker.key, { lease_seconds: 120 });
    expect(res.status).toBe(200);
    const task = res.body.task;
    expect(task).toMatchObject({
      id,
      status: 'claimed',
      claimed_by_agent_id: worker.id,
      assigned_to_agent_id: worker.id,
      session_state: 'working',
      completed: false,
    });
    const lease = Date.parse(task.lease_expires_at) - Date.parse(task.claimed_at);
    expect(lease).toBe(120_000);
    expect(Date.parse(task.claimed_at)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    const runs = await runsOf(id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ agentId: worker.id, endedAt: null, outcome: null });
  });

  it('an empty body (as the SDK sends) uses the defaults: a 300 s lease', async () => {
    const account = await makeAccount();
    await insertTask(account);
    const res = await api('POST', '/v1/tasks/claim', account.adminKey, '', { 'Content-Type': 'application/json' });
    expect(res.status).toBe(200);
    expect(Date.parse(res.body.task.lease_expires_at) - Date.parse(res.body.task.claimed_at)).toBe(300_000);
  });

  it('is served under /api too', async () => {
    const account = await makeAccount();
    const id = await insertTask(account);
    const res = await api('POST', '/api/tasks/claim', account.adminKey, {});
    expect(res.body.task.id).toBe(id);
  });

  it('skips tasks assigned to other agents, completed, delegated or held by a live lease', async () => {
    const account = await makeAccount();
    const [a, b] = [await makeAgent(account, 'worker'), await makeAgent(account, 'worker')];
    const [forB] = await insertTasks(account, [
      { assignedToAgentId: b.id, priority: 4 },
      { completed: true, status: 'completed', priority: 4 },
      { status: 'delegated', priority: 4 },
    ]);
    const held = await insertTask(account, { priority: 3 });
    expect((await claimId(b.key, held)).status).toBe(200);
    expect(await nextId(a.key)).toBeNull();
    expect(await nextId(b.key)).toBe(forB);
  });

  it('filters by all the given labels and by project', async () => {
    const account = await makeAccount();
    const project = (await api('POST', '/v1/projects', account.adminKey, { name: 'Backend' })).body.id as string;
    const [both, onlyBug, other] = await insertTasks(account, [
      { labels: ['bug', 'backend'], ageSeconds: 30 },
      { labels: ['bug'], ageSeconds: 40 },
      { labels: ['bug', 'backend'], projectId: project, ageSeconds: 10 },
    ]);
    expect(await nextId(account.adminKey, { labels: ['backend', 'bug'], project_id: account.projectId })).toBe(both);
    expect(await nextId(account.adminKey, { labels: 'bug,backend' })).toBe(other);
    expect(await nextId(account.adminKey, { labels: ['backend'] })).toBeNull();
    expect(await nextId(account.adminKey, { labels: ['bug'] })).toBe(onlyBug);
  });

  it('takes a task whose lease ran out, closing the old run as expired', async () => {
    const account = await makeAccount();
    const [a, b] = [await makeAgent(account, 'worker'), await makeAgent(account, 'worker')];
    const id = await insertTask(account);
    expect(await nextId(a.key)).toBe(id);
    await expireLease(id);
    expect(await nextId(b.key)).toBe(id);
    const runs = await runsOf(id);
    expect(runs.map((r) => [r.agentId, r.outcome])).toEqual([
      [a.id, 'expired'],
      [b.id, null],
    ]);
    expect(runs[0]!.endedAt).not.toBeNull();
  });

  it('ends every lapsed claim of the account as expired, at its lease end, even when it takes another task', async () => {
    const account = await makeAccount();
    const [a, b] = [await makeAgent(account, 'worker'), await makeAgent(account, 'worker')];
    const lapsed = await insertTask(account, { priority: 1, labels: ['slow'] });
    const fresh = await insertTask(account, { priority: 4, labels: ['fast'] });
    expect(await nextId(a.key, { labels: ['slow'] })).toBe(lapsed);
    await expireLease(lapsed, 30);
    const leaseEnd = (await taskRow(lapsed))!.leaseExpiresAt;
    expect(await nextId(b.key, { labels: ['fast'] })).toBe(fresh);
    const [ended] = await runsOf(lapsed);
    expect(ended).toMatchObject({ agentId: a.id, outcome: 'expired', endedAt: leaseEnd });
    // The task itself is unclaimed to every reader and goes to the next claimer.
    expect(await nextId(b.key, { labels: ['slow'] })).toBe(lapsed);
    expect((await runsOf(lapsed)).map((r) => [r.agentId, r.outcome])).toEqual([
      [a.id, 'expired'],
      [b.id, null],
    ]);
  });

  it('two claims of one agent in one D1 batch take two tasks, each with its own run', async () => {
    const account = await makeAccount();
    const ids = await insertTasks(account, [{ priority: 2 }, { priority: 1 }]);
    const d = database(env.DB);
    const req: ClaimNextRequest = {
      claimer: { accountId: account.accountId, agentId: account.adminId, sandboxProjectId: null },
      labels: [],
      projectId: null,
      leaseSeconds: 60,
      waitSeconds: 0,
    };
    const now = Date.now();
    const both = [...claimNextQueries(d, req, { now }), ...claimNextQueries(d, req, { now })];
    const results = await env.DB.batch(both.map((q) => env.DB.prepare(q.sql).bind(...q.params)));
    const taken = [results[CLAIMED_RESULT]!.results[0], results[3 + CLAIMED_RESULT]!.results[0]].map((r) => (r as { id: string }).id);
    expect(taken).toEqual(ids);
    for (const id of ids) expect((await runsOf(id)).map((r) => [r.agentId, r.outcome])).toEqual([[account.adminId, null]]);
  });

  it('refuses bad input with 400 and field details', async () => {
    const account = await makeAccount();
    for (const body of [
      { lease_seconds: 29 },
      { lease_seconds: 3601 },
      { wait_seconds: 31 },
      { wait_seconds: -1 },
      { surprise: true },
      { labels: [''] },
    ]) {
      const res = await claim(account.adminKey, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.details.length).toBeGreaterThan(0);
    }
    expect((await claim(`dlg_${'x'.repeat(40)}`)).status).toBe(401);
  });

  it('restricted keys claim only tasks they created in their sandbox', async () => {
    const sandbox = await makeAccount({ status: 'restricted' });
    const [foreign, outside] = await insertTasks(sandbox, [
      { createdByAgentId: 'agt_someoneelse', priority: 4 },
      { projectId: 'prj_elsewhere', priority: 4 },
    ]);
    const own = await insertTask(sandbox, { priority: 1 });
    expect(await nextId(sandbox.adminKey)).toBe(own);
    expect(await nextId(sandbox.adminKey)).toBeNull();
    expect((await claimId(sandbox.adminKey, foreign!)).status).toBe(404);
    expect((await claimId(sandbox.adminKey, outside!)).status).toBe(404);
  });
});

describe('the queue in the OpenAPI document', () => {
  it('lists every queue route with its operation and answers', async () => {
    const doc = (await api('GET', '/v1/openapi.json')).body;
    const routes: [string, string, string][] = [
      ['/v1/tasks/claim', 'post', 'queue.claim_next'],
      ['/v1/tasks/{id}/claim', 'post', 'queue.claim'],
      ['/v1/tasks/{id}/heartbeat', 'post', 'queue.heartbeat'],
      ['/v1/tasks/{id}/state', 'post', 'queue.state'],
      ['/v1/tasks/{id}/release', 'post', 'queue.release'],
      ['/v1/agents/{id}/runs', 'get', 'agents.runs'],
      ['/v1/fleet/attention', 'get', 'fleet.attention'],
    ];
    for (const [path, method, operation] of routes) {
      const op = doc.paths[path]?.[method];
      expect(op, path).toBeDefined();
      expect(op['x-delega-operation']).toBe(operation);
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '401', '403']));
    }
    for (const path of ['/v1/tasks/{id}/claim', '/v1/tasks/{id}/heartbeat', '/v1/tasks/{id}/release']) {
      expect(Object.keys(doc.paths[path].post.responses)).toContain('409');
    }
  });
});

describe('the claim query', () => {
  it('walks the queue index, never the whole table', async () => {
    const d = database(env.DB);
    const claimer = { accountId: 'acc_x', agentId: 'agt_x', sandboxProjectId: null };
    const statements = claimNextStatements(d, { claimer, labels: ['a'], projectId: null, leaseSeconds: 300, waitSeconds: 0 }, Date.now());
    const plans: string[] = [];
    for (const statement of statements) {
      const { sql, params } = statement.toSQL();
      const plan = await env.DB.prepare(`explain query plan ${sql}`)
        .bind(...params)
        .all<{ detail: string }>();
      plans.push(plan.results.map((r) => r.detail).join('\n'));
    }
    const update = plans[CLAIMED_RESULT]!;
    expect(update).toMatch(/tasks_queue_idx/);
    // The open arm reads the index in the claim's own order: no sort of the account's open tasks.
    expect(update).not.toMatch(/TEMP B-TREE FOR LAST 2 TERMS OF ORDER BY/);
    // Only the claiming UPDATE searches for the best task; the runs around it find their tasks by index.
    expect(plans.filter((p) => p.includes('tasks_queue_idx'))).toHaveLength(1);
    for (const plan of plans) expect(plan).not.toMatch(/SCAN (tasks|runs)(?! USING)/);
    expect(plans[0]).toMatch(/tasks_account_lease_idx/);
    expect(plans[2]).toMatch(/SEARCH tasks USING INDEX tasks_account_(lease|claimed_by)_idx/);
  });

  it('renders each shape once: the cached queries equal a fresh rendering, values and all', () => {
    const d = database(env.DB);
    const now = Date.parse('2026-04-01T08:00:00Z');
    const shapes: ClaimNextRequest[] = [
      {
        claimer: { accountId: 'acc_a', agentId: 'agt_a', sandboxProjectId: null },
        labels: [],
        projectId: null,
        leaseSeconds: 300,
        waitSeconds: 0,
      },
      {
        claimer: { accountId: 'acc_b', agentId: 'agt_b', sandboxProjectId: 'prj_s' },
        labels: ['x', 'y'],
        projectId: 'prj_p',
        leaseSeconds: 45,
        waitSeconds: 5,
      },
    ];
    for (const req of shapes) {
      for (const at of [now, now + 61_000]) {
        // Twice per shape: the second comes from the cache, with this claim's values.
        for (let i = 0; i < 2; i++) {
          const cached = claimNextQueries(d, req, { now: at }).map((q) => ({
            ...q,
            params: q.params.map((p) => (typeof p === 'string' && p.startsWith('run_') ? 'run' : p)),
          }));
          const fresh = claimNextStatements(d, req, at)
            .map((s) => s.toSQL())
            .map((q) => ({ sql: q.sql, params: q.params.map((p) => (typeof p === 'string' && p.startsWith('run_') ? 'run' : p)) }));
          expect(cached).toEqual(fresh);
          expect(JSON.stringify(cached)).not.toContain('\\u0000');
        }
      }
    }
  });

  it('reads a handful of rows per claim however many tasks are open', async () => {
    const account = await makeAccount();
    await insertTasks(
      account,
      Array.from({ length: 2000 }, (_, i) => ({ labels: i % 2 ? ['odd'] : ['even'], priority: 1 + (i % 4), ageSeconds: i })),
    );
    const d = database(env.DB);
    const claimer = { accountId: account.accountId, agentId: account.adminId, sandboxProjectId: null };
    for (const labels of [[], ['odd'], ['even']]) {
      const results = (await d.batch(
        claimNextStatements(d, { claimer, labels, projectId: null, leaseSeconds: 300, waitSeconds: 0 }, Date.now()) as never,
      )) as { meta?: { rows_read?: number } }[] | unknown[][];
      const claimed = results[CLAIMED_RESULT] as unknown[];
      expect(claimed, String(labels)).toHaveLength(1);
    }
    // rows_read through the raw D1 API (drizzle's batch hides meta).
    const statements = claimNextStatements(
      d,
      { claimer, labels: ['odd'], projectId: null, leaseSeconds: 300, waitSeconds: 0 },
      Date.now(),
    ).map((s) => s.toSQL());
    const ran = await env.DB.batch(statements.map(({ sql, params }) => env.DB.prepare(sql).bind(...params)));
    expect(ran[CLAIMED_RESULT]!.results).toHaveLength(1);
    // The walk, the task row and what the triggers read to keep counters and copies.
    expect(ran[CLAIMED_RESULT]!.meta.rows_read).toBeLessThan(40);
    // Ending lapsed runs and opening this claim's run read a few index entries each.
    expect(ran[0]!.meta.rows_read).toBeLessThan(5);
    expect(ran[2]!.meta.rows_read).toBeLessThan(10);
  });
});

describe('POST /v1/tasks/claim with wait_seconds', () => {
  it('wakes as soon as a matching task is created', async () => {
    const account = await makeAccount();
    const started = Date.now();
    const waiting = claim(account.adminKey, { wait_seconds: 20, labels: ['ops'] });
    // Let the claim reach the queue and park before the task exists.
    await new Promise((r) => setTimeout(r, 200));
    await insertTask(account, { labels: ['other'] });
    await notify(account.accountId);
    const id = await insertTask(account, { labels: ['ops'] });
    await notify(account.accountId);
    const res = await waiting;
    expect(res.body.task?.id).toBe(id);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('wakes when a task is created through POST /v1/tasks', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const waiting = claim(worker.key, { wait_seconds: 20, labels: ['deploy'] });
    await new Promise((r) => setTimeout(r, 200));
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'Ship it', labels: ['deploy'], priority: 'high' });
    expect(created.status).toBe(201);
    const res = await waiting;
    expect(res.body.task).toMatchObject({
      id: created.body.id,
      status: 'claimed',
      claimed_by_agent_id: worker.id,
      assigned_to_agent_id: null,
    });
  });

  it('answers {task: null} at the deadline', async () => {
    const account = await makeAccount();
    const started = Date.now();
    const res = await claim(account.adminKey, { wait_seconds: 1 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ task: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('wakes when a task is released', async () => {
    const account = await makeAccount();
    const [a, b] = [await makeAgent(account, 'worker'), await makeAgent(account, 'worker')];
    const id = await insertTask(account);
    expect(await nextId(a.key)).toBe(id);
    const waiting = claim(b.key, { wait_seconds: 20 });
    await new Promise((r) => setTimeout(r, 200));
    expect((await post(a.key, `/v1/tasks/${id}/release`)).status).toBe(200);
    const res = await waiting;
    expect(res.body.task).toMatchObject({ id, claimed_by_agent_id: b.id });
  });
});

describe('completions go through the account queue', () => {
  it('share D1 batches with claims: parallel claim-and-complete loops complete every task exactly once', async () => {
    const account = await makeAccount();
    const workers = await Promise.all(Array.from({ length: 4 }, () => makeAgent(account, 'worker')));
    const ids = await insertTasks(
      account,
      Array.from({ length: 60 }, (_, i) => ({ labels: ['loop'], priority: (i % 4) + 1 })),
    );
    const done: string[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async (_, w) => {
        const key = workers[w % workers.length]!.key;
        for (;;) {
          const id = await nextId(key, { labels: ['loop'] });
          if (!id) return;
          const res = await post(key, `/v1/tasks/${id}/complete`);
          expect(res.status).toBe(200);
          expect(res.body).toMatchObject({ id, completed: true, status: 'completed', claimed_by_agent_id: null });
          done.push(id);
        }
      }),
    );
    expect(done.sort()).toEqual([...ids].sort());
    for (const id of ids.slice(0, 10)) {
      const runs = await runsOf(id);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ outcome: 'completed' });
    }
  });

  it('a failing job in a shared batch fails alone: the claims batched with it still land', async () => {
    const account = await makeAccount();
    await insertTasks(
      account,
      Array.from({ length: 3 }, () => ({ labels: ['iso'] })),
    );
    const queue = claimQueueOf(env, account.accountId);
    const req = (agentId: string): ClaimNextRequest => ({
      claimer: { accountId: account.accountId, agentId, sandboxProjectId: null },
      labels: ['iso'],
      projectId: null,
      leaseSeconds: 60,
      waitSeconds: 0,
    });
    // The first claim goes out alone; the rest queue up behind it and share the next batch.
    const [first, bad, second, third] = await Promise.allSettled([
      queue.claimNext(req(account.adminId)),
      queue.commit(account.accountId, [{ sql: 'insert into no_such_table values (1)', params: [] }]),
      queue.claimNext(req(account.adminId)),
      queue.claimNext(req(account.adminId)),
    ]);
    expect(bad.status).toBe('rejected');
    const claimed = [first, second, third].map((r) => (r.status === 'fulfilled' ? r.value?.id : 'failed'));
    expect(new Set(claimed).size).toBe(3);
    expect(claimed).not.toContain('failed');
    expect(claimed).not.toContain(undefined);
  });

  it('completing the last open child wakes a held claimer, who gets the parent back', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const parent = await api('POST', '/v1/tasks', account.adminKey, { content: 'Parent', labels: ['umbrella'] });
    const child = await api('POST', `/v1/tasks/${parent.body.id}/delegate`, account.adminKey, {
      content: 'Child',
      assigned_to_agent_id: account.adminId,
    });
    expect(child.status).toBe(201);
    const waiting = claim(worker.key, { wait_seconds: 20, labels: ['umbrella'] });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    expect((await post(account.adminKey, `/v1/tasks/${child.body.id}/complete`)).status).toBe(200);
    const res = await waiting;
    expect(res.body.task).toMatchObject({ id: parent.body.id, status: 'claimed', claimed_by_agent_id: worker.id });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('deleting the last open child wakes a held claimer too', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const parent = await api('POST', '/v1/tasks', account.adminKey, { content: 'Parent', labels: ['umbrella'] });
    const child = await api('POST', `/v1/tasks/${parent.body.id}/delegate`, account.adminKey, {
      content: 'Child',
      assigned_to_agent_id: account.adminId,
    });
    const waiting = claim(worker.key, { wait_seconds: 20, labels: ['umbrella'] });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    expect((await api('DELETE', `/v1/tasks/${child.body.id}`, account.adminKey)).status).toBe(200);
    const res = await waiting;
    expect(res.body.task).toMatchObject({ id: parent.body.id, claimed_by_agent_id: worker.id });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('accounts.claimers_waiting: creates wake the queue only when someone waits', () => {
  const flag = async (accountId: string) =>
    (await env.DB.prepare('SELECT claimers_waiting AS w FROM accounts WHERE id = ?').bind(accountId).first<{ w: number }>())!.w;

  it('is set while a claimer is held and cleared after the grace period', async () => {
    const account = await makeAccount();
    expect(await flag(account.accountId)).toBe(0);
    const waiting = claim(account.adminKey, { wait_seconds: 20, labels: ['later'] });
    await vi.waitUntil(async () => (await flag(account.accountId)) === 1, { timeout: 5000, interval: 20 });
    // A create reads the flag in its own statement and wakes the queue.
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'for the held claimer', labels: ['later'] });
    expect((await waiting).body.task?.id).toBe(created.body.id);
    // The queue clears the flag once nobody has waited for the grace period.
    const stub = claimQueueOf(env, account.accountId);
    await runInDurableObject(stub, async (queue: ClaimQueue) => {
      type Held = { clearTimer?: ReturnType<typeof setTimeout>; waiters: Set<unknown> };
      const q = queue as unknown as { accounts: Map<string, Held>; publishWaiting(a: Held, v: boolean): Promise<void> };
      const held = q.accounts.get(account.accountId)!;
      expect(held.waiters.size).toBe(0);
      expect(held.clearTimer).toBeDefined();
      // Run the grace period's end now rather than sleeping through it.
      clearTimeout(held.clearTimer);
      held.clearTimer = undefined;
      await q.publishWaiting(held, false);
    });
    expect(await flag(account.accountId)).toBe(0);
    expect(CLAIMERS_WAITING_GRACE_MS).toBeGreaterThan(0);
  });

  it('never loses a task created while a claimer is being parked (20 races)', async () => {
    for (let i = 0; i < 20; i++) {
      const account = await makeAccount();
      const started = Date.now();
      // Sent together: the create races the claimer's first try and the flag write.
      const [res, created] = await Promise.all([
        claim(account.adminKey, { wait_seconds: 10, labels: ['race'] }),
        api('POST', '/v1/tasks', account.adminKey, { content: `race ${i}`, labels: ['race'] }),
      ]);
      expect(created.status).toBe(201);
      expect(res.body.task?.id, `race ${i}`).toBe(created.body.id);
      expect(Date.now() - started, `race ${i}`).toBeLessThan(5000);
    }
  });

  it('a task created just before the flag was visible (so nobody woke the queue) is still found', async () => {
    const account = await makeAccount();
    const stub = claimQueueOf(env, account.accountId);
    const claimer = { accountId: account.accountId, agentId: account.adminId, sandboxProjectId: null };
    const got = await runInDurableObject(stub, async (queue: ClaimQueue) => {
      const q = queue as unknown as { publishWaiting(a: unknown, v: boolean): Promise<void> };
      const publish = q.publishWaiting.bind(queue);
      let inserted = '';
      // The create lands in the window: after the claimer's first try, before the flag is written.
      q.publishWaiting = async (a: unknown, v: boolean) => {
        if (v && !inserted) inserted = await insertTask(account, { labels: ['window'] });
        return publish(a, v);
      };
      const row = await queue.claimNext({ claimer, labels: ['window'], projectId: null, leaseSeconds: 60, waitSeconds: 2 });
      return { row: row?.id ?? null, inserted };
    });
    expect(got.row).toBe(got.inserted);
  });

  it('an object that lost its memory with the flag set clears it on the next wake', async () => {
    const account = await makeAccount();
    await env.DB.prepare('UPDATE accounts SET claimers_waiting = 1 WHERE id = ?').bind(account.accountId).run();
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'wakes an empty queue' });
    expect(created.status).toBe(201);
    await vi.waitUntil(async () => (await flag(account.accountId)) === 0, { timeout: 5000, interval: 20 });
  });
});

describe('a held claim whose client went away (abandon)', () => {
  const claimerOf = (account: { accountId: string; adminId: string }) => ({
    accountId: account.accountId,
    agentId: account.adminId,
    sandboxProjectId: null,
  });
  const hold = (account: { accountId: string; adminId: string }, holdId: string, labels: string[], waitSeconds = 10) =>
    claimQueueOf(env, account.accountId).claimNext({
      claimer: claimerOf(account),
      holdId,
      labels,
      projectId: null,
      leaseSeconds: 60,
      waitSeconds,
    });

  it('stops waiting at once, and a task created afterwards stays claimable', async () => {
    const account = await makeAccount();
    const started = Date.now();
    const waiting = hold(account, 'h-wait', ['gone']);
    await new Promise((r) => setTimeout(r, 100));
    await claimQueueOf(env, account.accountId).abandon(account.accountId, 'h-wait');
    expect(await waiting).toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'after the client left', labels: ['gone'] });
    expect((await taskRow(created.body.id))?.claimedByAgentId).toBeNull();
  });

  it('gives back a task already handed to it, with the run ended as released', async () => {
    const account = await makeAccount();
    const id = await insertTask(account, { labels: ['handed'] });
    const row = await hold(account, 'h-handed', ['handed']);
    expect(row?.id).toBe(id);
    await claimQueueOf(env, account.accountId).abandon(account.accountId, 'h-handed');
    const after = await taskRow(id);
    expect(after).toMatchObject({ status: 'open', claimedByAgentId: null, leaseExpiresAt: null });
    expect((await runsOf(id)).map((r) => r.outcome)).toEqual(['released']);
    // Someone else gets it at once.
    expect((await claim(account.adminKey, { labels: ['handed'] })).body.task?.id).toBe(id);
  });

  it('an abandon that arrives before its claim makes that claim answer nothing', async () => {
    const account = await makeAccount();
    const id = await insertTask(account, { labels: ['early'] });
    await claimQueueOf(env, account.accountId).abandon(account.accountId, 'h-early');
    expect(await hold(account, 'h-early', ['early'])).toBeNull();
    expect((await taskRow(id))?.claimedByAgentId).toBeNull();
  });

  it('the route abandons its hold when the request is aborted (request.signal)', async () => {
    const account = await makeAccount();
    const controller = new AbortController();
    const ctx = createExecutionContext();
    const request = new Request('https://api.test/v1/tasks/claim', {
      method: 'POST',
      headers: { 'X-Agent-Key': account.adminKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({ wait_seconds: 20, labels: ['signal'] }),
      signal: controller.signal,
    });
    const started = Date.now();
    const answered = worker.fetch!(request as Parameters<NonNullable<typeof worker.fetch>>[0], env, ctx);
    await new Promise((r) => setTimeout(r, 150));
    controller.abort();
    const res = await answered;
    await waitOnExecutionContext(ctx);
    expect(await res.json()).toEqual({ task: null });
    expect(Date.now() - started).toBeLessThan(5000);
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'for whoever asks next', labels: ['signal'] });
    expect((await claim(account.adminKey, { labels: ['signal'] })).body.task?.id).toBe(created.body.id);
  });

  it('never touches a claim that was completed or taken over meanwhile', async () => {
    const account = await makeAccount();
    const id = await insertTask(account, { labels: ['done'] });
    expect((await hold(account, 'h-done', ['done']))?.id).toBe(id);
    expect((await post(account.adminKey, `/v1/tasks/${id}/complete`)).status).toBe(200);
    await claimQueueOf(env, account.accountId).abandon(account.accountId, 'h-done');
    expect(await taskRow(id)).toMatchObject({ completed: true, status: 'completed' });
    expect((await runsOf(id)).map((r) => r.outcome)).toEqual(['completed']);
  });
});

describe('lease expiry without any caller', () => {
  it('keeps an alarm at the earliest lease and on it returns the task to the queue', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const [first, second] = await insertTasks(account, [{ ageSeconds: 20 }, { ageSeconds: 10 }]);
    const long = (await claim(worker.key, { lease_seconds: 600 })).body.task;
    const short = (await claim(worker.key, { lease_seconds: 60 })).body.task;
    expect([long.id, short.id]).toEqual([first, second]);
    const stub = claimQueueOf(env, account.accountId);
    // The queue serves other accounts too: its alarm is at their earliest lease or ours.
    const before = await leaseAlarm(account.accountId);
    expect(before.lease).toBe(Date.parse(short.lease_expires_at));
    expect(before.alarm).toBeLessThanOrEqual(Date.parse(short.lease_expires_at));

    // Time passes: the short lease runs out.
    await expireLease(second!);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const row = await taskRow(second!);
    expect(row).toMatchObject({ status: 'open', claimedByAgentId: null, claimedAt: null, leaseExpiresAt: null, sessionState: null });
    expect((await runsOf(second!))[0]).toMatchObject({ outcome: 'expired' });
    expect((await taskRow(first!))!.claimedByAgentId).toBe(worker.id);
    // The next alarm waits for the long lease.
    const next = await leaseAlarm(account.accountId);
    expect(next.lease).toBe(Date.parse(long.lease_expires_at));
    expect(next.alarm).toBeLessThanOrEqual(Date.parse(long.lease_expires_at));
  });

  it('one alarm sweeps every lease that ran out, recording each run as expired', async () => {
    const account = await makeAccount();
    const ids = await insertTasks(account, [{}, {}, {}]);
    for (const id of ids) expect((await claimId(account.adminKey, id)).status).toBe(200);
    await expireLease(ids[0]!);
    await expireLease(ids[1]!);
    expect(await runDurableObjectAlarm(claimQueueOf(env, account.accountId))).toBe(true);
    expect((await runsOf(ids[0]!)).map((r) => r.outcome)).toEqual(['expired']);
    expect((await runsOf(ids[1]!)).map((r) => r.outcome)).toEqual(['expired']);
    expect((await runsOf(ids[2]!)).map((r) => r.outcome)).toEqual([null]);
    expect((await taskRow(ids[1]!))!.status).toBe('open');
    expect((await taskRow(ids[2]!))!.status).toBe('claimed');
  });

  it('wakes a held claimer when a lease expires', async () => {
    const account = await makeAccount();
    const [a, b] = [await makeAgent(account, 'worker'), await makeAgent(account, 'worker')];
    const id = await insertTask(account);
    expect(await nextId(a.key)).toBe(id);
    const waiting = claim(b.key, { wait_seconds: 20 });
    await new Promise((r) => setTimeout(r, 200));
    await expireLease(id);
    expect(await runDurableObjectAlarm(claimQueueOf(env, account.accountId))).toBe(true);
    expect((await waiting).body.task).toMatchObject({ id, claimed_by_agent_id: b.id });
    expect((await runsOf(id)).map((r) => r.outcome)).toEqual(['expired', null]);
  });

  it('a task with a lapsed lease reads as unclaimed even before the alarm ran', async () => {
    const account = await makeAccount();
    const id = await insertTask(account);
    await nextId(account.adminKey);
    await expireLease(id);
    const res = await post(account.adminKey, `/v1/tasks/${id}/heartbeat`);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('NO_LIVE_CLAIM');
  });
});

describe('POST /v1/tasks/{id}/claim', () => {
  it('answers 409 for completed, assigned elsewhere, delegated and live-leased tasks', async () => {
    const account = await makeAccount();
    const [a, b] = [await makeAgent(account, 'coordinator'), await makeAgent(account, 'worker')];
    const [done, assigned, delegated, held] = await insertTasks(account, [
      { completed: true, status: 'completed' },
      { assignedToAgentId: b.id },
      { status: 'delegated' },
      {},
    ]);
    expect((await claimId(b.key, held!)).status).toBe(200);
    const expectations: [string, string][] = [
      [done!, 'TASK_COMPLETED'],
      [assigned!, 'TASK_ASSIGNED_ELSEWHERE'],
      [delegated!, 'TASK_DELEGATED'],
      [held!, 'TASK_ALREADY_CLAIMED'],
    ];
    for (const [id, code] of expectations) {
      const res = await claimId(a.key, id);
      expect(res.status, code).toBe(409);
      expect(res.body.code).toBe(code);
      expect(typeof res.body.error).toBe('string');
    }
  });

  it('is 404 for tasks of another account and for tasks a worker may not know of', async () => {
    const account = await makeAccount();
    const other = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const coordinator = await makeAgent(account, 'coordinator');
    const foreign = await insertTask(other);
    const assignedToCoordinator = await insertTask(account, { assignedToAgentId: coordinator.id });
    expect((await claimId(account.adminKey, foreign)).status).toBe(404);
    expect((await claimId(worker.key, assignedToCoordinator)).status).toBe(404);
    expect((await claimId(worker.key, 'tsk_nope')).body.code).toBe('TASK_NOT_FOUND');
  });

  it('takes over an expired lease, and re-claiming your own live claim extends it', async () => {
    const account = await makeAccount();
    const [a, b] = [await makeAgent(account, 'worker'), await makeAgent(account, 'worker')];
    const id = await insertTask(account);
    const first = (await claimId(a.key, id, { lease_seconds: 60 })).body.task;
    const again = await claimId(a.key, id, { lease_seconds: 600 });
    expect(again.status).toBe(200);
    expect(again.body.task.claimed_at).toBe(first.claimed_at);
    expect(Date.parse(again.body.task.lease_expires_at)).toBeGreaterThan(Date.parse(first.lease_expires_at));
    expect(await runsOf(id)).toHaveLength(1);

    expect((await claimId(b.key, id)).status).toBe(409);
    await expireLease(id);
    const takeover = await claimId(b.key, id);
    expect(takeover.status).toBe(200);
    expect(takeover.body.task).toMatchObject({ status: 'claimed', claimed_by_agent_id: b.id });
    expect((await runsOf(id)).map((r) => [r.agentId, r.outcome])).toEqual([
      [a.id, 'expired'],
      [b.id, null],
    ]);
  });
});

describe('heartbeat, state and release', () => {
  it('heartbeat extends the lease from now and reports the state', async () => {
    const account = await makeAccount();
    const id = await insertTask(account);
    const claimed = (await claimId(account.adminKey, id, { lease_seconds: 30 })).body.task;
    const res = await post(account.adminKey, `/v1/tasks/${id}/heartbeat`, {
      lease_seconds: 900,
      state: 'waiting_input',
      detail: 'needs a token',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id,
      status: 'claimed',
      session_state: 'waiting_input',
      session_state_detail: 'needs a token',
      claimed_at: claimed.claimed_at,
    });
    expect(Date.parse(res.body.lease_expires_at)).toBeGreaterThanOrEqual(Date.parse(claimed.claimed_at) + 900_000);
  });

  it('heartbeat that shortens the lease pulls the expiry alarm earlier', async () => {
    const account = await makeAccount();
    const id = await insertTask(account);
    await claimId(account.adminKey, id, { lease_seconds: 3600 });
    const res = await post(account.adminKey, `/v1/tasks/${id}/heartbeat`, { lease_seconds: 30 });
    const expected = Date.parse(res.body.lease_expires_at);
    // The alarm is moved off the request path; wait for the object to have it.
    const known = await vi.waitUntil(
      async () => {
        const at = await leaseAlarm(account.accountId);
        return at.lease === expected ? at : null;
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(known.alarm).toBeLessThanOrEqual(expected);
  });

  it('heartbeat, state and release need a live claim of the caller: 409, or 404 when invisible', async () => {
    const account = await makeAccount();
    const [a, b] = [await makeAgent(account, 'worker'), await makeAgent(account, 'coordinator')];
    const id = await insertTask(account);
    await claimId(a.key, id);
    for (const path of ['heartbeat', 'release']) {
      const res = await post(b.key, `/v1/tasks/${id}/${path}`);
      expect(res.status, path).toBe(409);
      expect(res.body.code).toBe('NO_LIVE_CLAIM');
    }
    expect((await post(b.key, `/v1/tasks/${id}/state`, { state: 'errored' })).status).toBe(409);
    const hidden = await insertTask(account, { assignedToAgentId: b.id });
    expect((await post(a.key, `/v1/tasks/${hidden}/heartbeat`)).status).toBe(404);

    await expireLease(id);
    const late = await post(a.key, `/v1/tasks/${id}/heartbeat`);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('NO_LIVE_CLAIM');
  });

  it('state sets the session state without extending the lease', async () => {
    const account = await makeAccount();
    const id = await insertTask(account);
    const claimed = (await claimId(account.adminKey, id, { lease_seconds: 60 })).body.task;
    const res = await post(account.adminKey, `/v1/tasks/${id}/state`, { state: 'errored', detail: 'disk full' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      session_state: 'errored',
      session_state_detail: 'disk full',
      lease_expires_at: claimed.lease_expires_at,
    });
    expect((await post(account.adminKey, `/v1/tasks/${id}/state`, { state: 'asleep' })).status).toBe(400);
    expect((await post(account.adminKey, `/v1/tasks/${id}/state`, {})).status).toBe(400);
  });

  it('release returns the task to the queue at once, with the handoff note', async () => {
    const account = await makeAccount();
    const [a, b] = [await makeAgent(account, 'worker'), await makeAgent(account, 'worker')];
    const id = await insertTask(account);
    await claimId(a.key, id);
    const res = await post(a.key, `/v1/tasks/${id}/release`, { handoff: 'tests pass; docs left' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id,
      status: 'open',
      claimed_by_agent_id: null,
      claimed_at: null,
      lease_expires_at: null,
      handoff: 'tests pass; docs left',
    });
    const next = (await claim(b.key)).body.task;
    expect(next).toMatchObject({ id, claimed_by_agent_id: b.id, handoff: 'tests pass; docs left' });
    expect((await runsOf(id)).map((r) => [r.agentId, r.outcome])).toEqual([
      [a.id, 'released'],
      [b.id, null],
    ]);
    // The releasing worker neither holds nor (as a worker) sees the task any more.
    expect((await post(a.key, `/v1/tasks/${id}/release`)).status).toBe(404);
    expect((await post(b.key, `/v1/tasks/${id}/release`)).status).toBe(200);
    const unheld = await post(account.adminKey, `/v1/tasks/${id}/release`);
    expect(unheld.status).toBe(409);
    expect(unheld.body.code).toBe('NO_LIVE_CLAIM');
  });

  it('release keeps who handed off in which state; without a note the state detail is the note', async () => {
    const account = await makeAccount();
    const [a, b] = [await makeAgent(account, 'worker'), await makeAgent(account, 'worker')];
    const id = await insertTask(account);
    await claimId(a.key, id);
    await post(a.key, `/v1/tasks/${id}/state`, { state: 'waiting_input', detail: 'need prod DB creds' });
    const released = (await post(a.key, `/v1/tasks/${id}/release`)).body;
    expect(released).toMatchObject({
      handoff_note: 'need prod DB creds',
      handoff_by_agent_id: a.id,
      handoff_state: 'waiting_input',
      session_state: null,
    });
    const next = (await claim(b.key)).body.task;
    expect(next).toMatchObject({ id, handoff_note: 'need prod DB creds', handoff_by_agent_id: a.id, handoff_state: 'waiting_input' });
    const again = (await post(b.key, `/v1/tasks/${id}/release`, { handoff: 'creds requested' })).body;
    expect(again).toMatchObject({ handoff_note: 'creds requested', handoff_by_agent_id: b.id, handoff_state: 'working' });
  });

  it('an admin may release another agent’s claim', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const id = await insertTask(account);
    await claimId(worker.key, id);
    const res = await post(account.adminKey, `/v1/tasks/${id}/release`);
    expect(res.status).toBe(200);
    expect(res.body.claimed_by_agent_id).toBeNull();
  });
});

describe('webhook events', () => {
  it('claim, state, release and lease expiry each emit their event', async () => {
    const spy = installReceivers();
    try {
      const account = await makeAccount();
      const receiver = makeReceiver();
      const hook = await api('POST', '/v1/webhooks', account.adminKey, {
        url: receiver.url,
        events: ['task.claimed', 'task.released', 'task.state_changed'],
      });
      expect(hook.status).toBe(201);
      const worker = await makeAgent(account, 'worker');
      const [first, second] = await insertTasks(account, [{ ageSeconds: 10 }, {}]);
      await claim(worker.key);
      await post(worker.key, `/v1/tasks/${first}/state`, { state: 'waiting_input' });
      await post(worker.key, `/v1/tasks/${first}/release`);
      await claimId(worker.key, second!);
      await expireLease(second!);
      await runDurableObjectAlarm(claimQueueOf(env, account.accountId));

      await vi.waitUntil(() => receiver.received.length >= 5, { timeout: 10_000, interval: 50 });
      const events = receiver.received.map((r) => JSON.parse(r.body)).map((b) => [b.event, b.task.id, b.agent?.id ?? null]);
      expect(events).toEqual(
        expect.arrayContaining([
          ['task.claimed', first, worker.id],
          ['task.state_changed', first, worker.id],
          ['task.released', first, worker.id],
          ['task.claimed', second, worker.id],
          ['task.released', second, null],
        ]),
      );
    } finally {
      spy.mockRestore();
    }
  });
});
