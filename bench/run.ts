/**
 * `npm run bench`: starts `wrangler dev` (local D1, Durable Objects, Queues), drives it with
 * autocannon and a claim-worker loop, and prints each endpoint's throughput and p50/p99 latency
 * as a ratio to `GET /health` measured in the same run, plus D1 round trips per request (from
 * the X-D1-Round-Trips header the Worker adds when D1_METRICS=1) and the CPU the workerd
 * processes spent per request (from /proc, where there is one). Writes bench/RESULTS.md.
 *
 * Options: BENCH_SECONDS (default 5), BENCH_BIG_TASKS (default 20000), BENCH_ROUNDS (default 3),
 * BENCH_WARMUP_SECONDS (untimed load before each measurement, default 1), BENCH_LOCAL_TRACING=1
 * (keep wrangler's local tracing on, to see what it costs),
 * BENCH_STATE_DIR (where wrangler keeps the local D1 and Durable Object files; default /dev/shm
 * when the machine has it, else the temp directory), BENCH_RECURRENCES (recurrences due in the same
 * minute for the scheduler row, default 10000), BENCH_ONLY=recurrences (only that row, printed,
 * RESULTS.md left as it is), BENCH_ONLY=dashboard (only the board page's row, likewise),
 * BENCH_ONLY=mcp (only the MCP rows, with their own /health, printed,
 * RESULTS.md left as it is), BENCH_MCP_CLAIM_TASKS (tasks seeded for the MCP claim_task row, default 30000),
 * BENCH_ONLY=hops (only the remote hops table, printed, RESULTS.md left as it is),
 * BENCH_ONLY=fleet (only the many-accounts and idle-fleet rows, with /health in the same run;
 * fleet-tenants or fleet-idle for one of them; printed, RESULTS.md left as it is; see `fleetBench` for their options).
 * Each round measures /health and then every endpoint; a row reports the medians over the rounds,
 * so a slow moment of the machine moves one sample, not the ratio. Claim-and-complete runs once
 * per round too, on a fresh account each time.
 *
 * What is measured is the Worker, not the simulator's extras: wrangler dev's local tracing (every
 * invocation of the Worker and its Durable Objects streamed to a trace store on disk, for the
 * local dashboard) is turned off, and the local state lives in memory when it can, so the
 * virtual disk's sync costs do not land on the writes. Both are printed with the results.
 */
import autocannon from 'autocannon';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, startDevServer } from '../test/e2e/harness.ts';
import { Agent } from 'node:http';
import { getJson, postJson } from './keep-alive-client.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BIG = Number(process.env.BENCH_BIG_TASKS ?? 20000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const STATE_DIR = process.env.BENCH_STATE_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
/** wrangler dev traces every invocation into a local store unless this is false (BENCH_LOCAL_TRACING=1 keeps it on). */
const TRACING = process.env.BENCH_LOCAL_TRACING === '1';
const WRANGLER_ENV: Record<string, string> = TRACING ? {} : { X_LOCAL_OBSERVABILITY: 'false' };

interface Row {
  name: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  d1: string;
  /** workerd CPU ms per request (null without /proc). */
  cpu: number | null;
}

/**
 * CPU time (ms) the workerd processes (wrangler's proxy and the Worker's runtime, with its
 * Durable Objects and the D1 simulator) have used so far, from /proc; null where there is none.
 * Per request it is the server's cost alone, whatever the load generator and the machine's
 * other tenants take, so it is printed next to the throughput.
 */
function workerdCpuMs(): number | null {
  if (!existsSync('/proc/self/stat')) return null;
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'workerd') continue;
      // Only this checkout's workerd (its binary lives under node_modules here): on a shared machine others run theirs.
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(CHECKOUT)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}
const CHECKOUT = `${join(import.meta.dirname, '..')}/`;
/** Linux reports process CPU in clock ticks of 1/100 s. */
const CLOCK_TICKS = 100;
const cpuPer = (before: number | null, count: number) => {
  const after = workerdCpuMs();
  return before === null || after === null || count === 0 ? null : (after - before) / count;
};

const rows: Row[] = [];
/** Samples per endpoint and connection count, folded into `rows` (medians) after the rounds. */
const samples = new Map<string, Row[]>();
interface ClaimRow {
  workers: number;
  tasksPerSec: number;
  /** workerd CPU ms per task (claim and complete). */
  cpu: number | null;
  p50: number;
  p99: number;
  doubleClaims: number;
  completed: number;
}
const claimRows: ClaimRow[] = [];

const RECURRENCES = Number(process.env.BENCH_RECURRENCES ?? 10000);
const ONLY_RECURRENCES = process.env.BENCH_ONLY === 'recurrences';
interface SchedulerRun {
  spawned: number;
  ms: number;
  /** workerd CPU ms of the run (the Worker and the D1 simulator together: an upper bound on the Worker's own). */
  cpu: number | null;
}
const schedulerRuns: SchedulerRun[] = [];

const ONLY_HOPS = process.env.BENCH_ONLY === 'hops';
/** Times each request of the hops table is measured (medians; hops and statements do not vary). */
const HOP_SAMPLES = 5;
interface HopRow {
  name: string;
  /** Sequential remote hops (X-Remote-Hops) and D1 round trips of the Worker (X-D1-Round-Trips). */
  hops: number;
  d1: number;
  /** D1 statements, rows read and rows written of the whole request (the claim queue's share included). */
  statements: number;
  rowsRead: number;
  rowsWritten: number;
  /** At most this many hops; null: shown, no target. */
  target: number | null;
}
const hopRows: HopRow[] = [];

/**
 * Each hot request again with X-D1-Metrics, after the key's principal is cached: its sequential
 * remote hops (D1 round trips and Durable Object calls, parallel ones once, the claim queue's own
 * D1 batch behind its call), and its statements and rows (the capacity model's inputs).
 * Cloudflare makes each hop a network trip; local runs hide them.
 */
async function measureHops(base: string) {
  const signup = await http(base, 'POST', '/v1/signup', { body: { email: `bench-hops-${Date.now()}@example.com` } });
  const key = (signup.body as { api_key: string }).api_key;
  const samples = new Map<string, { target: number | null; rows: Omit<HopRow, 'name' | 'target'>[] }>();
  const metered = async (name: string, target: number | null, method: string, path: string, body?: unknown) => {
    const res = await http(base, method, path, { key, body, headers: { 'X-D1-Metrics': '1' } });
    if (res.status >= 300) throw new Error(`${name}: ${res.status} ${JSON.stringify(res.body)}`);
    const header = (h: string) => Number(res.headers.get(h) ?? NaN);
    if (!samples.has(name)) samples.set(name, { target, rows: [] });
    samples.get(name)!.rows.push({
      hops: header('X-Remote-Hops'),
      d1: header('X-D1-Round-Trips'),
      statements: header('X-D1-Statements'),
      rowsRead: header('X-D1-Rows-Read'),
      rowsWritten: header('X-D1-Rows-Written'),
    });
    return res.body as { id?: string; task?: { id: string } | null };
  };
  await metered("GET /v1/tasks, the key's first request (reads its principal)", null, 'GET', '/v1/tasks');
  for (let i = 0; i < HOP_SAMPLES; i++) {
    const created = await metered('POST /v1/tasks', 2, 'POST', '/v1/tasks', { content: `Hop task ${i}`, labels: ['hops'] });
    const id = created.id!;
    await metered('GET /v1/tasks', 2, 'GET', '/v1/tasks');
    await metered('GET /v1/tasks/{id}', 2, 'GET', `/v1/tasks/${id}`);
    await metered('PATCH /v1/tasks/{id}/context', 2, 'PATCH', `/v1/tasks/${id}/context`, { step: 'bench' });
    const claimed = await metered('POST /v1/tasks/claim', 3, 'POST', '/v1/tasks/claim', { labels: ['hops'] });
    if (claimed.task?.id !== id) throw new Error(`hops: claimed ${claimed.task?.id}, expected ${id}`);
    await metered('POST /v1/tasks/{id}/complete', 3, 'POST', `/v1/tasks/${id}/complete`);
  }
  for (const [name, { target, rows }] of samples) {
    const med = (k: keyof Omit<HopRow, 'name' | 'target'>) => median(rows.map((r) => r[k]));
    hopRows.push({
      name,
      target,
      hops: Math.max(...rows.map((r) => r.hops)),
      d1: med('d1'),
      statements: med('statements'),
      rowsRead: med('rowsRead'),
      rowsWritten: med('rowsWritten'),
    });
  }
  // The simulation (`npm run simulate`) replays these costs.
  writeFileSync(
    join(import.meta.dirname, 'request-costs.json'),
    `${JSON.stringify(
      hopRows.filter((r) => r.target !== null),
      null,
      2,
    )}\n`,
  );
}

function hopsSection(): string[] {
  const within = (r: HopRow) => r.target !== null && Number(r.hops) <= r.target;
  return [
    '## Remote hops per request',
    '',
    `Sequential remote hops of one request (\`X-Remote-Hops\`): each D1 round trip and each Durable Object call is a network trip on Cloudflare, which local runs hide; calls made in parallel count once, and the claim queue's own D1 batch counts behind its call. Measured after the key's principal is cached (its first request reads it: one hop more). D1 = the Worker's own round trips (\`X-D1-Round-Trips\`); statements and rows are the whole request's, the claim queue's batch included (a batch's shared sweep counts for each claim in it); medians of ${HOP_SAMPLES} requests, hops the largest seen. These are the capacity model's inputs (ARCHITECTURE.md; written to bench/request-costs.json for \`npm run simulate\`).`,
    '',
    '| request | hops | target | D1 | statements | rows read | rows written |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...hopRows.map(
      (r) =>
        `| ${r.name} | ${r.hops} | ${r.target === null ? '-' : `<= ${r.target}`} | ${r.d1} | ${r.statements} | ${r.rowsRead} | ${r.rowsWritten} |`,
    ),
    '',
    ...hopRows
      .filter((r) => r.target !== null)
      .map((r) => `- ${within(r) ? 'met' : 'NOT met'}: ${r.name} in at most ${r.target} sequential remote hops (${r.hops})`),
  ];
}

/**
 * RECURRENCES recurrences of one account fall due in the same minute; the scheduled handler is
 * fired (wrangler dev's scheduled endpoint, as a Cron Trigger would) until every one has spawned.
 */
async function schedulerBurst(base: string, server: Awaited<ReturnType<typeof startDevServer>>) {
  const signup = await http(base, 'POST', '/v1/signup', { body: { email: `bench-rec-${Date.now()}@example.com` } });
  const me = await http(base, 'GET', '/v1/agent/me', { key: (signup.body as { api_key: string }).api_key });
  const { account, agent } = me.body as { account: { id: string }; agent: { id: string } };
  const due = new Date(Date.now() - 30_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  server.query(`insert into recurrences (id, account_id, content, created_by_agent_id, rule_type, timezone, time_of_day, next_due_at, created_at, updated_at)
    with recursive n(i) as (select 1 union all select i + 1 from n where i < ${RECURRENCES})
    select 'rec_bench' || i, '${account.id}', 'Recurring ' || i, '${agent.id}', 'daily', 'Europe/Berlin', '09:00:00', '${due}', '${due}', '${due}' from n`);
  let spawned = 0;
  for (let run = 0; run < 10 && spawned < RECURRENCES; run++) {
    const cpu = workerdCpuMs();
    const started = performance.now();
    const res = await fetch(`${base}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
    if (!res.ok) throw new Error(`scheduled run failed: ${res.status}`);
    const ms = performance.now() - started;
    const now =
      server.query<{ n: number }>(
        `select count(*) as n from tasks where account_id = '${account.id}' and source_recurrence_id is not null`,
      )[0]?.n ?? 0;
    schedulerRuns.push({ spawned: now - spawned, ms, cpu: cpu === null ? null : cpuPer(cpu, 1) });
    spawned = now;
    process.stdout.write(`scheduler run ${run + 1}: ${schedulerRuns.at(-1)!.spawned} spawned in ${ms.toFixed(0)} ms\n`);
  }
}

const ONLY_DASHBOARD = process.env.BENCH_ONLY === 'dashboard';
const BOARD_TASKS = 200;
interface BoardSample {
  health: number;
  board: number;
  p50: number;
  p99: number;
}
const boardSamples: BoardSample[] = [];
let boardRoundTrips = '?';

/**
 * The dashboard's board page (/app) of an account with BOARD_TASKS tasks, read with a signed-in
 * human's session cookie at 32 connections, against `GET /health` measured just before it in the
 * same round (the samples go to their own list, not the API table).
 */
async function dashboardBoard(base: string) {
  const email = `bench-board-${Date.now()}@example.com`;
  const signup = await http(base, 'POST', '/v1/signup', { body: { email, name: 'Bench' } });
  const key = (signup.body as { api_key: string }).api_key;
  await seedTasks(base, key, BOARD_TASKS);
  const form = (body: Record<string, string>) => ({
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: base },
    body: new URLSearchParams(body).toString(),
    redirect: 'manual' as const,
  });
  await fetch(`${base}/app/sign-in`, form({ email }));
  const mailbox = await http<{ messages: { subject: string; links: string[] }[] }>(
    base,
    'GET',
    `/dev/mailbox?to=${encodeURIComponent(email)}`,
  );
  const link = new URL(mailbox.body.messages.find((m) => m.subject === 'Sign in to Delega')!.links[0]!);
  const signedIn = await fetch(`${base}/app/sign-in/link`, form({ token: link.searchParams.get('token')! }));
  const cookie = signedIn.headers.get('Set-Cookie')?.match(/delega_human=[^;]+/)?.[0];
  if (!cookie) throw new Error(`dashboard sign-in failed: ${signedIn.status}`);
  const metered = await fetch(`${base}/app`, { headers: { Cookie: cookie, 'X-D1-Metrics': '1' } });
  if (metered.status !== 200) throw new Error(`board page answered ${metered.status}`);
  boardRoundTrips = metered.headers.get('X-D1-Round-Trips') ?? '?';
  await metered.text();
  const rps = (name: string) => samples.get(`32|${name}`)!.at(-1)!;
  for (let round = 0; round < ROUNDS; round++) {
    await load(base, 'GET /health (board section)', 32, { path: '/health', d1: '1' });
    await load(base, `GET /app (board, ${BOARD_TASKS} tasks)`, 32, { path: '/app', headers: { Cookie: cookie }, d1: boardRoundTrips });
    const board = rps(`GET /app (board, ${BOARD_TASKS} tasks)`);
    boardSamples.push({ health: rps('GET /health (board section)').rps, board: board.rps, p50: board.p50, p99: board.p99 });
  }
  // Kept out of the API table's rows: this section reports itself.
  samples.delete('32|GET /health (board section)');
  samples.delete(`32|GET /app (board, ${BOARD_TASKS} tasks)`);
}

function dashboardSection(): string[] {
  if (boardSamples.length === 0) return [];
  const ratio = median(boardSamples.map((s) => s.board / s.health));
  return [
    '## Dashboard board page',
    '',
    `\`GET /app\` for an account with ${BOARD_TASKS} tasks (four columns of up to 25 cards, counts, filters), with a signed-in session cookie, at 32 connections; each round measures \`GET /health\` just before it. D1 = round trips of one board page.`,
    '',
    '| round | /health req/s | board req/s | x health | board p50 ms | board p99 ms |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...boardSamples.map(
      (s, i) => `| ${i + 1} | ${s.health.toFixed(0)} | ${s.board.toFixed(0)} | ${(s.board / s.health).toFixed(2)} | ${s.p50} | ${s.p99} |`,
    ),
    '',
    `- ${ratio >= 0.3 ? 'met' : 'NOT met'}: the board page with ${BOARD_TASKS} tasks at 32 connections reaches 30% of /health req/s (median ${ratio.toFixed(3)}; D1 round trips per page: ${boardRoundTrips})`,
  ];
}

async function load(
  base: string,
  name: string,
  connections: number,
  opts: { method?: string; path: string; key?: string; body?: unknown; d1?: string; headers?: Record<string, string> },
) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers['X-Agent-Key'] = opts.key;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const run = (duration: number) =>
    autocannon({
      url: base + opts.path,
      method: (opts.method ?? 'GET') as 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      connections,
      duration,
    });
  // Untimed first: whatever the previous endpoint left behind (garbage, cold code paths) is
  // paid here, not by whichever endpoint happens to come next (each round opens with /health).
  if (WARMUP > 0) await run(WARMUP);
  const cpuBefore = workerdCpuMs();
  const result = await run(SECONDS);
  const cpu = cpuPer(cpuBefore, result.requests.total);
  const key = `${connections}|${name}`;
  if (!samples.has(key)) samples.set(key, []);
  samples.get(key)!.push({
    name,
    connections,
    rps: result.requests.average,
    cpu,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors,
    d1: opts.d1 ?? '-',
  });
  process.stdout.write(
    `${name} @${connections}: ${result.requests.average.toFixed(0)} req/s p50 ${result.latency.p50} ms p99 ${result.latency.p99} ms non-2xx ${result.non2xx + result.errors}\n`,
  );
}

async function roundTrips(base: string, method: string, path: string, key: string, body?: unknown): Promise<string> {
  const res = await http(base, method, path, { key, body, headers: { 'X-D1-Metrics': '1' } });
  return res.headers.get('X-D1-Round-Trips') ?? '?';
}

async function pool<T>(items: T[], size: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function seedTasks(base: string, key: string, count: number, project?: string) {
  const ids: string[] = [];
  await pool(
    Array.from({ length: count }, (_, i) => i),
    32,
    async (i) => {
      const res = await http(base, 'POST', '/v1/tasks', {
        key,
        body: {
          content: `Seeded task ${i}`,
          priority: (i % 4) + 1,
          labels: i % 2 ? ['odd'] : ['even'],
          ...(project ? { project_id: project } : {}),
        },
      });
      if (res.status !== 201) throw new Error(`seed failed: ${res.status} ${JSON.stringify(res.body)}`);
      ids.push((res.body as { id: string }).id);
    },
  );
  return ids;
}

function percentile(sorted: number[], p: number) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** N workers each loop: claim the next task, complete it. Returns tasks/s and claim latency. */
async function claimAndComplete(base: string, keys: string[], workers: number, taskCount: number) {
  const latencies: number[] = [];
  const seen = new Map<string, number>();
  let completed = 0;
  const started = performance.now();
  const cpuBefore = workerdCpuMs();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const key = keys[w % keys.length]!;
      for (;;) {
        const t0 = performance.now();
        const res = await postJson(base, '/v1/tasks/claim', key, { labels: ['queue'], lease_seconds: 60 });
        latencies.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`claim failed: ${res.status} ${JSON.stringify(res.body)}`);
        const task = (res.body as { task: { id: string } | null }).task;
        if (!task) break;
        seen.set(task.id, (seen.get(task.id) ?? 0) + 1);
        const done = await postJson(base, `/v1/tasks/${task.id}/complete`, key);
        if (done.status !== 200) throw new Error(`complete failed: ${done.status} ${JSON.stringify(done.body)}`);
        completed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuPer(cpuBefore, completed);
  latencies.sort((a, b) => a - b);
  const doubleClaims = [...seen.values()].filter((n) => n > 1).length;
  if (seen.size !== taskCount) throw new Error(`expected ${taskCount} tasks claimed, got ${seen.size}`);
  return { tasksPerSec: completed / seconds, cpu, p50: percentile(latencies, 50), p99: percentile(latencies, 99), doubleClaims, completed };
}

async function main() {
  const server = await startDevServer({
    stateRoot: STATE_DIR,
    env: WRANGLER_ENV,
    vars: {
      LIMIT_RATE_PER_MINUTE: '100000000',
      LIMIT_TASKS_PER_MONTH: '100000000',
      LIMIT_ONBOARDING_RATE_PER_MINUTE: '100000',
      LIMIT_EMAILS_PER_HOUR: '100000',
      LIMIT_AGENTS_PER_ACCOUNT: '100',
      D1_METRICS: '1',
    },
  });
  try {
    const base = server.baseUrl;
    if (ONLY_RECURRENCES) {
      await schedulerBurst(base, server);
      process.stdout.write(`\n${schedulerSection().join('\n')}\n`);
      return;
    }
    if (ONLY_DASHBOARD) {
      await dashboardBoard(base);
      process.stdout.write(`\n${dashboardSection().join('\n')}\n`);
      return;
    }
    if (ONLY_MCP) {
      await mcpBench(base, server);
      process.stdout.write(`\n${mcpSection().join('\n')}\n`);
      return;
    }
    if (ONLY_HOPS) {
      await measureHops(base);
      process.stdout.write(`\n${hopsSection().join('\n')}\n`);
      return;
    }
    if (ONLY_FLEET) {
      await fleetBench(base, server).catch((e: unknown) => {
        process.stdout.write(`wrangler dev said:\n${server.logs().slice(-4000)}\n`);
        throw e;
      });
      process.stdout.write(`\n${fleetSection().join('\n')}\n`);
      return;
    }
    const signup = await http(base, 'POST', '/v1/signup', { body: { email: `bench-${Date.now()}@example.com`, name: 'Bench' } });
    if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${JSON.stringify(signup.body)}`);
    const key = (signup.body as { api_key: string }).api_key;

    // A second account with BIG tasks, so list cost at scale is measured in the same run.
    const bigSignup = await http(base, 'POST', '/v1/signup', { body: { email: `bench-big-${Date.now()}@example.com` } });
    const bigKey = (bigSignup.body as { api_key: string }).api_key;
    process.stdout.write(`seeding 100 + ${BIG} tasks...\n`);
    const ids = await seedTasks(base, key, 100);
    await seedTasks(base, bigKey, BIG);
    const one = ids[0]!;

    // Creates go to their own account, so the 100-task account keeps its 100 tasks.
    const writerSignup = await http(base, 'POST', '/v1/signup', { body: { email: `bench-writer-${Date.now()}@example.com` } });
    const writerKey = (writerSignup.body as { api_key: string }).api_key;

    for (const connections of [1, 32]) {
      for (let round = 0; round < ROUNDS; round++) {
        await load(base, 'GET /health', connections, { path: '/health', d1: '1' });
        await load(base, 'GET /v1/tasks (100 tasks)', connections, {
          path: '/v1/tasks',
          key,
          d1: await roundTrips(base, 'GET', '/v1/tasks', key),
        });
        await load(base, `GET /v1/tasks (${BIG} tasks)`, connections, {
          path: '/v1/tasks',
          key: bigKey,
          d1: await roundTrips(base, 'GET', '/v1/tasks', bigKey),
        });
        await load(base, 'GET /v1/tasks/{id}', connections, {
          path: `/v1/tasks/${one}`,
          key,
          d1: await roundTrips(base, 'GET', `/v1/tasks/${one}`, key),
        });
        await load(base, 'PATCH /v1/tasks/{id}/context', connections, {
          method: 'PATCH',
          path: `/v1/tasks/${one}/context`,
          key,
          body: { step: 'bench' },
          d1: await roundTrips(base, 'PATCH', `/v1/tasks/${one}/context`, key, { step: 'bench' }),
        });
        await load(base, 'POST /v1/tasks', connections, {
          method: 'POST',
          path: '/v1/tasks',
          key: writerKey,
          body: { content: 'Bench task', labels: ['bench'] },
          d1: await roundTrips(base, 'POST', '/v1/tasks', writerKey, { content: 'x', labels: ['bench'] }),
        });
      }
    }
    foldSamples();

    // Claim-and-complete: a fresh account per run, N workers with 4 keys; ROUNDS runs per worker count.
    const claimSamples = new Map<number, ClaimRow[]>();
    for (let round = 0; round < ROUNDS; round++)
      for (const workers of [1, 8, 32]) {
        const acct = await http(base, 'POST', '/v1/signup', { body: { email: `bench-q${workers}-${Date.now()}@example.com` } });
        const admin = (acct.body as { api_key: string }).api_key;
        const keys = [admin];
        for (let i = 0; i < 3; i++) {
          const a = await http(base, 'POST', '/v1/agents', { key: admin, body: { name: `worker-${i}`, role: 'worker' } });
          keys.push((a.body as { api_key: string }).api_key);
        }
        const taskCount = workers === 1 ? 200 : 600;
        await pool(
          Array.from({ length: taskCount }, (_, i) => i),
          32,
          async (i) => {
            const res = await http(base, 'POST', '/v1/tasks', {
              key: admin,
              body: { content: `Queue task ${i}`, labels: ['queue'], priority: (i % 4) + 1 },
            });
            if (res.status !== 201) throw new Error(`seed failed: ${res.status}`);
          },
        );
        const result = await claimAndComplete(base, keys, workers, taskCount);
        // From D1 itself: no task may have more than one claim session in this account.
        const me = await http(base, 'GET', '/v1/agent/me', { key: admin });
        const accountId = (me.body as { account: { id: string } }).account.id;
        const twice = server.query<{ n: number }>(
          `select count(*) as n from (select task_id from runs where account_id = '${accountId}' group by task_id having count(*) > 1)`,
        );
        const completedInD1 = server.query<{ n: number }>(
          `select count(*) as n from tasks where account_id = '${accountId}' and completed = 1`,
        );
        result.doubleClaims += twice[0]?.n ?? 0;
        if (completedInD1[0]?.n !== taskCount) throw new Error(`D1 shows ${completedInD1[0]?.n} completed tasks, expected ${taskCount}`);
        if (!claimSamples.has(workers)) claimSamples.set(workers, []);
        claimSamples.get(workers)!.push({ workers, ...result });
        process.stdout.write(
          `claim+complete x${workers}: ${result.tasksPerSec.toFixed(1)} tasks/s claim p50 ${result.p50.toFixed(1)} ms p99 ${result.p99.toFixed(1)} ms double claims ${result.doubleClaims}\n`,
        );
      }
    for (const list of claimSamples.values()) {
      claimRows.push({
        ...list[0]!,
        tasksPerSec: median(list.map((r) => r.tasksPerSec)),
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        doubleClaims: list.reduce((n, r) => n + r.doubleClaims, 0),
        completed: list.reduce((n, r) => n + r.completed, 0),
        cpu: medianOrNull(list.map((r) => r.cpu)),
      });
    }
    await schedulerBurst(base, server);
    await dashboardBoard(base);
    await mcpBench(base, server);
    await measureHops(base);
    await fleetBench(base, server);
  } finally {
    await server.stop();
  }
  if (!ONLY_RECURRENCES && !ONLY_DASHBOARD && !ONLY_MCP && !ONLY_HOPS && !ONLY_FLEET) report();
}

function schedulerSection(): string[] {
  const total = schedulerRuns.reduce((n, r) => n + r.spawned, 0);
  return [
    '## Recurrences falling due together',
    '',
    `${RECURRENCES} recurrences of one account due in the same minute; the scheduled handler is fired (wrangler dev's scheduled endpoint, as the Cron Trigger would be each minute) until all have spawned. Per run: tasks spawned, wall time, and workerd CPU (the Worker and the D1 simulator together, so an upper bound on the Worker's own CPU).`,
    '',
    '| run | spawned | wall ms | workerd CPU ms |',
    '| ---: | ---: | ---: | ---: |',
    ...schedulerRuns.map((r, i) => `| ${i + 1} | ${r.spawned} | ${r.ms.toFixed(0)} | ${fixed(r.cpu, 0)} |`),
    '',
    `- ${total === RECURRENCES && schedulerRuns.length <= 3 ? 'met' : 'NOT met'}: all ${RECURRENCES} spawned within 3 scheduler runs (${total} in ${schedulerRuns.length})`,
  ];
}

const medianOrNull = (xs: (number | null)[]) => (xs.every((x): x is number => x !== null) ? median(xs) : null);
const fixed = (x: number | null, digits: number) => (x === null ? '-' : x.toFixed(digits));

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/** One row per endpoint and connection count: the median req/s, p50 and p99 over the rounds. */
function foldSamples() {
  for (const list of samples.values()) {
    rows.push({
      ...list[0]!,
      rps: median(list.map((r) => r.rps)),
      p50: median(list.map((r) => r.p50)),
      p99: median(list.map((r) => r.p99)),
      non2xx: list.reduce((n, r) => n + r.non2xx, 0),
      cpu: medianOrNull(list.map((r) => r.cpu)),
    });
  }
}

/** The targets the project set itself, each checked against this run's figures. */
function targets(health: Map<number, Row>): string[] {
  const h32 = health.get(32);
  const out: string[] = [];
  const check = (ok: boolean, text: string) => out.push(`- ${ok ? 'met' : 'NOT met'}: ${text}`);
  if (!h32) return ['- no /health figures at 32 connections'];
  for (const r of rows.filter((x) => x.connections === 32 && x.name !== 'GET /health')) {
    check(r.rps >= 0.4 * h32.rps, `${r.name} at 32 connections reaches 40% of /health req/s (${(r.rps / h32.rps).toFixed(2)})`);
    check(r.p99 < 5 * h32.p99, `${r.name} at 32 connections has p99 under 5x /health p99 (${(r.p99 / h32.p99).toFixed(2)})`);
  }
  const small = rows.find((r) => r.connections === 32 && r.name.includes('(100 tasks)'));
  const big = rows.find((r) => r.connections === 32 && r.name.includes(`(${BIG} tasks)`));
  if (small && big)
    check(
      big.rps >= small.rps / 1.5 && big.p99 <= small.p99 * 1.5,
      `GET /v1/tasks at ${BIG} tasks within 1.5x of itself at 100 tasks (req/s ${(small.rps / big.rps).toFixed(2)}x, p99 ${(big.p99 / small.p99).toFixed(2)}x)`,
    );
  const claim32 = claimRows.find((r) => r.workers === 32);
  if (claim32) {
    check(
      claim32.tasksPerSec >= 0.3 * h32.rps,
      `claim-and-complete with 32 workers at 30% of /health req/s (${(claim32.tasksPerSec / h32.rps).toFixed(3)} in tasks/s)`,
    );
    check(claim32.p99 < 10 * h32.p99, `claim p99 with 32 workers under 10x /health p99 (${(claim32.p99 / h32.p99).toFixed(2)})`);
    check(
      claimRows.every((r) => r.doubleClaims === 0),
      'no double claims, by the clients and by D1',
    );
  }
  return out;
}

function report() {
  const date = new Date().toISOString().slice(0, 10);
  const health = new Map(rows.filter((r) => r.name === 'GET /health').map((r) => [r.connections, r]));
  const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) : '-');
  const lines = [
    '# Benchmark results',
    '',
    `Date: ${date}. Command: \`npm run bench\` (BENCH_SECONDS=${SECONDS}, BENCH_BIG_TASKS=${BIG}, BENCH_ROUNDS=${ROUNDS}, BENCH_WARMUP_SECONDS=${WARMUP}, state in ${STATE_DIR}, wrangler's local tracing ${TRACING ? 'on' : 'off'}). Machine: ${process.env.BENCH_MACHINE ?? '2 cores, local wrangler dev (workerd + miniflare D1/DO/Queues)'}.`,
    '',
    "Each endpoint is measured with autocannon for the duration above, after an untimed warm-up, once per round (each round starts with `GET /health`); a row shows the medians over the rounds. Ratios are to `GET /health` at the same connection count in the same run (rps ratio: higher is better; latency ratio: lower is better). D1 = round trips per request of the Worker itself (claims also do one D1 batch inside the Durable Object, not counted there). workerd CPU = CPU time of the workerd processes (wrangler's proxy, and the runtime with the Worker, its Durable Objects and the D1 simulator) per request: the server's own cost, whatever the load generator and the machine's other tenants take.",
    '',
    '| endpoint | conns | req/s | x health | p50 ms | p99 ms | p99 x health | non-2xx | D1 | workerd CPU ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => {
      const h = health.get(r.connections);
      return `| ${r.name} | ${r.connections} | ${r.rps.toFixed(0)} | ${ratio(r.rps, h?.rps)} | ${r.p50} | ${r.p99} | ${ratio(r.p99, h?.p99)} | ${r.non2xx} | ${r.d1} | ${fixed(r.cpu, 2)} |`;
    }),
    '',
    '## Claim and complete',
    '',
    'Workers loop: `POST /v1/tasks/claim` then `POST /v1/tasks/{id}/complete` until the queue is empty, over kept-alive connections with Node\'s http client (as lean as autocannon; fetch would spend the server\'s CPU on this 2-core machine). Two requests per task; "req/s x health" compares (2 x tasks/s) with `GET /health` at 32 connections. Double claims are counted by the clients and again from D1 after the run (tasks with more than one claim session); D1 must also show every task completed. Each row is the median of one run per round (a fresh account each); double claims are summed over the runs. The last column divides the workerd CPU of a task by that of one `GET /health` at 32 connections: how many /health requests a task costs the server.',
    '',
    '| workers | tasks/s | req/s x health | claim p50 ms | claim p99 ms | p99 x health p99 | double claims | workerd CPU ms per task | CPU: health requests per task |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...claimRows.map((r) => {
      const h = health.get(32);
      return `| ${r.workers} | ${r.tasksPerSec.toFixed(1)} | ${ratio(2 * r.tasksPerSec, h?.rps)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${ratio(r.p99, h?.p99)} | ${r.doubleClaims} | ${fixed(r.cpu, 2)} | ${r.cpu !== null && h?.cpu ? (r.cpu / h.cpu).toFixed(2) : '-'} |`;
    }),
    '',
    '## Targets',
    '',
    ...targets(health),
    '',
    ...schedulerSection(),
    '',
    ...dashboardSection(),
    ...mcpSection(),
    ...hopsSection(),
    ...fleetSection(),
    '',
  ];
  const text = lines.join('\n');
  const file = join(import.meta.dirname, 'RESULTS.md');
  // Sections recorded apart (A/B runs of \`npm run bench:ab\`) stay below the marker, run after run.
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const kept = before.includes(KEPT_MARKER) ? before.slice(before.indexOf(KEPT_MARKER)) : '';
  writeFileSync(file, kept ? `${text}\n${kept}` : text);
  process.stdout.write(`\n${text}\n`);
}

/** Everything from this line on in RESULTS.md was recorded by other commands and is kept by \`npm run bench\`. */
const KEPT_MARKER = '<!-- Kept across runs of npm run bench: sections recorded by other commands. -->';

// ---------------------------------------------------------------- MCP (BENCH_ONLY=mcp)

const ONLY_MCP = process.env.BENCH_ONLY === 'mcp';
const MCP_CLAIM_TASKS = Number(process.env.BENCH_MCP_CLAIM_TASKS ?? 30000);
const MCP_CONNECTIONS = 32;
/** What an MCP host sends with every POST of the stateless Streamable HTTP transport. */
const MCP_HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': '2025-11-25',
};

interface McpSample {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Non-2xx answers, connection errors, JSON-RPC errors and tool errors (isError). */
  failures: number;
  /** claim_task answers that carried a task. */
  claimed: number;
  cpu: number | null;
}
interface McpRow extends McpSample {
  name: string;
  d1: string;
}
const mcpRows: McpRow[] = [];
const mcpChecks: string[] = [];

const toolCall = (name: string, args: Record<string, unknown>) =>
  JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });

/**
 * autocannon against one endpoint at MCP_CONNECTIONS, reading every answer: a JSON-RPC error or
 * a tool error counts as a failure as a non-2xx does, and a claim that returned a task is counted.
 */
async function mcpLoad(
  base: string,
  opts: { path: string; method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
): Promise<McpSample> {
  let failures = 0;
  let claimed = 0;
  const run = (duration: number, count: boolean) =>
    autocannon({
      url: base + opts.path,
      connections: MCP_CONNECTIONS,
      duration,
      requests: [
        {
          method: opts.method ?? 'GET',
          headers: opts.headers,
          body: opts.body,
          onResponse: (status: number, body: string) => {
            if (!count || opts.method !== 'POST') return;
            if (status < 200 || status > 299) return; // counted by autocannon as non-2xx
            try {
              // A JSON body, or (2025-era requests) one SSE event whose data line is the JSON-RPC answer.
              const json = body.startsWith('{') ? body : (body.split('\n').find((line) => line.startsWith('data: ')) ?? '').slice(6);
              const answer = JSON.parse(json) as { error?: unknown; result?: { isError?: boolean; content?: { text?: string }[] } };
              if (answer.error || answer.result?.isError) failures++;
              else if (answer.result?.content?.[0]?.text?.startsWith('Claimed task ')) claimed++;
            } catch {
              failures++;
            }
          },
        },
      ],
    });
  if (WARMUP > 0) await run(WARMUP, false);
  const cpuBefore = workerdCpuMs();
  const result = await run(SECONDS, true);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    failures: failures + result.non2xx + result.errors,
    claimed,
    cpu: cpuPer(cpuBefore, result.requests.total),
  };
}

/**
 * `tools/call list_tasks` (an admin key over 100 tasks, as GET /v1/tasks (100 tasks)) and
 * `tools/call claim_task` (from a queue of MCP_CLAIM_TASKS open tasks, each call claiming one),
 * each a stateless POST /mcp with an API key, against GET /health in the same round.
 */
async function mcpBench(base: string, server: Awaited<ReturnType<typeof startDevServer>>) {
  const signup = async (label: string) => {
    const res = await http(base, 'POST', '/v1/signup', { body: { email: `bench-mcp-${label}-${Date.now()}@example.com` } });
    if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
    const key = (res.body as { api_key: string }).api_key;
    const me = (await http(base, 'GET', '/v1/agent/me', { key })).body as { account: { id: string }; agent: { id: string } };
    return { key, accountId: me.account.id, agentId: me.agent.id };
  };
  const lister = await signup('list');
  await seedTasks(base, lister.key, 100);
  const claimer = await signup('claim');
  // Seeded in D1 directly (tens of thousands through the API would take minutes); the claim reads D1 only.
  process.stdout.write(`seeding ${MCP_CLAIM_TASKS} tasks for claim_task...\n`);
  const stamp = new Date().toISOString();
  server.query(`insert into tasks (id, account_id, root_task_id, content, priority, created_by_agent_id, created_at, updated_at)
    with recursive n(i) as (select 1 union all select i + 1 from n where i < ${MCP_CLAIM_TASKS})
    select 'tsk_mcpbench' || i, '${claimer.accountId}', 'tsk_mcpbench' || i, 'Bench task ' || i, (i % 4) + 1, '${claimer.agentId}', '${stamp}', '${stamp}' from n`);

  const calls = {
    list: { name: 'tools/call list_tasks (100 tasks)', key: lister.key, body: toolCall('list_tasks', {}) },
    claim: { name: 'tools/call claim_task', key: claimer.key, body: toolCall('claim_task', { lease_seconds: 3600 }) },
  };
  /** The same work over REST, for what MCP adds (not a target). */
  const rest = {
    list: {
      name: 'REST: GET /v1/tasks (100 tasks)',
      path: '/v1/tasks',
      method: 'GET' as const,
      headers: { 'X-Agent-Key': lister.key },
      body: undefined,
    },
    claim: {
      name: 'REST: POST /v1/tasks/claim',
      path: '/v1/tasks/claim',
      method: 'POST' as const,
      headers: { 'X-Agent-Key': claimer.key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ lease_seconds: 3600 }),
    },
  };
  const d1 = async (call: { key: string; body: string }) => {
    const res = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'X-Agent-Key': call.key, 'X-D1-Metrics': '1' },
      body: call.body,
    });
    await res.text();
    return res.headers.get('X-D1-Round-Trips') ?? '?';
  };
  const d1Counts = {
    list: await d1(calls.list),
    claim: await d1(calls.claim),
    health: (await fetch(`${base}/health`, { headers: { 'X-D1-Metrics': '1' } })).headers.get('X-D1-Round-Trips') ?? '?',
  };

  const health: McpSample[] = [];
  const sampled: Record<'list' | 'claim' | 'restList' | 'restClaim', McpSample[]> = { list: [], claim: [], restList: [], restClaim: [] };
  for (let round = 0; round < ROUNDS; round++) {
    health.push(await mcpLoad(base, { path: '/health' }));
    for (const which of ['list', 'claim'] as const) {
      const call = calls[which];
      const s = await mcpLoad(base, {
        path: '/mcp',
        method: 'POST',
        headers: { ...MCP_HEADERS, 'X-Agent-Key': call.key },
        body: call.body,
      });
      sampled[which].push(s);
      process.stdout.write(
        `${call.name} @${MCP_CONNECTIONS}: ${s.rps.toFixed(0)} req/s (health ${health.at(-1)!.rps.toFixed(0)}) p99 ${s.p99} ms failures ${s.failures}${which === 'claim' ? ` claimed ${s.claimed}` : ''} CPU ${fixed(s.cpu, 2)} ms\n`,
      );
      const r = await mcpLoad(base, rest[which]);
      sampled[which === 'list' ? 'restList' : 'restClaim'].push(r);
      process.stdout.write(
        `${rest[which].name} @${MCP_CONNECTIONS}: ${r.rps.toFixed(0)} req/s p99 ${r.p99} ms CPU ${fixed(r.cpu, 2)} ms\n`,
      );
    }
  }
  const fold = (name: string, list: McpSample[], d1Count: string): McpRow => ({
    name,
    d1: d1Count,
    rps: median(list.map((s) => s.rps)),
    p50: median(list.map((s) => s.p50)),
    p99: median(list.map((s) => s.p99)),
    requests: list.reduce((n, s) => n + s.requests, 0),
    failures: list.reduce((n, s) => n + s.failures, 0),
    claimed: list.reduce((n, s) => n + s.claimed, 0),
    cpu: medianOrNull(list.map((s) => s.cpu)),
  });
  mcpRows.push(
    fold('GET /health', health, d1Counts.health),
    fold(calls.list.name, sampled.list, d1Counts.list),
    fold(calls.claim.name, sampled.claim, d1Counts.claim),
  );
  mcpRows.push(fold(rest.list.name, sampled.restList, '-'), fold(rest.claim.name, sampled.restClaim, '-'));

  // From D1: every claim the clients counted holds its own task (warm-ups claimed too, so at least as many).
  const held =
    server.query<{ n: number }>(`select count(*) as n from tasks where account_id = '${claimer.accountId}' and status = 'claimed'`)[0]?.n ??
    0;
  const twice =
    server.query<{ n: number }>(
      `select count(*) as n from (select task_id from runs where account_id = '${claimer.accountId}' group by task_id having count(*) > 1)`,
    )[0]?.n ?? 0;
  const claimRow = mcpRows[2]!;
  const check = (ok: boolean, text: string) => mcpChecks.push(`- ${ok ? 'met' : 'NOT met'}: ${text}`);
  check(
    claimRow.claimed > 0 && held >= claimRow.claimed + 1 && held < MCP_CLAIM_TASKS,
    `claim_task claimed real tasks: ${claimRow.claimed} timed calls returned a task, D1 holds ${held} claimed tasks of ${MCP_CLAIM_TASKS} (timed, warm-up, REST and round-trip count calls), the queue never ran dry`,
  );
  check(twice === 0, 'no task claimed twice (from D1)');
}

function mcpSection(): string[] {
  if (mcpRows.length === 0) return [];
  const health = mcpRows[0]!;
  const ratio = (a: number, b: number) => (b ? (a / b).toFixed(2) : '-');
  const tools = mcpRows.filter((r) => r.name.startsWith('tools/call'));
  return [
    '## MCP tool calls',
    '',
    `\`POST /mcp\` (stateless Streamable HTTP: each request one JSON-RPC \`tools/call\`, with \`Accept: application/json, text/event-stream\`, \`MCP-Protocol-Version\` and \`X-Agent-Key\`) at ${MCP_CONNECTIONS} connections, against \`GET /health\` measured in the same rounds (medians over ${ROUNDS} rounds). Failures: non-2xx, connection errors, JSON-RPC errors and tool errors, summed over the rounds. claim_task draws from ${MCP_CLAIM_TASKS} open tasks; "claimed" counts the answers that carried a task. The REST rows do the same work without MCP (the claims come from the same queue), to show what MCP adds; they are not targets.`,
    '',
    '| call | conns | req/s | x health | p50 ms | p99 ms | p99 x health | requests | failures | claimed | D1 | workerd CPU ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...mcpRows.map(
      (r) =>
        `| ${r.name} | ${MCP_CONNECTIONS} | ${r.rps.toFixed(0)} | ${ratio(r.rps, health.rps)} | ${r.p50} | ${r.p99} | ${ratio(r.p99, health.p99)} | ${r.requests} | ${r.failures} | ${r.name.includes('claim_task') ? r.claimed : '-'} | ${r.d1} | ${fixed(r.cpu, 2)} |`,
    ),
    '',
    ...tools.map(
      (r) =>
        `- ${r.rps >= 0.4 * health.rps ? 'met' : 'NOT met'}: ${r.name} at ${MCP_CONNECTIONS} connections reaches 40% of /health req/s (${ratio(r.rps, health.rps)})`,
    ),
    ...tools.map((r) => `- ${r.failures === 0 ? 'met' : 'NOT met'}: ${r.name} without failures (${r.failures})`),
    ...mcpChecks,
  ];
}

// ---------------------------------------------------------------------------------------------
// Many tenants and idle fleets (BENCH_ONLY=fleet). Options: BENCH_FLEET_TASKS (tasks seeded per
// layout and round, default 2000), BENCH_IDLE_CLAIMERS (default 1000), BENCH_IDLE_ACCOUNTS
// (default 50), BENCH_IDLE_WAKES (default 300: enough that p99 is not the single slowest), BENCH_IDLE_QUIET_SECONDS (default 15).

/** BENCH_ONLY=fleet runs both rows; fleet-tenants or fleet-idle one of them. */
const ONLY_FLEET = process.env.BENCH_ONLY?.startsWith('fleet') ?? false;
const FLEET_PART = process.env.BENCH_ONLY?.replace(/^fleet-?/, '') ?? '';
const FLEET_WORKERS = 32;
const FLEET_TASKS = Number(process.env.BENCH_FLEET_TASKS ?? 2000);
const IDLE_CLAIMERS = Number(process.env.BENCH_IDLE_CLAIMERS ?? 1000);
const IDLE_ACCOUNTS = Number(process.env.BENCH_IDLE_ACCOUNTS ?? 50);
/** The longest a claim may be held (the API's maximum): what a parked worker asks for. */
const IDLE_WAIT_SECONDS = 30;
const IDLE_WAKES = Number(process.env.BENCH_IDLE_WAKES ?? 300);
const IDLE_QUIET_SECONDS = Number(process.env.BENCH_IDLE_QUIET_SECONDS ?? 15);
/** How long the floor's polls run alone for their CPU figure. */
const FLOOR_SECONDS = 10;

/** D1 calls and statements per source (worker, ClaimQueue, KeyGate, ...) since the server started. */
type D1Tally = Record<string, { count: number; statements?: number }>;
interface D1Use {
  calls: number;
  statements: number;
}

/**
 * Under load, wrangler dev's proxy sometimes closes a kept-alive connection just as fetch reuses
 * it ("other side closed"): the fleet rows send such a request again (reads and setup; a
 * repeated create at worst adds one task, which no figure counts).
 */
async function again<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (e) {
      if (attempt >= 3 || !(e instanceof TypeError && /fetch failed/.test(e.message))) throw e;
    }
  }
}

const fleetHttp = (...args: Parameters<typeof http>) => again(() => http(...args));

async function d1Tally(base: string): Promise<D1Tally> {
  const res = await again(() => fetch(`${base}/__d1-metrics`));
  if (!res.ok) throw new Error(`/__d1-metrics answered ${res.status} (D1_METRICS=1 is needed)`);
  return (await res.json()) as D1Tally;
}

function d1Since(before: D1Tally, after: D1Tally): Record<string, D1Use> {
  const out: Record<string, D1Use> = {};
  for (const [source, a] of Object.entries(after)) {
    const b = before[source];
    out[source] = { calls: a.count - (b?.count ?? 0), statements: (a.statements ?? 0) - (b?.statements ?? 0) };
  }
  return out;
}

const d1Total = (use: Record<string, D1Use>): D1Use =>
  Object.values(use).reduce((t, u) => ({ calls: t.calls + u.calls, statements: t.statements + u.statements }), { calls: 0, statements: 0 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function newAccount(base: string, tag: string): Promise<{ key: string; accountId: string }> {
  const signup = await fleetHttp(base, 'POST', '/v1/signup', {
    body: { email: `bench-${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 10)}@example.com` },
  });
  if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${JSON.stringify(signup.body)}`);
  const key = (signup.body as { api_key: string }).api_key;
  const me = await fleetHttp(base, 'GET', '/v1/agent/me', { key });
  if (me.status !== 200) throw new Error(`agent/me failed: ${me.status} ${JSON.stringify(me.body)}`);
  return { key, accountId: (me.body as { account: { id: string } }).account.id };
}

async function newAccounts(base: string, tag: string, count: number) {
  const list: { key: string; accountId: string }[] = [];
  await pool(
    Array.from({ length: count }, (_, i) => i),
    8,
    async () => void list.push(await newAccount(base, tag)),
  );
  return list;
}

async function newWorkerKeys(base: string, adminKey: string, count: number): Promise<string[]> {
  const keys: string[] = [];
  await pool(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      const res = await fleetHttp(base, 'POST', '/v1/agents', { key: adminKey, body: { name: `worker-${i}`, role: 'worker' } });
      if (res.status !== 201) throw new Error(`agent create failed: ${res.status} ${JSON.stringify(res.body)}`);
      keys.push((res.body as { api_key: string }).api_key);
    },
  );
  return keys;
}

/** GET /health at 32 connections: req/s and workerd CPU per request. */
async function healthAt32(base: string): Promise<{ rps: number; cpu: number | null }> {
  const run = (duration: number) => autocannon({ url: `${base}/health`, connections: 32, duration });
  if (WARMUP > 0) await run(WARMUP);
  const cpuBefore = workerdCpuMs();
  const result = await run(SECONDS);
  return { rps: result.requests.average, cpu: cpuPer(cpuBefore, result.requests.total) };
}

interface TenantsSample {
  accounts: number;
  tasksPerSec: number;
  /** workerd CPU ms per task. */
  cpu: number | null;
  /** D1 per task, by source. */
  d1: Record<string, D1Use>;
  doubleClaims: number;
  /** Workers that found their queue empty before the window ended (the seed was too small). */
  ranDry: number;
}

/**
 * FLEET_WORKERS claim-and-complete workers, each with its own key, for SECONDS: all in one
 * account (`accounts` = 1) or one per account (`accounts` = FLEET_WORKERS). A fixed window rather
 * than a drained queue, so neither layout is judged by its slowest worker's tail. Fresh
 * accounts each time; D1 is checked afterwards: one run per claimed task, each one completed.
 */
async function tenantsRun(base: string, server: Awaited<ReturnType<typeof startDevServer>>, accounts: number): Promise<TenantsSample> {
  let keys: string[];
  let adminKeys: string[];
  let accountIds: string[];
  if (accounts === 1) {
    const one = await newAccount(base, 'tenants-one');
    keys = [one.key, ...(await newWorkerKeys(base, one.key, FLEET_WORKERS - 1))];
    adminKeys = [one.key];
    accountIds = [one.accountId];
  } else {
    const many = await newAccounts(base, 'tenants-many', accounts);
    keys = adminKeys = many.map((a) => a.key);
    accountIds = many.map((a) => a.accountId);
  }
  await pool(
    Array.from({ length: FLEET_TASKS }, (_, i) => i),
    32,
    async (i) => {
      const res = await fleetHttp(base, 'POST', '/v1/tasks', {
        key: adminKeys[i % adminKeys.length]!,
        body: { content: `Fleet task ${i}`, labels: ['queue'], priority: (i % 4) + 1 },
      });
      if (res.status !== 201) throw new Error(`seed failed: ${res.status}`);
    },
  );
  const seen = new Map<string, number>();
  let completed = 0;
  let ranDry = 0;
  const tallyBefore = await d1Tally(base);
  const cpuBefore = workerdCpuMs();
  const started = performance.now();
  const stopAt = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: FLEET_WORKERS }, async (_, w) => {
      const key = keys[w % keys.length]!;
      while (performance.now() < stopAt) {
        const res = await postJson(base, '/v1/tasks/claim', key, { labels: ['queue'], lease_seconds: 60 });
        if (res.status !== 200) throw new Error(`claim failed: ${res.status} ${JSON.stringify(res.body)}`);
        const task = (res.body as { task: { id: string } | null }).task;
        if (!task) {
          ranDry++;
          break;
        }
        seen.set(task.id, (seen.get(task.id) ?? 0) + 1);
        const done = await postJson(base, `/v1/tasks/${task.id}/complete`, key);
        if (done.status !== 200) throw new Error(`complete failed: ${done.status} ${JSON.stringify(done.body)}`);
        completed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuPer(cpuBefore, completed);
  const used = d1Since(tallyBefore, await d1Tally(base));
  const d1: Record<string, D1Use> = {};
  for (const [source, u] of Object.entries(used)) d1[source] = { calls: u.calls / completed, statements: u.statements / completed };
  const inAccounts = accountIds.map((id) => `'${id}'`).join(', ');
  const twice = server.query<{ n: number }>(
    `select count(*) as n from (select task_id from runs where account_id in (${inAccounts}) group by task_id having count(*) > 1)`,
  );
  const done = server.query<{ n: number }>(`select count(*) as n from tasks where account_id in (${inAccounts}) and completed = 1`);
  if (done[0]?.n !== completed) throw new Error(`D1 shows ${done[0]?.n} completed tasks, the workers completed ${completed}`);
  const doubleClaims = [...seen.values()].filter((n) => n > 1).length + (twice[0]?.n ?? 0);
  return { accounts, tasksPerSec: completed / seconds, cpu, d1, doubleClaims, ranDry };
}

interface TenantsRound {
  health: { rps: number; cpu: number | null };
  one: TenantsSample;
  many: TenantsSample;
}
const tenantsRounds: TenantsRound[] = [];

interface IdleResult {
  without: number[];
  withFleet: number[];
  parked: number;
  /** Claim answers that came back while the fleet idled (held claims reaching their deadline), per second. */
  repollsPerSec: number;
  quiet: Record<string, D1Use>;
  /** workerd CPU ms per second over the quiet interval (the fleet alone), and per claim answered meanwhile. */
  quietCpuPerSec: number | null;
  quietCpuPerPoll: number | null;
  /** workerd CPU ms per GET /health request (without the fleet). */
  healthCpu: number | null;
  wakeMs: number[];
  lostWakes: number;
  errors: number;
  /** The same keys at the same rate without holding: what the re-polls alone cost. */
  floor: FloorResult;
  /** `GET /health` itself at the same rate: what any request that often costs this server. */
  healthFloor: FloorResult;
}
let idleResult: IdleResult | null = null;

/**
 * IDLE_CLAIMERS workers (each its own key) over IDLE_ACCOUNTS accounts long-poll for a label
 * nobody creates tasks with, each coming straight back when its hold ends, as a parked worker
 * does; they start spread over one hold, so they come back spread out too. Measured: /health
 * with and without them, D1 statements over a quiet interval, and how soon a created task is
 * answered to one of them.
 */
async function idleFleet(base: string): Promise<IdleResult> {
  const accounts = await newAccounts(base, 'idle', IDLE_ACCOUNTS);
  const perAccount = Math.ceil(IDLE_CLAIMERS / IDLE_ACCOUNTS);
  const claimers: string[] = [];
  for (const a of accounts) claimers.push(...(await newWorkerKeys(base, a.key, Math.min(perAccount, IDLE_CLAIMERS - claimers.length))));
  process.stdout.write(`idle fleet: ${claimers.length} claimers over ${accounts.length} accounts\n`);

  const without: number[] = [];
  const withFleet: number[] = [];
  const healthCpus: (number | null)[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const h = await healthAt32(base);
    without.push(h.rps);
    healthCpus.push(h.cpu);
  }

  const parking = new Agent({ keepAlive: true });
  const createdAt = new Map<string, number>();
  const answered = new Map<string, (ms: number) => void>();
  let stopping = false;
  let polls = 0;
  let errors = 0;
  let parked = 0;
  const loops = claimers.map(async (key) => {
    await sleep(Math.random() * IDLE_WAIT_SECONDS * 1000);
    parked++;
    while (!stopping) {
      let res;
      try {
        res = await postJson<{ task: { id: string; content: string } | null }>(
          base,
          '/v1/tasks/claim',
          key,
          { labels: ['idle'], wait_seconds: IDLE_WAIT_SECONDS, lease_seconds: 60 },
          { agent: parking },
        );
      } catch (e) {
        if (!stopping) errors++;
        if (!stopping) process.stdout.write(`parked claim failed: ${String(e)}\n`);
        break;
      }
      polls++;
      if (res.status !== 200) {
        errors++;
        continue;
      }
      const task = res.body.task;
      if (!task) continue;
      const t0 = createdAt.get(task.content);
      if (t0 !== undefined) answered.get(task.content)?.(performance.now() - t0);
      const done = await postJson(base, `/v1/tasks/${task.id}/complete`, key);
      if (done.status !== 200) errors++;
    }
  });
  // Every claimer parked, plus a moment.
  await sleep(IDLE_WAIT_SECONDS * 1000 + 2000);
  const pollsBefore = polls;
  const pollStart = performance.now();
  for (let round = 0; round < ROUNDS; round++) withFleet.push((await healthAt32(base)).rps);

  const tallyBefore = await d1Tally(base);
  const quietCpuBefore = workerdCpuMs();
  const quietPollsBefore = polls;
  await sleep(IDLE_QUIET_SECONDS * 1000);
  const quietCpu = cpuPer(quietCpuBefore, IDLE_QUIET_SECONDS);
  const quietCpuPerPoll = cpuPer(quietCpuBefore, polls - quietPollsBefore);
  const quiet = d1Since(tallyBefore, await d1Tally(base));
  const repollsPerSec = (polls - pollsBefore) / ((performance.now() - pollStart) / 1000);

  const wakeMs: number[] = [];
  // Which wake-ups were slow, and how much of it the create's own answer took.
  const slowest: { n: number; ms: number; createMs: number }[] = [];
  let lostWakes = 0;
  for (let n = 0; n < IDLE_WAKES; n++) {
    const account = accounts[n % accounts.length]!;
    const content = `wake-${n}`;
    const got = new Promise<number | null>((resolve) => {
      answered.set(content, resolve);
      setTimeout(() => resolve(null), 5000);
    });
    const sentAt = performance.now();
    createdAt.set(content, sentAt);
    const res = await fleetHttp(base, 'POST', '/v1/tasks', { key: account.key, body: { content, labels: ['idle'] } });
    if (res.status !== 201) throw new Error(`wake task create failed: ${res.status}`);
    const createMs = performance.now() - sentAt;
    const ms = await got;
    if (ms === null) lostWakes++;
    else {
      wakeMs.push(ms);
      slowest.push({ n, ms, createMs });
    }
    await sleep(20);
  }

  stopping = true;
  process.stdout.write(
    `wake ms, slowest ten (create n: wake ms, of which the create's answer): ${slowest
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 10)
      .map((x) => `#${x.n}: ${x.ms.toFixed(0)} (${x.createMs.toFixed(0)})`)
      .join(', ')}\n`,
  );
  parking.destroy();
  await Promise.all(loops);
  for (let round = 0; round < ROUNDS; round++) without.push((await healthAt32(base)).rps);
  const floor = await instantPolls(base, claimers, repollsPerSec, '/v1/capabilities');
  const healthFloor = await instantPolls(base, claimers, repollsPerSec, '/health');
  return {
    floor,
    healthFloor,
    without,
    withFleet,
    parked,
    repollsPerSec,
    quiet,
    quietCpuPerSec: quietCpu,
    quietCpuPerPoll,
    healthCpu: medianOrNull(healthCpus),
    wakeMs: wakeMs.sort((a, b) => a - b),
    lostWakes,
    errors,
  };
}

interface FloorResult {
  /** GET /health req/s (32 connections) while the keys poll, one per round. */
  withPolls: number[];
  /** workerd CPU ms per second of the polls alone, and per poll. */
  cpuPerSec: number | null;
  cpuPerPoll: number | null;
  errors: number;
}

/**
 * The fleet's keys at the fleet's re-poll rate, round robin, each making a request that returns
 * at once: `GET /v1/capabilities` (authenticated; it needs only the key's gate: no D1, no claim
 * queue, though its answer is the whole authorisation table, larger than an empty claim's), or
 * `GET /health` (no key; one D1 query), the bench's own reference. What that many requests that
 * often cost before any claim. Not instant claims: an instant claim that finds nothing reads D1
 * (creates only tell the claim queue while someone waits).
 */
async function instantPolls(base: string, keys: string[], perSec: number, path: '/v1/capabilities' | '/health'): Promise<FloorResult> {
  const agent = new Agent({ keepAlive: true });
  let next = 0;
  let polls = 0;
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const key = keys[next++ % keys.length]!;
    const call = getJson(base, path, key, { agent }).then(
      (res) => void (res.status === 200 ? polls++ : errors++),
      () => void errors++,
    );
    inFlight.add(call);
    void call.finally(() => inFlight.delete(call));
  }, 1000 / perSec);
  try {
    await sleep(2000);
    const cpuBefore = workerdCpuMs();
    const pollsBefore = polls;
    await sleep(FLOOR_SECONDS * 1000);
    const cpuPerSec = cpuPer(cpuBefore, FLOOR_SECONDS);
    const cpuPerPoll = cpuPer(cpuBefore, polls - pollsBefore);
    const withPolls: number[] = [];
    for (let round = 0; round < ROUNDS; round++) withPolls.push((await healthAt32(base)).rps);
    return { withPolls, cpuPerSec, cpuPerPoll, errors };
  } finally {
    clearInterval(timer);
    await Promise.all(inFlight);
    agent.destroy();
  }
}

async function fleetBench(base: string, server: Awaited<ReturnType<typeof startDevServer>>) {
  for (let round = 0; round < (FLEET_PART === 'idle' ? 0 : ROUNDS); round++) {
    const health = await healthAt32(base);
    // Alternate which layout goes first, so neither always runs on the warmer (or busier) server.
    const first = await tenantsRun(base, server, round % 2 === 0 ? 1 : FLEET_WORKERS);
    const second = await tenantsRun(base, server, round % 2 === 0 ? FLEET_WORKERS : 1);
    const [one, many] = first.accounts === 1 ? [first, second] : [second, first];
    tenantsRounds.push({ health, one, many });
    process.stdout.write(
      `tenants round ${round + 1}: /health ${health.rps.toFixed(0)} req/s; 1 account x ${FLEET_WORKERS}: ${one.tasksPerSec.toFixed(1)} tasks/s; ${FLEET_WORKERS} accounts x 1: ${many.tasksPerSec.toFixed(1)} tasks/s (${(many.tasksPerSec / one.tasksPerSec).toFixed(2)}x)\n`,
    );
  }
  if (FLEET_PART !== 'tenants') idleResult = await idleFleet(base);
}

const d1Cell = (d1: Record<string, D1Use>, source: string) => {
  const u = d1[source];
  return u ? `${u.calls.toFixed(2)} / ${u.statements.toFixed(1)}` : '0 / 0';
};

function fleetSection(): string[] {
  const out: string[] = [];
  if (tenantsRounds.length > 0) {
    const ratios = tenantsRounds.map((r) => r.many.tasksPerSec / r.one.tasksPerSec);
    const ratio = median(ratios);
    const row = (label: string, pick: (r: TenantsRound) => TenantsSample) => {
      const samples = tenantsRounds.map(pick);
      const mid = samples.find((s) => s.tasksPerSec === median(samples.map((x) => x.tasksPerSec)))!;
      const h = median(tenantsRounds.map((r) => r.health.rps));
      const hCpu = medianOrNull(tenantsRounds.map((r) => r.health.cpu));
      const cpu = medianOrNull(samples.map((s) => s.cpu));
      return `| ${label} | ${mid.tasksPerSec.toFixed(1)} | ${(mid.tasksPerSec / h).toFixed(2)} | ${fixed(cpu, 2)} | ${cpu !== null && hCpu ? (cpu / hCpu).toFixed(2) : '-'} | ${d1Cell(mid.d1, 'worker')} | ${d1Cell(mid.d1, 'KeyGate')} | ${d1Cell(mid.d1, 'ClaimQueue')} | ${samples.reduce((n, s) => n + s.doubleClaims, 0)} | ${samples.reduce((n, s) => n + s.ranDry, 0)} |`;
    };
    out.push(
      '## Many tenants',
      '',
      `${FLEET_WORKERS} claim-and-complete workers, each with its own key, for ${SECONDS} s: all in one account, or each in an account of its own (fresh accounts, ${FLEET_TASKS} tasks seeded per layout and round; the layouts alternate which goes first). tasks/s x health divides by \`GET /health\` req/s at 32 connections measured just before, in the same round. CPU is workerd's per task, and in /health requests. D1 is calls / statements per task by who sent them (the Worker itself, the key gates, the claim queues). Double claims by the clients and from D1 (tasks with more than one claim run), summed over the rounds. Ran dry: workers that found their queue empty before the window ended (the seed was too small; should be 0). Rows are the medians over ${tenantsRounds.length} rounds; the ratio is the median of the per-round ratios (per round: ${ratios.map((x) => x.toFixed(2)).join(', ')}).`,
      '',
      '| layout | tasks/s | tasks/s x health | workerd CPU ms per task | CPU: health requests per task | D1 worker | D1 key gates | D1 claim queues | double claims | ran dry |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      row(`1 account x ${FLEET_WORKERS} workers`, (r) => r.one),
      row(`${FLEET_WORKERS} accounts x 1 worker`, (r) => r.many),
      '',
      `- ${ratio >= 0.9 ? 'met' : 'NOT met'}: ${FLEET_WORKERS} accounts x 1 worker reach 0.9x of 1 account x ${FLEET_WORKERS} workers in tasks/s (${ratio.toFixed(2)}x)`,
      `- ${tenantsRounds.every((r) => r.one.doubleClaims + r.many.doubleClaims === 0) ? 'met' : 'NOT met'}: no double claims in either layout, by the clients and by D1`,
      '',
    );
  }
  const idle = idleResult;
  if (idle) {
    const without = median(idle.without);
    const withFleet = median(idle.withFleet);
    const cost = 1 - withFleet / without;
    // /health is not the fleet's: something outside the bench probes it now and then.
    const quietTotal = d1Total(Object.fromEntries(Object.entries(idle.quiet).filter(([source]) => source !== 'health')));
    const claimPath = ['worker', 'ClaimQueue'].reduce((n, s) => n + (idle.quiet[s]?.statements ?? 0), 0);
    const p50 = percentile(idle.wakeMs, 50);
    const p99 = percentile(idle.wakeMs, 99);
    const floorCost = (floor: FloorResult) => `${((1 - median(floor.withPolls) / without) * 100).toFixed(1)}%`;
    // CPU a second in dense /health requests' worth, and that as a share of /health's rate without the fleet.
    const inHealth = (cpuPerSec: number | null) =>
      cpuPerSec !== null && idle.healthCpu
        ? `${(cpuPerSec / idle.healthCpu).toFixed(0)} (${((cpuPerSec / idle.healthCpu / without) * 100).toFixed(1)}%)`
        : '-';
    const floorCpu = (floor: FloorResult) =>
      `${fixed(floor.cpuPerSec, 1)} ms/s of workerd CPU (${fixed(floor.cpuPerPoll, 2)} per request; ${inHealth(floor.cpuPerSec)} /health requests' worth a second; ${floor.errors} errors)`;
    out.push(
      '## Idle fleet',
      '',
      `${idle.parked} long-poll claimers (each its own key) over ${IDLE_ACCOUNTS} accounts, each holding \`POST /v1/tasks/claim\` with \`wait_seconds: ${IDLE_WAIT_SECONDS}\` for a label no task has and coming straight back when its hold ends (started spread over one hold, so ${idle.repollsPerSec.toFixed(1)} come back per second). \`GET /health\` at 32 connections without them (${ROUNDS} rounds before and ${ROUNDS} after) and with them parked (${ROUNDS} rounds), medians. D1 over ${IDLE_QUIET_SECONDS} quiet seconds (nothing created or changed), by who sent it (\`GET /health\` requests that arrive meanwhile, not the bench's, are counted apart). The fleet's workerd CPU over the quiet interval (nothing else runs then) is also given per second and per claim answered, and in \`GET /health\` requests' worth of CPU per second (a dense /health's CPU, measured without the fleet), with that as a share of /health's rate without the fleet: the cost in CPU, which moves less with the machine's other load than the throughput ratio does. Then ${IDLE_WAKES} tasks are created one at a time, across the accounts: wake latency is from sending the create to the parked claimer receiving the task.`,
      '',
      '| /health req/s without | with the fleet parked | cost | D1 in the quiet interval: worker / key gates / claim queues (calls, statements) | /health probes meanwhile (D1 calls) | fleet workerd CPU ms/s (per answered claim) | the same in /health requests per second (share of /health req/s without) | wake p50 ms | wake p99 ms | wakes lost | errors |',
      '| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${without.toFixed(0)} | ${withFleet.toFixed(0)} | ${(cost * 100).toFixed(1)}% | ${['worker', 'KeyGate', 'ClaimQueue'].map((s) => `${idle.quiet[s]?.calls ?? 0}, ${idle.quiet[s]?.statements ?? 0}`).join(' / ')} | ${idle.quiet.health?.calls ?? 0} | ${fixed(idle.quietCpuPerSec, 1)} (${fixed(idle.quietCpuPerPoll, 2)}) | ${inHealth(idle.quietCpuPerSec)} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${idle.lostWakes} | ${idle.errors} |`,
      '',
      `- ${cost <= 0.1 ? 'met' : 'NOT met'}: the parked fleet costs at most 10% of /health throughput (${(cost * 100).toFixed(1)}%; per round without: ${idle.without.map((x) => x.toFixed(0)).join(', ')}; with: ${idle.withFleet.map((x) => x.toFixed(0)).join(', ')})`,
      `- ${quietTotal.statements === 0 ? 'met' : 'NOT met'}: no D1 statements while nothing changes (${quietTotal.statements} in ${IDLE_QUIET_SECONDS} s; the claim path: ${claimPath})`,
      `- ${idle.lostWakes === 0 && p99 <= 100 ? 'met' : 'NOT met'}: a created task reaches a parked claimer within 100 ms at p99 (${p99.toFixed(1)} ms, ${idle.lostWakes} lost)`,
      `- the floor, not a target: the same ${idle.parked} keys coming back at the same ${idle.repollsPerSec.toFixed(1)} a second with an authenticated request that needs only the key gate (\`GET /v1/capabilities\`: no D1, no claim queue; its answer is the whole authorisation table) cost ${floorCost(idle.floor)} of /health throughput (per round with them: ${idle.floor.withPolls.map((x) => x.toFixed(0)).join(', ')}), ${floorCpu(idle.floor)}. The parked fleet's cost beyond this is its claims and holds.`,
      `- the server's floor, not a target: \`GET /health\` itself, sent as often (${idle.repollsPerSec.toFixed(1)} a second, no key), cost ${floorCost(idle.healthFloor)} of /health throughput (per round with them: ${idle.healthFloor.withPolls.map((x) => x.toFixed(0)).join(', ')}), ${floorCpu(idle.healthFloor)}. A request that arrives alone costs this server several times what one in a dense stream does (the dense /health's ${fixed(idle.healthCpu, 2)} ms), whatever it asks: that much of the fleet's cost is the rate of its requests, not what they do.`,
      '',
    );
  }
  return out;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
