/**
 * The SDK's worker loop (claim, heartbeat, complete or release) with many parallel workers
 * against `wrangler dev`: every task is processed exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startDevServer, type DevServer } from './harness';

let server: DevServer;
beforeAll(async () => {
  server = await startDevServer({ vars: { LIMIT_RATE_PER_MINUTE: '100000' } });
});
afterAll(async () => {
  await server?.stop();
});

const TASKS = 40;
const WORKERS = 16;

describe('parallel workers over HTTP', () => {
  it('claim, heartbeat, complete or release: each task completed once, never held twice', async () => {
    const base = server.baseUrl;
    const signup = await http(base, 'POST', '/v1/signup', { body: { email: `queue-${Date.now()}@example.com` } });
    expect(signup.status).toBe(201);
    const admin = signup.body.api_key as string;
    const agents: { id: string; key: string }[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await http(base, 'POST', '/v1/agents', { key: admin, body: { name: `worker-${i}`, role: 'worker' } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      agents.push({ id: res.body.id, key: res.body.api_key });
    }
    const ids = new Set<string>();
    for (let i = 0; i < TASKS; i++) {
      const res = await http(base, 'POST', '/v1/tasks', {
        key: admin,
        body: { content: `job ${i}`, priority: 1 + (i % 4), labels: ['worker'] },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      ids.add(res.body.id);
    }

    const holding = new Map<string, string>();
    const completed = new Map<string, number>();
    const problems: string[] = [];
    const worker = async (n: number) => {
      const agent = agents[n % agents.length]!;
      const me = `worker ${n}`;
      while (completed.size < TASKS) {
        const res = await http(base, 'POST', '/v1/tasks/claim', {
          key: agent.key,
          body: { labels: ['worker'], lease_seconds: 60, wait_seconds: 1 },
        });
        if (res.status !== 200) problems.push(`${me}: claim ${res.status} ${JSON.stringify(res.body)}`);
        const task = res.body?.task;
        if (!task) continue;
        if (holding.has(task.id)) problems.push(`${task.id} handed to ${me} while ${holding.get(task.id)} holds it`);
        holding.set(task.id, me);
        const beat = await http(base, 'POST', `/v1/tasks/${task.id}/heartbeat`, { key: agent.key, body: { lease_seconds: 60 } });
        if (beat.status !== 200) problems.push(`${me}: heartbeat ${beat.status}`);
        holding.delete(task.id);
        if (Math.random() < 0.15) {
          const rel = await http(base, 'POST', `/v1/tasks/${task.id}/release`, { key: agent.key, body: { handoff: `${me} gave up` } });
          if (rel.status !== 200) problems.push(`${me}: release ${rel.status}`);
        } else {
          // As the SDK sends it: JSON content type, no body.
          const done = await http(base, 'POST', `/v1/tasks/${task.id}/complete`, {
            key: agent.key,
            headers: { 'Content-Type': 'application/json' },
          });
          if (done.status !== 200) problems.push(`${me}: complete ${task.id} ${done.status} ${JSON.stringify(done.body)}`);
          else completed.set(task.id, (completed.get(task.id) ?? 0) + 1);
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n)));

    expect(problems).toEqual([]);
    expect(new Set(completed.keys())).toEqual(ids);
    expect([...completed.values()].every((n) => n === 1)).toBe(true);
    const list = await http(base, 'GET', '/v1/tasks?completed=true&limit=500', { key: admin });
    expect((list.body as unknown[]).length).toBe(TASKS);
    const empty = await http(base, 'POST', '/v1/tasks/claim', { key: admin, headers: { 'Content-Type': 'application/json' } });
    expect(empty.body).toEqual({ task: null });

    // Every task has exactly one completed run across the workers.
    const completedRuns = new Map<string, number>();
    for (const agent of agents) {
      const runs = await http(base, 'GET', `/v1/agents/${agent.id}/runs?limit=500`, { key: admin });
      expect(runs.status).toBe(200);
      for (const run of runs.body as { task_id: string; outcome: string | null }[]) {
        expect(run.outcome).not.toBeNull();
        if (run.outcome === 'completed') completedRuns.set(run.task_id, (completedRuns.get(run.task_id) ?? 0) + 1);
      }
    }
    expect(completedRuns.size).toBe(TASKS);
    expect([...completedRuns.values()].every((n) => n === 1)).toBe(true);
  });
});
