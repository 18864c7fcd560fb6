/**
 * Many agents against one account's queue at once: no task is ever handed to two holders.
 * Generous per-test timeouts: these make hundreds of requests and share two cores with other files.
 */
import { env, runDurableObjectAlarm } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { runs, tasks } from '../../src/db/schema';
import { database } from '../../src/db/client';
import { claimNextStatements } from '../../src/work-queue/claims';
import { claimQueueOf } from '../../src/work-queue/claim-queue';
import { api, db, makeAccount, makeAgent, type TestAccount, type TestAgent } from '../helpers/fixtures';
import { expireLease, insertTasks } from '../helpers/task-rows';

const claim = (key: string, body?: unknown) => api('POST', '/v1/tasks/claim', key, body);

async function makeWorkers(account: TestAccount, n: number): Promise<TestAgent[]> {
  return Promise.all(Array.from({ length: n }, () => makeAgent(account, 'worker')));
}

/** A small seeded generator, so a failing run can be replayed from its seed. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('50 concurrent claimers against 30 tasks', () => {
  it.each(Array.from({ length: 20 }, (_, round) => round))(
    'round %i: 30 distinct tasks handed out, 20 empty answers',
    async () => {
      const account = await makeAccount();
      const workers = await makeWorkers(account, 10);
      const ids = await insertTasks(
        account,
        Array.from({ length: 30 }, (_, i) => ({ priority: 1 + (i % 4), ageSeconds: i })),
      );

      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => claim(workers[i % workers.length]!.key)));
      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
      const won = answers.flatMap((a, i) => (a.body.task ? [{ task: a.body.task, agent: workers[i % workers.length]!.id }] : []));
      expect(won).toHaveLength(30);
      expect(answers.filter((a) => a.body.task === null)).toHaveLength(20);
      expect(new Set(won.map((w) => w.task.id))).toEqual(new Set(ids));
      for (const { task, agent } of won) expect(task.claimed_by_agent_id).toBe(agent);

      // D1 agrees: every task claimed once, by the agent that was told so, with one open run.
      const rows = await db().select().from(tasks).where(eq(tasks.accountId, account.accountId)).all();
      const holder = new Map(won.map((w) => [w.task.id as string, w.agent]));
      for (const row of rows) expect(row.claimedByAgentId).toBe(holder.get(row.id));
      const runRows = await db().select().from(runs).where(eq(runs.accountId, account.accountId)).all();
      expect(runRows).toHaveLength(30);
      expect(new Set(runRows.map((r) => r.taskId)).size).toBe(30);
      for (const run of runRows) expect(run.agentId).toBe(holder.get(run.taskId));
    },
    30_000,
  );
});

describe('the claim statement itself', () => {
  it('never double-claims even when batches bypass the queue object and race in D1', async () => {
    const account = await makeAccount();
    const workers = await makeWorkers(account, 4);
    const ids = await insertTasks(
      account,
      Array.from({ length: 10 }, (_, i) => ({ priority: 1 + (i % 2), ageSeconds: i })),
    );
    const d = database(env.DB);
    const results = await Promise.all(
      Array.from({ length: 25 }, async (_, i) => {
        const claimer = { accountId: account.accountId, agentId: workers[i % 4]!.id, sandboxProjectId: null };
        const [, updated] = await d.batch(
          claimNextStatements(d, { claimer, labels: [], projectId: null, leaseSeconds: 300, waitSeconds: 0 }, Date.now()),
        );
        return updated[0]?.id ?? null;
      }),
    );
    const won = results.filter((id): id is string => id !== null);
    expect(won).toHaveLength(10);
    expect(new Set(won)).toEqual(new Set(ids));
    const runRows = await db().select().from(runs).where(eq(runs.accountId, account.accountId)).all();
    expect(runRows).toHaveLength(10);
  }, 30_000);
});

describe('claimers that heartbeat, release, abandon, complete and re-claim at random', () => {
  it.each([11, 22, 33])(
    'seed %i: every task ends completed once or claimable, never held twice',
    async (seed) => {
      const rand = random(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
      const account = await makeAccount();
      const workers = await makeWorkers(account, 10);
      const ids = await insertTasks(
        account,
        Array.from({ length: 20 }, (_, i) => ({ priority: 1 + (i % 3), ageSeconds: i })),
      );
      const stub = claimQueueOf(env, account.accountId);

      /** Who holds each task as far as the agents know; an agent gives a task up before telling the API. */
      const holders = new Map<string, string>();
      const completions = new Map<string, number>();
      const doubleClaims: string[] = [];
      const took = (taskId: string, agentId: string) => {
        const current = holders.get(taskId);
        if (current && current !== agentId) doubleClaims.push(`${taskId} held by ${current} and handed to ${agentId}`);
        holders.set(taskId, agentId);
      };

      const work = async (agent: TestAgent) => {
        for (let step = 0; step < 10; step++) {
          let res = await claim(agent.key, { lease_seconds: 300 });
          expect(res.status).toBe(200);
          if (!res.body.task) {
            // Nothing left in order: try a random task directly (open, expired, or someone's).
            res = await api('POST', `/v1/tasks/${pick(ids)}/claim`, agent.key);
            expect([200, 404, 409]).toContain(res.status);
            if (res.status !== 200) continue;
          }
          const id = res.body.task.id as string;
          expect(res.body.task.claimed_by_agent_id).toBe(agent.id);
          took(id, agent.id);
          const roll = rand();
          if (roll < 0.7) {
            expect(
              (await api('POST', `/v1/tasks/${id}/heartbeat`, agent.key, { state: pick(['working', 'waiting_input'] as const) })).status,
            ).toBe(200);
          }
          if (roll < 0.35) {
            holders.delete(id);
            const done = await api('POST', `/v1/tasks/${id}/complete`, agent.key);
            expect(done.status, JSON.stringify(done.body)).toBe(200);
            expect(done.body).toMatchObject({ id, completed: true, claimed_by_agent_id: null });
            completions.set(id, (completions.get(id) ?? 0) + 1);
          } else if (roll < 0.8) {
            holders.delete(id);
            expect(
              (await api('POST', `/v1/tasks/${id}/release`, agent.key, rand() < 0.5 ? { handoff: `step ${step}` } : undefined)).status,
            ).toBe(200);
          } else {
            // Abandon it: the lease runs out, for a takeover or the alarm to clean up.
            holders.delete(id);
            await expireLease(id);
          }
        }
      };
      const sweeper = async () => {
        for (let i = 0; i < 10; i++) {
          await runDurableObjectAlarm(stub);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      await Promise.all([...workers.map(work), sweeper()]);
      expect(doubleClaims).toEqual([]);

      const now = new Date().toISOString();
      const rows = await db().select().from(tasks).where(eq(tasks.accountId, account.accountId)).all();
      const runRows = await db().select().from(runs).where(eq(runs.accountId, account.accountId)).all();
      const open = new Set<string>();
      for (const row of rows) {
        const taskRuns = runRows
          .filter((r) => r.taskId === row.id)
          .sort((a, b) => a.claimedAtMs - b.claimedAtMs || a.id.localeCompare(b.id));
        if (row.completed) {
          expect(completions.get(row.id)).toBe(1);
          expect(taskRuns.filter((r) => r.outcome === 'completed')).toHaveLength(1);
          expect(taskRuns.at(-1)!.outcome).toBe('completed');
        } else {
          expect(completions.has(row.id)).toBe(false);
          // Claimable: no live lease left behind.
          expect(row.claimedByAgentId === null || row.leaseExpiresAt! <= now).toBe(true);
          open.add(row.id);
        }
        // Runs of one task never overlap: each ended before the next began.
        for (let i = 0; i + 1 < taskRuns.length; i++) {
          const [a, b] = [taskRuns[i]!, taskRuns[i + 1]!];
          expect(a.endedAt, `run ${a.id} of ${row.id} still open while ${b.id} began`).not.toBeNull();
          expect(a.endedAt! <= b.claimedAt).toBe(true);
        }
      }
      expect(rows.filter((r) => r.completed).length + open.size).toBe(ids.length);

      // And the queue agrees: draining it hands out exactly the tasks that are not completed.
      const drained = new Set<string>();
      for (;;) {
        const res = await claim(account.adminKey);
        if (!res.body.task) break;
        drained.add(res.body.task.id);
      }
      expect(drained).toEqual(open);
    },
    30_000,
  );
});
