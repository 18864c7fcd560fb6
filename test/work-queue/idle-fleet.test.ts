/**
 * Many accounts on one claim queue object, and idle long-poll fleets. The queue's D1 binding is
 * wrapped to count what it sends, so a test can say how many statements a quiet fleet costs.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/env';
import { countingD1, type RoundTripCounter } from '../../src/platform/d1-metrics';
import { limit } from '../../src/platform/config';
import { claimQueueOf, shardOf, type ClaimQueue } from '../../src/work-queue/claim-queue';
import type { ClaimNextRequest } from '../../src/work-queue/claims';
import { api, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';
import { expireLease, insertTask, taskRow } from '../helpers/task-rows';

const claim = (key: string, body?: unknown) => api('POST', '/v1/tasks/claim', key, body);

/** Counts every D1 call the account's claim queue object makes from now on. */
async function countQueueD1(accountId: string): Promise<RoundTripCounter> {
  const counter: RoundTripCounter = { count: 0, statements: 0 };
  await runInDurableObject(claimQueueOf(env, accountId), (queue: ClaimQueue) => {
    const q = queue as unknown as { env: Env; d1: D1Database };
    const counted = countingD1(q.env.DB, counter);
    q.env = { ...q.env, DB: counted };
    q.d1 = counted;
  });
  return counter;
}

/** How many claimers the queue holds for the account right now. */
const held = (accountId: string) =>
  runInDurableObject(claimQueueOf(env, accountId), (queue: ClaimQueue) => {
    const q = queue as unknown as { accounts: Map<string, { waiters: Set<unknown> }> };
    return q.accounts.get(accountId)?.waiters.size ?? 0;
  });

describe('an idle long-poll fleet', () => {
  it('claimers that come back while nothing changed are held without a D1 query, and a create wakes one', async () => {
    const account = await makeAccount();
    const workers = await Promise.all(Array.from({ length: 4 }, () => makeAgent(account, 'worker')));
    const parkAll = (wait: number) => workers.map((w) => claim(w.key, { wait_seconds: wait, labels: ['idle'] }));
    // First time round the queue asks D1 (and publishes that claimers wait); nothing is there.
    for (const res of await Promise.all(parkAll(1))) expect(res.body).toEqual({ task: null });

    const counter = await countQueueD1(account.accountId);
    // Back again, as parked workers come: held until their deadline, D1 never asked.
    for (const res of await Promise.all(parkAll(1))) expect(res.body).toEqual({ task: null });
    expect(counter.statements).toBe(0);

    const parked = parkAll(4);
    await vi.waitUntil(async () => (await held(account.accountId)) === workers.length, { timeout: 5000, interval: 20 });
    expect(counter.statements).toBe(0);
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'wake one', labels: ['idle'] });
    expect(created.status).toBe(201);
    const first = await Promise.race(parked);
    expect(first.body.task).toMatchObject({ id: created.body.id, status: 'claimed' });
    const winner = workers.find((w) => w.id === first.body.task.claimed_by_agent_id)!;
    expect((await taskRow(created.body.id))!.claimedByAgentId).toBe(winner.id);
    // The wake cost D1 work, and the others are still held for the next task.
    expect(counter.statements).toBeGreaterThan(0);
    expect(await held(account.accountId)).toBe(workers.length - 1);
    const second = await api('POST', '/v1/tasks', account.adminKey, { content: 'wake another', labels: ['idle'] });
    const answers = await Promise.all(parked);
    const got = answers
      .map((a) => a.body.task?.id)
      .filter(Boolean)
      .sort();
    expect(got).toEqual([created.body.id, second.body.id].sort());
  }, 20_000);

  it('a created task wakes one held claimer of a filter, not all of them; two created together reach two', async () => {
    const account = await makeAccount();
    const workers = await Promise.all(Array.from({ length: 8 }, () => makeAgent(account, 'worker')));
    const body = { labels: ['fanout'] };
    for (const res of await Promise.all(workers.map((w) => claim(w.key, { ...body, wait_seconds: 1 }))))
      expect(res.body).toEqual({ task: null });
    // What one claim that finds nothing costs the queue in D1 statements.
    const counter = await countQueueD1(account.accountId);
    expect((await claim(account.adminKey, body)).body).toEqual({ task: null });
    const oneClaim = counter.statements ?? 0;
    expect(oneClaim).toBeGreaterThan(0);

    const answers: { worker: number; taskId: string | null }[] = [];
    const parked = workers.map((w, i) =>
      claim(w.key, { ...body, wait_seconds: 6 }).then((r) => void answers.push({ worker: i, taskId: r.body.task?.id ?? null })),
    );
    await vi.waitUntil(async () => (await held(account.accountId)) === workers.length, { timeout: 5000, interval: 20 });
    counter.statements = 0;
    const first = await api('POST', '/v1/tasks', account.adminKey, { content: 'one', ...body });
    await vi.waitUntil(() => answers.length === 1, { timeout: 5000, interval: 10 });
    expect(answers[0]!.taskId).toBe(first.body.id);
    // The winner passes the wake-up on (there might be more): one more claim finds nothing. Not eight claims.
    await vi.waitUntil(async () => (await held(account.accountId)) === workers.length - 1, { timeout: 5000, interval: 10 });
    await new Promise((r) => setTimeout(r, 200));
    expect(counter.statements).toBeLessThanOrEqual(2 * oneClaim + 2);

    const two = await Promise.all(['two', 'three'].map((content) => api('POST', '/v1/tasks', account.adminKey, { content, ...body })));
    await vi.waitUntil(() => answers.length === 3, { timeout: 5000, interval: 10 });
    expect(
      answers
        .slice(1)
        .map((a) => a.taskId)
        .sort(),
    ).toEqual(two.map((t) => t.body.id).sort());
    expect(new Set(answers.map((a) => a.worker)).size).toBe(3);
    await Promise.all(parked);
    expect(answers.filter((a) => a.taskId === null)).toHaveLength(workers.length - 3);
  }, 20_000);

  it("a task assigned to one agent wakes that agent's held claim, though another of the same filter was held first", async () => {
    const account = await makeAccount();
    const [first, assignee] = [await makeAgent(account, 'worker'), await makeAgent(account, 'worker')];
    const body = { labels: ['mine'] };
    for (const w of [first, assignee]) expect((await claim(w.key, { ...body, wait_seconds: 1 })).body).toEqual({ task: null });
    const firstHeld = claim(first.key, { ...body, wait_seconds: 3 });
    await vi.waitUntil(async () => (await held(account.accountId)) === 1, { timeout: 5000, interval: 20 });
    const assigneeHeld = claim(assignee.key, { ...body, wait_seconds: 3 });
    await vi.waitUntil(async () => (await held(account.accountId)) === 2, { timeout: 5000, interval: 20 });
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'for you', ...body, assigned_to_agent_id: assignee.id });
    expect(created.status).toBe(201);
    expect((await assigneeHeld).body.task?.id).toBe(created.body.id);
    expect((await firstHeld).body).toEqual({ task: null });
  }, 20_000);

  it('a lease expiry that returns three tasks wakes three held claimers', async () => {
    const account = await makeAccount();
    const holders = await Promise.all(Array.from({ length: 3 }, () => makeAgent(account, 'worker')));
    const waiters = await Promise.all(Array.from({ length: 5 }, () => makeAgent(account, 'worker')));
    const body = { labels: ['expiring'] };
    const ids = await Promise.all(holders.map(() => insertTask(account, { labels: ['expiring'] })));
    for (const h of holders) expect((await claim(h.key, { ...body, lease_seconds: 30 })).body.task).not.toBeNull();
    for (const res of await Promise.all(waiters.map((w) => claim(w.key, { ...body, wait_seconds: 1 }))))
      expect(res.body).toEqual({ task: null });
    const parked = waiters.map((w) => claim(w.key, { ...body, wait_seconds: 5 }));
    await vi.waitUntil(async () => (await held(account.accountId)) === waiters.length, { timeout: 5000, interval: 20 });
    await Promise.all(ids.map((id) => expireLease(id)));
    expect(await runDurableObjectAlarm(claimQueueOf(env, account.accountId))).toBe(true);
    const got = (await Promise.all(parked)).map((r) => r.body.task?.id).filter(Boolean);
    expect(got.sort()).toEqual([...ids].sort());
  }, 20_000);

  it('a relabelled task wakes held claimers that now match it', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const id = await insertTask(account, { labels: ['draft'] });
    expect((await claim(worker.key, { wait_seconds: 1, labels: ['ready'] })).body).toEqual({ task: null });
    const waiting = claim(worker.key, { wait_seconds: 10, labels: ['ready'] });
    await vi.waitUntil(async () => (await held(account.accountId)) === 1, { timeout: 5000, interval: 20 });
    expect((await api('PATCH', `/v1/tasks/${id}`, account.adminKey, { labels: ['ready'] })).status).toBe(200);
    expect((await waiting).body.task?.id).toBe(id);
  });

  it('a task written while the claimer was away (no one to wake) is still found when it comes back', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    expect((await claim(worker.key, { wait_seconds: 1, labels: ['later'] })).body).toEqual({ task: null });
    // Straight into D1, waking nobody: the queue cannot know of it, so it must not be trusting its memory.
    await runInDurableObject(claimQueueOf(env, account.accountId), (queue: ClaimQueue) => {
      const q = queue as unknown as { accounts: Map<string, unknown>; publishWaiting(a: unknown, v: boolean): Promise<void> };
      // The grace period ends: the flag is cleared, so creates no longer wake the queue.
      return q.publishWaiting(q.accounts.get(account.accountId), false);
    });
    const id = await insertTask(account, { labels: ['later'] });
    expect((await claim(worker.key, { wait_seconds: 1, labels: ['later'] })).body.task?.id).toBe(id);
  });
});

describe('accounts sharing a claim queue object', () => {
  /** Accounts until `count` of them are placed on the same object. */
  async function accountsOnOneShard(count: number): Promise<TestAccount[]> {
    const byShard = new Map<number, TestAccount[]>();
    for (;;) {
      const account = await makeAccount();
      const shard = shardOf(account.accountId, limit(env, 'CLAIM_QUEUE_SHARDS'));
      const list = byShard.get(shard) ?? [];
      list.push(account);
      byShard.set(shard, list);
      if (list.length === count) return list;
    }
  }

  it('batch their claims together, and each account gets only its own tasks', async () => {
    const accounts = await accountsOnOneShard(5);
    const tasks = await Promise.all(accounts.map((a) => insertTask(a)));
    const counter = await countQueueD1(accounts[0]!.accountId);
    const queue = claimQueueOf(env, accounts[0]!.accountId);
    const req = (a: TestAccount): ClaimNextRequest => ({
      claimer: { accountId: a.accountId, agentId: a.adminId, sandboxProjectId: null },
      labels: [],
      projectId: null,
      leaseSeconds: 60,
      waitSeconds: 0,
    });
    const got = await Promise.all(accounts.map((a) => queue.claimNext(req(a))));
    expect(got.map((t) => t?.id)).toEqual(tasks);
    // The first claim goes alone; the others arrive while it is in flight and share the next batch.
    expect(counter.count).toBeLessThan(accounts.length);
    // Nothing left for anyone: no account reached another's task.
    const again = await Promise.all(accounts.map((a) => queue.claimNext(req(a))));
    expect(again).toEqual(accounts.map(() => null));
  });
});
