/**
 * A claim-queue batch whose answer is lost after D1 committed it (the connection drops on the
 * way back). The queue's D1 binding is wrapped so a chosen batch really commits and then throws;
 * each job must then be answered with what the batch already did, never run a second time.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { and, eq, isNull } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { runs, tasks } from '../../src/db/schema';
import type { ClaimNextRequest } from '../../src/work-queue/claims';
import { withOverrides } from '../../src/platform/with-overrides';
import { claimQueueOf, type ClaimQueue } from '../../src/work-queue/claim-queue';
import { api, db, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';
import { insertTasks, taskRow } from '../helpers/task-rows';

/** Makes the account's queue lose the answer of the first batch `when` picks, after D1 committed it. */
async function loseAnswerOnce(account: TestAccount, when: (statements: number) => boolean, opts: { commit: boolean } = { commit: true }) {
  const lost = { count: 0 };
  await runInDurableObject(claimQueueOf(env, account.accountId), (queue: ClaimQueue) => {
    const real = queue.d1;
    // Each batch runs in a D1 session of its own (for its bookmark): the session's batch is the one to break.
    queue.d1 = withOverrides(real, {
      withSession: ((constraint?: string) => {
        const session = real.withSession(constraint);
        return withOverrides(session, {
          batch: (async (statements: D1PreparedStatement[]) => {
            if (lost.count > 0 || !when(statements.length)) return session.batch(statements);
            lost.count++;
            if (opts.commit) await session.batch(statements);
            throw new Error('D1_ERROR: Network connection lost.');
          }) as D1DatabaseSession['batch'],
        });
      }) as D1Database['withSession'],
    });
  });
  return lost;
}

/** Tasks of the account held by a claim right now, and the runs still open. */
async function held(account: TestAccount) {
  const claimed = await db()
    .select({ id: tasks.id, by: tasks.claimedByAgentId })
    .from(tasks)
    .where(and(eq(tasks.accountId, account.accountId), eq(tasks.status, 'claimed')));
  const open = await db()
    .select({ taskId: runs.taskId, agentId: runs.agentId })
    .from(runs)
    .where(and(eq(runs.accountId, account.accountId), isNull(runs.endedAt)));
  return { claimed, open };
}

describe('a queue batch that committed but lost its answer', () => {
  it('claims batched together each get the task they took, and no claim takes a second one', async () => {
    const account = await makeAccount();
    await insertTasks(
      account,
      Array.from({ length: 8 }, () => ({})),
    );
    const agents = await Promise.all(Array.from({ length: 4 }, () => makeAgent(account, 'worker')));
    const req = (agentId: string): ClaimNextRequest => ({
      claimer: { accountId: account.accountId, agentId, sandboxProjectId: null },
      labels: [],
      projectId: null,
      leaseSeconds: 60,
      waitSeconds: 0,
    });
    // The first claim goes out alone; the other three share the next batch, whose answer is lost.
    const lost = await loseAnswerOnce(account, (n) => n > 3);
    const queue = claimQueueOf(env, account.accountId);
    const answered = await Promise.all(agents.map((a) => queue.claimNext(req(a.id))));
    expect(lost.count).toBe(1);
    const got = answered.map((t, i) => ({ id: t?.id, by: agents[i]!.id }));
    expect(got.every((g) => g.id !== undefined)).toBe(true);
    expect(new Set(got.map((g) => g.id)).size).toBe(4);
    const { claimed, open } = await held(account);
    // Exactly the four tasks handed out are held, each by the agent that was told so, with one open run each.
    expect(claimed.sort((a, b) => a.id.localeCompare(b.id))).toEqual([...got].sort((a, b) => a.id!.localeCompare(b.id!)));
    expect(open.map((r) => [r.taskId, r.agentId]).sort()).toEqual(got.map((g) => [g.id, g.by]).sort());
  });

  it('a claim alone is answered with its task, through the API', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    await insertTasks(account, [{}, {}]);
    const lost = await loseAnswerOnce(account, () => true);
    const res = await api('POST', '/v1/tasks/claim', worker.key, {});
    expect(lost.count).toBe(1);
    expect(res.status).toBe(200);
    expect(res.body.task.claimed_by_agent_id).toBe(worker.id);
    const { claimed, open } = await held(account);
    expect(claimed).toEqual([{ id: res.body.task.id, by: worker.id }]);
    expect(open).toHaveLength(1);
  });

  it('a targeted claim is answered as a fresh claim, with one run', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const [id] = await insertTasks(account, [{}]);
    await loseAnswerOnce(account, () => true);
    const res = await api('POST', `/v1/tasks/${id}/claim`, worker.key, {});
    expect(res.status).toBe(200);
    expect(res.body.task).toMatchObject({ id, claimed_by_agent_id: worker.id, status: 'claimed' });
    expect((await held(account)).open).toEqual([{ taskId: id, agentId: worker.id }]);
  });

  it('a completion is answered as completed, not as already completed', async () => {
    const account = await makeAccount();
    const [id] = await insertTasks(account, [{}]);
    await loseAnswerOnce(account, () => true);
    const res = await api('POST', `/v1/tasks/${id}/complete`, account.adminKey);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, completed: true, completed_by_agent_id: account.adminId });
    expect((await taskRow(id!))?.completed).toBe(true);
  });

  it('a batch that failed before committing runs its jobs again', async () => {
    const account = await makeAccount();
    await insertTasks(account, [{}, {}]);
    const lost = await loseAnswerOnce(account, () => true, { commit: false });
    const res = await api('POST', '/v1/tasks/claim', account.adminKey, {});
    expect(lost.count).toBe(1);
    expect(res.status).toBe(200);
    expect((await held(account)).claimed).toEqual([{ id: res.body.task.id, by: account.adminId }]);
  });
});
