/**
 * A crash in the middle of work: `wrangler dev` is killed (SIGKILL to its process group, no
 * clean shutdown) while workers claim and complete tasks and webhooks are being delivered, then
 * started again on the same local state. Afterwards no task is lost or held by two agents,
 * every lease still runs out on its own (nobody claims meanwhile), and every recorded webhook
 * delivery reaches its receiver at least once or ends failed (dead-lettered) with a record.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, http, startDevServer, type DevServer } from './harness';

const TASKS = 100;
const WORKERS = 8;
const LEASE_SECONDS = 30;

interface Receiver {
  url: string;
  /** delivery_id of every request received. */
  received: string[];
  close: () => Promise<void>;
}

/** A webhook receiver; `status(n)` answers its n-th request. */
async function startReceiver(status: (n: number) => number): Promise<Receiver> {
  const received: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        received.push((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { delivery_id: string }).delivery_id);
      } catch {
        received.push('unparsable');
      }
      res.writeHead(status(received.length)).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/hook`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

let server: DevServer;
const receivers: Receiver[] = [];

beforeAll(async () => {
  server = await startDevServer({
    vars: {
      LIMIT_RATE_PER_MINUTE: '100000',
      LIMIT_WEBHOOK_RETRY_BASE_SECONDS: '1',
      LIMIT_WEBHOOK_RETRY_MAX_SECONDS: '1',
      LIMIT_WEBHOOK_TIMEOUT_MS: '2000',
      LIMIT_WEBHOOK_REQUEUE_AFTER_SECONDS: '3',
    },
  });
});
afterAll(async () => {
  await server?.stop();
  await Promise.all(receivers.map((r) => r.close()));
});

interface TaskState {
  id: string;
  status: string;
  completed: number;
  claimed_by_agent_id: string | null;
  lease_expires_at: string | null;
}
interface RunState {
  task_id: string;
  agent_id: string;
  ended_at: string | null;
  outcome: string | null;
}

describe('a crash under load', () => {
  it('loses no task, double-holds none, lets leases run out and delivers every recorded webhook event', async () => {
    const base = server.baseUrl;
    const signup = await http(base, 'POST', '/v1/signup', { body: { email: `crash-${Date.now()}@example.com` } });
    expect(signup.status).toBe(201);
    const admin = signup.body.api_key as string;
    const agents: { id: string; key: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await http(base, 'POST', '/v1/agents', { key: admin, body: { name: `crash-worker-${i}`, role: 'worker' } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      agents.push({ id: res.body.id, key: res.body.api_key });
    }
    // One receiver fails every third request (retries); one never answers 2xx (dead letters), for the fewer release events.
    const flaky = await startReceiver((n) => (n % 3 === 0 ? 500 : 200));
    const dead = await startReceiver(() => 503);
    receivers.push(flaky, dead);
    for (const [receiver, events] of [
      [flaky, ['task.completed', 'task.released']],
      [dead, ['task.released']],
    ] as const) {
      const res = await http(base, 'POST', '/v1/webhooks', { key: admin, body: { url: receiver.url, events } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    for (let i = 0; i < TASKS; i++) {
      const res = await http(base, 'POST', '/v1/tasks', { key: admin, body: { content: `crash job ${i}`, labels: ['crash'] } });
      expect(res.status).toBe(201);
    }

    // Claim-and-complete load; the worker whose completion makes a quarter of the tasks done kills the server.
    const answeredCompletions = new Set<string>();
    let crashed = false;
    let crash: Promise<void> | undefined;
    const crashAt = TASKS / 4;
    const worker = async (n: number) => {
      const agent = agents[n % agents.length]!;
      while (!crashed) {
        try {
          const res = await http(base, 'POST', '/v1/tasks/claim', {
            key: agent.key,
            body: { labels: ['crash'], lease_seconds: LEASE_SECONDS },
          });
          const task = res.body?.task as { id: string } | null | undefined;
          if (!task) {
            if (res.status === 200) return;
            continue;
          }
          // Some claims are left to run out, so leases are live at the crash.
          if (n % 4 === 0) continue;
          const done = await http(base, 'POST', `/v1/tasks/${task.id}/complete`, { key: agent.key });
          if (done.status === 200) answeredCompletions.add(task.id);
          if (answeredCompletions.size >= crashAt && !crashed && !crash) crash = server.crash();
        } catch {
          return; // the server is gone
        }
      }
    };
    const load = Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n)));
    await until('the crash', () => crash !== undefined, 60_000, 10);
    crashed = true;
    await crash;
    await load;
    const before = answeredCompletions.size;
    await server.restart();

    // No task lost; each held by at most one agent, with exactly one open run that agrees.
    const tasks = () =>
      server.query<TaskState>(
        `select id, status, completed, claimed_by_agent_id, lease_expires_at from tasks where content like 'crash job %'`,
      );
    const runs = () => server.query<RunState>(`select task_id, agent_id, ended_at, outcome from runs`);
    const after = tasks();
    expect(after).toHaveLength(TASKS);
    for (const id of answeredCompletions) expect(after.find((t) => t.id === id)?.completed, id).toBe(1);
    const open = runs().filter((r) => r.ended_at === null);
    expect(new Set(open.map((r) => r.task_id)).size).toBe(open.length);
    for (const t of after) {
      const mine = open.filter((r) => r.task_id === t.id);
      if (t.status === 'claimed')
        expect(
          mine.map((r) => r.agent_id),
          t.id,
        ).toEqual([t.claimed_by_agent_id]);
      else expect(mine, t.id).toEqual([]);
    }
    const held = after.filter((t) => t.status === 'claimed');
    expect(held.length).toBeGreaterThan(0);

    // Every lease runs out on its own: nobody claims, the tasks go back to the queue and their runs end as expired.
    const lastLease = Math.max(...held.map((t) => Date.parse(t.lease_expires_at!)));
    await new Promise((r) => setTimeout(r, Math.max(0, lastLease - Date.now())));
    await until('every lapsed lease returned to the queue', () => tasks().every((t) => t.status !== 'claimed'), 20_000, 1000);
    const ended = runs();
    for (const t of held)
      expect(
        ended.filter((r) => r.task_id === t.id && r.ended_at === null),
        t.id,
      ).toEqual([]);
    for (const t of held)
      expect(
        ended.some((r) => r.task_id === t.id && r.outcome === 'expired'),
        t.id,
      ).toBe(true);

    // The rest of the work is done after the restart; each task completed exactly once.
    crashed = false;
    await Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n + 1 + Math.floor(n / 3))));
    expect(tasks().every((t) => t.completed === 1)).toBe(true);
    const completedRuns = runs().filter((r) => r.outcome === 'completed');
    expect(completedRuns).toHaveLength(TASKS);
    expect(new Set(completedRuns.map((r) => r.task_id)).size).toBe(TASKS);

    // Every recorded delivery, from before the crash or after, reaches its receiver or fails with a record.
    type Delivery = { id: string; event: string; status: string; last_error: string | null; webhook_url: string };
    const deliveries = () =>
      server.query<Delivery>(
        `select d.id, d.event, d.status, d.last_error, w.url as webhook_url from webhook_deliveries d join webhooks w on w.id = d.webhook_id`,
      );
    const settled = await until(
      'every delivery succeeded or failed',
      async () => {
        await server.runScheduled(); // queues again what the crash left without a message
        const all = deliveries();
        const open = all.filter((d) => d.status !== 'succeeded' && d.status !== 'failed');
        if (open.length)
          console.log(
            `crash test: ${open.length} of ${all.length} deliveries open (${[...new Set(open.map((d) => `${d.webhook_url === dead.url ? 'dead' : 'flaky'}:${d.status}`))].join(', ')})`,
          );
        return open.length === 0 && all;
      },
      60_000,
      2000,
    );
    for (const d of settled) {
      const receiver = d.webhook_url === flaky.url ? flaky : dead;
      if (d.status === 'succeeded') expect(receiver.received, d.id).toContain(d.id);
      else expect(d.last_error, d.id).toEqual(expect.any(String));
    }
    expect(settled.filter((d) => d.webhook_url === dead.url).every((d) => d.status === 'failed')).toBe(true);
    // A completion's event is recorded in waitUntil after its answer: one whose answer went out just
    // before the kill may have no delivery. Every completion after the restart has one per webhook.
    const completedEvents = settled.filter((d) => d.webhook_url === flaky.url && d.event === 'task.completed').length;
    const requeued = (server.logs().match(/stuck webhook deliveries queued again/g) ?? []).length;
    console.log(
      `crash test: ${before} completions answered before the crash, ${held.length} leases live at the restart; ${completedEvents} of ${TASKS} task.completed events recorded; ${requeued} runs queued stuck deliveries again`,
    );
    // The lease (30 s at least) and the dead letters' retries set the pace; well under that bound.
  }, 240_000);
});
