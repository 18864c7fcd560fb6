import { env, runDurableObjectAlarm } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { isoDate, isoSeconds } from '../../src/platform/time';
import { claimQueueOf } from '../../src/work-queue/claim-queue';
import { tasks } from '../../src/db/schema';
import { api, db, makeAccount, makeAgent } from '../helpers/fixtures';
import { expireLease, insertTask, insertTasks } from '../helpers/task-rows';

const post = (key: string, path: string, body?: unknown) => api('POST', path, key, body);

describe('GET /v1/agents/{id}/runs', () => {
  it('lists an agent’s claim sessions newest first, with outcome and duration', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const [released, expired, completed] = await insertTasks(account, [{ ageSeconds: 30 }, { ageSeconds: 20 }, { ageSeconds: 10 }]);
    await post(worker.key, `/v1/tasks/${released}/claim`);
    await post(worker.key, `/v1/tasks/${released}/release`);
    await post(worker.key, `/v1/tasks/${expired}/claim`);
    await expireLease(expired!);
    await runDurableObjectAlarm(claimQueueOf(env, account.accountId));
    await post(worker.key, `/v1/tasks/${completed}/claim`);
    expect((await post(worker.key, `/v1/tasks/${completed}/complete`)).status).toBe(200);
    const live = await insertTask(account);
    await post(worker.key, `/v1/tasks/${live}/claim`);

    const res = await api('GET', `/v1/agents/${worker.id}/runs`, worker.key);
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Total-Count')).toBe('4');
    const byTask = new Map(res.body.map((r: any) => [r.task_id, r]));
    expect(byTask.get(released)).toMatchObject({
      agent_id: worker.id,
      outcome: 'released',
      ended_at: expect.any(String),
      duration_ms: expect.any(Number),
    });
    expect(byTask.get(expired)).toMatchObject({ outcome: 'expired' });
    expect(byTask.get(completed)).toMatchObject({ outcome: 'completed' });
    expect(byTask.get(live)).toMatchObject({ outcome: null, ended_at: null, duration_ms: null });
    expect(Object.keys(res.body[0]).sort()).toEqual(['agent_id', 'claimed_at', 'duration_ms', 'ended_at', 'id', 'outcome', 'task_id']);
    expect(res.body[0].id).toMatch(/^run_/);
    // Newest first.
    const claimedAt = res.body.map((r: any) => r.claimed_at);
    expect([...claimedAt].sort().reverse()).toEqual(claimedAt);
    expect(res.body[0].task_id).toBe(live);
  });

  it('pages with limit and offset, with X-Total-Count and a Link to the next page', async () => {
    const account = await makeAccount();
    const ids = await insertTasks(account, [{}, {}, {}]);
    for (const id of ids) {
      await post(account.adminKey, `/v1/tasks/${id}/claim`);
      await post(account.adminKey, `/v1/tasks/${id}/release`);
    }
    const first = await api('GET', `/v1/agents/${account.adminId}/runs?limit=2`, account.adminKey);
    expect(first.body).toHaveLength(2);
    expect(first.headers.get('X-Total-Count')).toBe('3');
    expect(first.headers.get('Link')).toContain('offset=2');
    const second = await api('GET', `/v1/agents/${account.adminId}/runs?limit=2&offset=2`, account.adminKey);
    expect(second.body).toHaveLength(1);
    expect(second.headers.get('Link')).toBeNull();
    expect(new Set([...first.body, ...second.body].map((r: any) => r.id)).size).toBe(3);
    expect((await api('GET', `/v1/agents/${account.adminId}/runs?limit=0`, account.adminKey)).status).toBe(400);
  });

  it('workers read only their own runs; coordinators read any agent of the account', async () => {
    const account = await makeAccount();
    const other = await makeAccount();
    const [w1, w2, coordinator] = [
      await makeAgent(account, 'worker'),
      await makeAgent(account, 'worker'),
      await makeAgent(account, 'coordinator'),
    ];
    expect((await api('GET', `/v1/agents/${w2.id}/runs`, w1.key)).status).toBe(404);
    expect((await api('GET', `/v1/agents/${w1.id}/runs`, w1.key)).status).toBe(200);
    expect((await api('GET', `/v1/agents/${w1.id}/runs`, coordinator.key)).status).toBe(200);
    expect((await api('GET', `/v1/agents/${other.adminId}/runs`, account.adminKey)).status).toBe(404);
    const restricted = await makeAccount({ status: 'restricted' });
    expect((await api('GET', `/v1/agents/${restricted.adminId}/runs`, restricted.adminKey)).status).toBe(403);
  });
});

describe('GET /v1/fleet/attention', () => {
  it('lists expired claims, silent holders, errored, waiting_input, overdue and reopened tasks', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const coordinator = await makeAgent(account, 'coordinator');
    const now = Date.now();
    const [expired, swept, silent, chatty, errored, waiting, overdue, dueLater, reopened, done] = await insertTasks(account, [
      {},
      {},
      {},
      {},
      {},
      {},
      { dueDate: isoDate(now - 86_400_000) },
      { dueDate: isoDate(now + 86_400_000) },
      { reopenCount: 3 },
      { reopenCount: 5, completed: true, status: 'completed', dueDate: '2000-01-01' },
    ]);
    for (const id of [expired, swept, silent, chatty, errored, waiting])
      expect((await post(worker.key, `/v1/tasks/${id}/claim`, { lease_seconds: 600 })).status).toBe(200);
    // One lapsed lease the alarm already swept, one it has not reached yet.
    await expireLease(swept!);
    expect(await runDurableObjectAlarm(claimQueueOf(env, account.accountId))).toBe(true);
    await expireLease(expired!);
    // The silent holder's last heartbeat was 400 s ago, on a lease of 600 s: past half of it.
    await db()
      .update(tasks)
      .set({ lastHeartbeatAt: isoSeconds(now - 400_000), leaseExpiresAt: isoSeconds(now + 200_000) })
      .where(eq(tasks.id, silent!));
    await post(worker.key, `/v1/tasks/${chatty}/heartbeat`);
    await post(worker.key, `/v1/tasks/${errored}/state`, { state: 'errored', detail: 'boom' });
    await post(worker.key, `/v1/tasks/${waiting}/state`, { state: 'waiting_input' });

    const res = await api('GET', '/v1/fleet/attention', coordinator.key);
    expect(res.status).toBe(200);
    const ids = (list: string) => res.body.buckets[list].map((t: any) => t.id).sort();
    expect(ids('abandoned_claims')).toEqual([expired, swept].sort());
    expect(ids('silent_holders')).toEqual([silent]);
    expect(ids('errored')).toEqual([errored]);
    expect(res.body.count).toBe(7);
    expect(res.body.buckets.errored[0]).toMatchObject({
      session_state: 'errored',
      session_state_detail: 'boom',
      claimed_by_agent_id: worker.id,
    });
    expect(ids('waiting_input')).toEqual([waiting]);
    expect(ids('overdue')).toEqual([overdue]);
    expect(ids('looping')).toEqual([reopened]);
    expect(JSON.stringify(res.body)).not.toContain(dueLater);
    expect(JSON.stringify(res.body)).not.toContain(done);

    // Claimed again, a formerly expired task no longer needs attention.
    await post(worker.key, `/v1/tasks/${swept}/claim`);
    const after = await api('GET', '/v1/fleet/attention', account.adminKey);
    expect(after.body.buckets.abandoned_claims.map((t: any) => t.id)).toEqual([expired]);
  });

  it('is scoped like stats: a worker sees its own tasks, others the account', async () => {
    const account = await makeAccount();
    const other = await makeAccount();
    await insertTask(other, { reopenCount: 9 });
    const worker = await makeAgent(account, 'worker');
    const [mineLooping] = await insertTasks(account, [{ reopenCount: 4, assignedToAgentId: worker.id }, { reopenCount: 5 }]);
    const res = await api('GET', '/v1/fleet/attention', worker.key);
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(1);
    expect(res.body.buckets.looping.map((t: any) => t.id)).toEqual([mineLooping]);
    const all = await api('GET', '/v1/fleet/attention', account.adminKey);
    expect(all.body.count).toBe(2);
    expect(all.body.buckets).toMatchObject({ abandoned_claims: [], silent_holders: [], errored: [], waiting_input: [], overdue: [] });
  });
});
