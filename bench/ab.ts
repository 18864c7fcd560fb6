/**
 * `npm run bench:ab -- <git ref>`: this checkout (A) against the code at <ref> (B), in one run.
 * Both are served by `wrangler dev` side by side (B from a temporary git worktree sharing this
 * checkout's node_modules), each with fresh local state in memory, and every row runs on both,
 * the order alternating by round, so the machine's load falls on both alike. A row's figures are
 * the medians over the rounds; CPU is that server's process group per request (or per task), the
 * figure the machine's other load moves least. Prints a table; RESULTS.md is left as it is.
 * `npm run bench:ab -- <ref B> <ref A>` serves A from <ref A> too, to place a cost between two commits.
 * Options: BENCH_SECONDS (default 4), BENCH_ROUNDS (default 3), BENCH_WARMUP_SECONDS (default 1),
 * AB_ROWS (comma-separated parts of row names to run, e.g. `tasks (100,label`; `claim` for claim+complete; `GET /health`
 * always runs). Each row is also given as the bench figures it (ratios to `GET /health` on the same side and round), A over B.
 *
 * `AB_MEASURE=instructions` counts instructions instead of timing (needs valgrind): each server's two
 * workerd processes run under callgrind (`bench/callgrind-workerd.sh`), and each row sends
 * AB_REQUESTS (default 40) requests one at a time, after AB_WARMUP_REQUESTS (default 100) unmeasured
 * ones in the first round, on both sides at once. A row's figure is the instructions a request cost the runtime process (the
 * Worker, its Durable Objects and the local D1) and wrangler's proxy in front of it. Other load on
 * the machine does not move a count; what still moves it is the work V8 does when it likes (garbage
 * collection, compiling), so take medians over rounds.
 */
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type DevServer, http, startDevServer } from '../test/e2e/harness.ts';
import { postJson } from './keep-alive-client.ts';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const CONNECTIONS = 32;
const CLAIM_WORKERS = 8;
const CLAIM_TASKS = 400;
const STATE_DIR = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
/** Linux reports process CPU in clock ticks of 1/100 s. */
const CLOCK_TICKS = 100;
/** The workerd binary wrangler runs, which `bench/callgrind-workerd.sh` runs under valgrind instead. */
const workerdBinary = (createRequire(import.meta.url)('workerd') as { default: string }).default;
const MEASURE = process.env.AB_MEASURE === 'instructions' ? 'instructions' : 'time';
const REQUESTS = Number(process.env.AB_REQUESTS ?? 40);
/** Unmeasured requests a row sends in the first round: V8 has compiled the hot code by then. */
const WARMUP_REQUESTS = Number(process.env.AB_WARMUP_REQUESTS ?? 100);
const ROW_FILTER = process.env.AB_ROWS?.split(',').map((part) => part.trim().toLowerCase());
const wanted = (row: string) => !ROW_FILTER || row === HEALTH_ROW || ROW_FILTER.some((part) => row.toLowerCase().includes(part));

/** The processes of the server's process group (wrangler, its proxy and workerd), with their /proc stat fields. */
function groupProcesses(server: DevServer): { pid: number; fields: string[] }[] {
  const group = server.processGroup();
  if (!group || !existsSync('/proc/self/stat')) return [];
  const found: { pid: number; fields: string[] }[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === group) found.push({ pid: Number(pid), fields });
    } catch {
      // The process ended meanwhile.
    }
  }
  return found;
}

/** CPU ms of every process in the server's process group, from /proc. */
function groupCpuMs(server: DevServer): number | null {
  const processes = groupProcesses(server);
  if (processes.length === 0) return null;
  return processes.reduce((total, { fields }) => total + ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS, 0);
}

/** A server's workerd processes under callgrind: the runtime (the Worker, its Durable Objects, the local D1) and the proxy. */
interface Counted {
  runtime: number;
  proxy: number;
}

/** Finds the server's two workerd processes and turns counting on in them. */
function startCounting(server: DevServer): Counted {
  const counted = { runtime: 0, proxy: 0 };
  for (const { pid } of groupProcesses(server)) {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!args[0]?.includes('valgrind')) continue;
    // wrangler's proxy listens on the server's port; the runtime behind it on one of its own.
    if (args.includes(`--socket-addr=entry=127.0.0.1:${server.port}`)) counted.proxy = pid;
    else if (args.some((a) => a.startsWith('--socket-addr=entry='))) counted.runtime = pid;
  }
  if (!counted.runtime || !counted.proxy) throw new Error(`workerd under callgrind not found: ${JSON.stringify(counted)}`);
  for (const pid of [counted.runtime, counted.proxy]) execFileSync('callgrind_control', ['-i', 'on', String(pid)], { stdio: 'ignore' });
  return counted;
}

/** Instructions each process ran since the last call (callgrind's counters are dumped, read and zeroed). */
function takeCounts(counted: Counted, dir: string): Counted {
  const read = (pid: number) => {
    execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
    const dumps = readdirSync(dir).filter((f) => f.startsWith(`callgrind.${pid}.`));
    const newest = dumps.sort((x, y) => Number(y.split('.').pop()) - Number(x.split('.').pop()))[0];
    if (!newest) throw new Error(`no callgrind dump of ${pid}`);
    const totals = /^totals: (\d+)/m.exec(readFileSync(join(dir, newest), 'utf8'));
    for (const f of dumps) rmSync(join(dir, f));
    if (!totals) throw new Error(`no totals in callgrind dump ${newest}`);
    return Number(totals[1]);
  };
  return { runtime: read(counted.runtime), proxy: read(counted.proxy) };
}

interface Sample {
  rps: number;
  p99: number;
  /** CPU ms a request; with AB_MEASURE=instructions, the runtime's millions of instructions a request. */
  cpu: number | null;
  /** With AB_MEASURE=instructions: the proxy's millions of instructions a request. */
  proxy?: number;
}

interface Side {
  label: string;
  server: DevServer;
  key: string;
  writerKey: string;
  taskId: string;
  samples: Map<string, Sample[]>;
  counted?: Counted;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!;
};

async function signup(base: string, tag: string): Promise<string> {
  const res = await http(base, 'POST', '/v1/signup', {
    body: { email: `ab-${tag}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com` },
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { api_key: string }).api_key;
}

async function createTasks(base: string, key: string, count: number, labels: string[]): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        const i = next++;
        const res = await http(base, 'POST', '/v1/tasks', { key, body: { content: `A/B task ${i}`, priority: (i % 4) + 1, labels } });
        if (res.status !== 201) throw new Error(`seed failed: ${res.status} ${JSON.stringify(res.body)}`);
        ids.push((res.body as { id: string }).id);
      }
    }),
  );
  return ids;
}

async function prepare(label: string, server: DevServer): Promise<Side> {
  const base = server.baseUrl;
  const key = await signup(base, label);
  const ids = await createTasks(base, key, 100, ['bench']);
  return { label, server, key, writerKey: await signup(base, `${label}-writer`), taskId: ids[0]!, samples: new Map() };
}

interface Endpoint {
  name: string;
  request: (side: Side) => { method?: string; path: string; key?: string; body?: unknown };
}

/** Every row is also given as a ratio to this one (the bench's figures), so it runs whatever AB_ROWS says. */
const HEALTH_ROW = 'GET /health';

const ENDPOINTS: Endpoint[] = [
  { name: HEALTH_ROW, request: () => ({ path: '/health' }) },
  { name: 'GET /v1/tasks (100 tasks)', request: (s) => ({ path: '/v1/tasks', key: s.key }) },
  { name: 'GET /v1/tasks?label=bench', request: (s) => ({ path: '/v1/tasks?label=bench', key: s.key }) },
  { name: 'GET /v1/tasks/{id}', request: (s) => ({ path: `/v1/tasks/${s.taskId}`, key: s.key }) },
  {
    name: 'PATCH /v1/tasks/{id}/context',
    request: (s) => ({ method: 'PATCH', path: `/v1/tasks/${s.taskId}/context`, key: s.key, body: { step: 'ab' } }),
  },
  {
    name: 'POST /v1/tasks',
    request: (s) => ({ method: 'POST', path: '/v1/tasks', key: s.writerKey, body: { content: 'A/B task', labels: ['ab'] } }),
  },
];

function record(side: Side, row: string, sample: Sample) {
  if (!side.samples.has(row)) side.samples.set(row, []);
  side.samples.get(row)!.push(sample);
}

async function loadEndpoint(side: Side, endpoint: Endpoint) {
  const r = endpoint.request(side);
  const headers: Record<string, string> = {};
  if (r.key) headers['X-Agent-Key'] = r.key;
  if (r.body !== undefined) headers['Content-Type'] = 'application/json';
  const run = (duration: number) =>
    autocannon({
      url: side.server.baseUrl + r.path,
      method: (r.method ?? 'GET') as 'GET',
      headers,
      body: r.body === undefined ? undefined : JSON.stringify(r.body),
      connections: CONNECTIONS,
      duration,
    });
  if (WARMUP > 0) await run(WARMUP);
  const before = groupCpuMs(side.server);
  const result = await run(SECONDS);
  const after = groupCpuMs(side.server);
  if (result.non2xx + result.errors > 0)
    throw new Error(`${side.label} ${endpoint.name}: ${result.non2xx + result.errors} failed requests`);
  record(side, endpoint.name, {
    rps: result.requests.average,
    p99: result.latency.p99,
    cpu: before === null || after === null ? null : (after - before) / result.requests.total,
  });
}

/** AB_MEASURE=instructions: the row's requests one at a time, counted in both workerd processes. */
async function countEndpoint(side: Side, endpoint: Endpoint, { warmup, dir }: { warmup: number; dir: string }) {
  const r = endpoint.request(side);
  const send = async () => {
    const res = await http(side.server.baseUrl, r.method ?? 'GET', r.path, { key: r.key, body: r.body });
    if (res.status >= 300) throw new Error(`${side.label} ${endpoint.name}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  for (let i = 0; i < warmup; i++) await send();
  takeCounts(side.counted!, dir);
  for (let i = 0; i < REQUESTS; i++) await send();
  const counts = takeCounts(side.counted!, dir);
  record(side, endpoint.name, {
    rps: Number.NaN,
    p99: Number.NaN,
    cpu: counts.runtime / REQUESTS / 1e6,
    proxy: counts.proxy / REQUESTS / 1e6,
  });
}

/** AB_MEASURE=instructions: AB_REQUESTS fresh tasks claimed and completed one at a time, counted per task. */
async function countClaimAndComplete(side: Side, dir: string) {
  const base = side.server.baseUrl;
  const admin = await signup(base, `${side.label}-queue`);
  await createTasks(base, admin, REQUESTS, ['queue']);
  takeCounts(side.counted!, dir);
  for (let i = 0; i < REQUESTS; i++) {
    const res = await postJson(base, '/v1/tasks/claim', admin, { labels: ['queue'], lease_seconds: 60 });
    const task = (res.body as { task: { id: string } | null }).task;
    if (res.status !== 200 || !task) throw new Error(`${side.label} claim: ${res.status}`);
    const done = await postJson(base, `/v1/tasks/${task.id}/complete`, admin);
    if (done.status !== 200) throw new Error(`${side.label} complete: ${done.status}`);
  }
  const counts = takeCounts(side.counted!, dir);
  record(side, 'claim+complete (a task)', {
    rps: Number.NaN,
    p99: Number.NaN,
    cpu: counts.runtime / REQUESTS / 1e6,
    proxy: counts.proxy / REQUESTS / 1e6,
  });
}

/** CLAIM_WORKERS workers claim and complete CLAIM_TASKS fresh tasks of a fresh account until none is left. */
async function claimAndComplete(side: Side) {
  const base = side.server.baseUrl;
  const admin = await signup(base, `${side.label}-queue`);
  await createTasks(base, admin, CLAIM_TASKS, ['queue']);
  const latencies: number[] = [];
  let completed = 0;
  const before = groupCpuMs(side.server);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLAIM_WORKERS }, async () => {
      for (;;) {
        const t0 = performance.now();
        const res = await postJson(base, '/v1/tasks/claim', admin, { labels: ['queue'], lease_seconds: 60 });
        latencies.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`claim failed: ${res.status}`);
        const task = (res.body as { task: { id: string } | null }).task;
        if (!task) break;
        const done = await postJson(base, `/v1/tasks/${task.id}/complete`, admin);
        if (done.status !== 200) throw new Error(`complete failed: ${done.status}`);
        completed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const after = groupCpuMs(side.server);
  if (completed !== CLAIM_TASKS) throw new Error(`${side.label}: ${completed} of ${CLAIM_TASKS} tasks completed`);
  latencies.sort((a, b) => a - b);
  record(side, `claim+complete x${CLAIM_WORKERS} (tasks/s)`, {
    rps: completed / seconds,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    cpu: before === null || after === null ? null : (after - before) / completed,
  });
}

function report(a: Side, b: Side, { nameA, nameB }: { nameA: string; nameB: string }) {
  const rows = [...a.samples.keys()];
  const fmt = (x: number | null, d: number) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(d));
  const mid = (s: Sample[], pick: (x: Sample) => number | null) => {
    const xs = s.map(pick).filter((x): x is number => x !== null);
    return xs.length === s.length ? median(xs) : null;
  };
  const lines = [
    `A/B: A = ${nameA}, B = ${nameB}; ${ROUNDS} rounds, ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${SECONDS} s timed per row and side; claim+complete: ${CLAIM_WORKERS} workers, ${CLAIM_TASKS} fresh tasks. Medians over the rounds. CPU: each server's process group, ms per request (per task for claim+complete).`,
    '',
    '| row | A req/s | B req/s | A / B | A CPU ms | B CPU ms | A CPU / B CPU | A p99 ms | B p99 ms | x health: A / B | CPU in health requests: A / B |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  // The bench's own figures are ratios to GET /health in the same round; here per side, then A over B.
  const perHealth = (side: Side, row: string, pick: (x: Sample) => number | null) => {
    const health = side.samples.get(HEALTH_ROW);
    const ratios = (side.samples.get(row) ?? []).map((x, i) => {
      const [v, h] = [pick(x), health?.[i] ? pick(health[i]) : null];
      return v === null || !h ? null : v / h;
    });
    return ratios.length > 0 && ratios.every((r) => r !== null) ? median(ratios as number[]) : null;
  };
  const over = (x: number | null, y: number | null) => (x === null || !y ? '-' : fmt(x / y, 2));
  for (const row of rows) {
    const sa = a.samples.get(row)!;
    const sb = b.samples.get(row)!;
    const [ra, rb] = [mid(sa, (x) => x.rps)!, mid(sb, (x) => x.rps)!];
    const [ca, cb] = [mid(sa, (x) => x.cpu), mid(sb, (x) => x.cpu)];
    lines.push(
      `| ${row} | ${fmt(ra, 0)} | ${fmt(rb, 0)} | ${fmt(ra / rb, 2)} | ${fmt(ca, 2)} | ${fmt(cb, 2)} | ${ca !== null && cb ? fmt(ca / cb, 2) : '-'} | ${fmt(
        mid(sa, (x) => x.p99),
        0,
      )} | ${fmt(
        mid(sb, (x) => x.p99),
        0,
      )} | ${over(
        perHealth(a, row, (x) => x.rps),
        perHealth(b, row, (x) => x.rps),
      )} | ${over(
        perHealth(a, row, (x) => x.cpu),
        perHealth(b, row, (x) => x.cpu),
      )} |`,
    );
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

function reportInstructions(a: Side, b: Side, { nameA, nameB }: { nameA: string; nameB: string }) {
  const mid = (side: Side, row: string, pick: (x: Sample) => number) => median((side.samples.get(row) ?? []).map(pick));
  const lines = [
    `A/B in instructions: A = ${nameA}, B = ${nameB}; ${ROUNDS} rounds of ${REQUESTS} requests a row and side, one at a time (claim+complete: ${REQUESTS} fresh tasks). Medians over the rounds, millions of instructions a request (a task).`,
    '',
    '| row | A runtime | B runtime | A / B | A proxy | B proxy | A / B | both: A / B |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of a.samples.keys()) {
    const [ra, rb] = [mid(a, row, (x) => x.cpu ?? Number.NaN), mid(b, row, (x) => x.cpu ?? Number.NaN)];
    const [pa, pb] = [mid(a, row, (x) => x.proxy ?? Number.NaN), mid(b, row, (x) => x.proxy ?? Number.NaN)];
    const both = mid(a, row, (x) => (x.cpu ?? 0) + (x.proxy ?? 0)) / mid(b, row, (x) => (x.cpu ?? 0) + (x.proxy ?? 0));
    lines.push(
      `| ${row} | ${ra.toFixed(2)} | ${rb.toFixed(2)} | ${(ra / rb).toFixed(2)} | ${pa.toFixed(2)} | ${pb.toFixed(2)} | ${(pa / pb).toFixed(2)} | ${both.toFixed(2)} |`,
    );
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

async function main() {
  const [ref, refA] = process.argv.slice(2);
  if (!ref) throw new Error('usage: npm run bench:ab -- <git ref> [<git ref for A>]');
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { cwd: ROOT, encoding: 'utf8' }).trim();
  // Every worktree made is removed at the end, also when a later step fails.
  const trees: string[] = [];
  const checkout = (ref: string) => {
    const tree = join(mkdtempSync(join(tmpdir(), 'delega-ab-')), ref);
    trees.push(tree);
    execFileSync('git', ['worktree', 'add', '--detach', tree, ref], { cwd: ROOT, stdio: 'ignore' });
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
    return tree;
  };
  const vars = {
    LIMIT_RATE_PER_MINUTE: '100000000',
    LIMIT_TASKS_PER_MONTH: '100000000',
    LIMIT_ONBOARDING_RATE_PER_MINUTE: '100000',
    LIMIT_EMAILS_PER_HOUR: '100000',
  };
  const callgrindDir = MEASURE === 'instructions' ? mkdtempSync(join(tmpdir(), 'delega-ab-callgrind-')) : '';
  if (callgrindDir) execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  const env: Record<string, string> = callgrindDir
    ? {
        X_LOCAL_OBSERVABILITY: 'false',
        MINIFLARE_WORKERD_PATH: join(ROOT, 'bench/callgrind-workerd.sh'),
        AB_WORKERD: workerdBinary,
        AB_CALLGRIND_DIR: callgrindDir,
      }
    : { X_LOCAL_OBSERVABILITY: 'false' };
  const servers: DevServer[] = [];
  try {
    const worktree = checkout(sha);
    const worktreeA = refA ? checkout(execFileSync('git', ['rev-parse', '--short', refA], { cwd: ROOT, encoding: 'utf8' }).trim()) : null;
    servers.push(await startDevServer({ stateRoot: STATE_DIR, env, vars, ...(worktreeA ? { root: worktreeA } : {}) }));
    servers.push(await startDevServer({ stateRoot: STATE_DIR, env, vars, root: worktree }));
    const a = await prepare('A', servers[0]!);
    const b = await prepare('B', servers[1]!);
    if (callgrindDir) {
      for (const side of [a, b]) side.counted = startCounting(side.server);
      for (let round = 0; round < ROUNDS; round++) {
        // Counts do not depend on what else runs: both sides at once.
        const opts = { warmup: round === 0 ? WARMUP_REQUESTS : 0, dir: callgrindDir };
        for (const endpoint of ENDPOINTS.filter((e) => wanted(e.name)))
          await Promise.all([a, b].map((side) => countEndpoint(side, endpoint, opts)));
        if (wanted('claim+complete')) await Promise.all([a, b].map((side) => countClaimAndComplete(side, callgrindDir)));
        process.stdout.write(`round ${round + 1} of ${ROUNDS} done\n`);
      }
      reportInstructions(a, b, { nameA: refA ?? 'this checkout', nameB: `${ref} (${sha})` });
      return;
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [a, b] : [b, a];
      for (const endpoint of ENDPOINTS.filter((e) => wanted(e.name))) for (const side of order) await loadEndpoint(side, endpoint);
      if (wanted('claim+complete')) for (const side of order) await claimAndComplete(side);
      process.stdout.write(`round ${round + 1} of ${ROUNDS} done\n`);
    }
    report(a, b, { nameA: refA ?? 'this checkout', nameB: `${ref} (${sha})` });
  } finally {
    for (const s of servers) await s.stop();
    if (callgrindDir) rmSync(callgrindDir, { recursive: true, force: true });
    for (const tree of trees) {
      try {
        execFileSync('git', ['worktree', 'remove', '--force', tree], { cwd: ROOT, stdio: 'ignore' });
      } catch {
        // Never added (git failed): only its directory is left.
      }
      rmSync(join(tree, '..'), { recursive: true, force: true });
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
