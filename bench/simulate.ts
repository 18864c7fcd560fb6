/**
 * `npm run simulate`: replays the measured per-request D1 costs (bench/request-costs.json,
 * written by `BENCH_ONLY=hops npm run bench`) against N D1 databases, with accounts placed on
 * them by a directory, and prints the throughput curve: how many tasks a second the fleet of
 * databases carries before the busiest one saturates. Plain node, no dependencies.
 *
 * The model (ARCHITECTURE.md, "Capacity"): a D1 database runs one query at a time, so its
 * capacity is the time its queries take. The time of a statement on Cloudflare is not something
 * a local run can measure, so it is an assumption, calibrated on D1's documented figure of about
 * 1,000 simple writes a second (a simple write: one statement writing a row and its few index
 * entries, about 1 ms): STATEMENT_MS per statement, ROW_WRITE_MS per row written (index entries
 * count as rows, as D1 bills them), ROW_READ_MS per row read. Requests that write run at the
 * primary; plain reads go to read replicas (Sessions API), so they cost the primary nothing.
 *
 * Options (environment): SIM_ACCOUNTS (default 10000), SIM_ZIPF (skew of load over accounts,
 * default 1.1), SIM_STATEMENT_MS (0.5), SIM_ROW_WRITE_MS (0.1), SIM_ROW_READ_MS (0.005),
 * SIM_HEADROOM (share of a database's time to plan for, default 0.7), SIM_COSTS (the costs file).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface RequestCost {
  name: string;
  hops: number;
  statements: number;
  rowsRead: number;
  rowsWritten: number;
}

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ACCOUNTS = num('SIM_ACCOUNTS', 10_000);
const ZIPF = num('SIM_ZIPF', 1.1);
const STATEMENT_MS = num('SIM_STATEMENT_MS', 0.5);
const ROW_WRITE_MS = num('SIM_ROW_WRITE_MS', 0.1);
const ROW_READ_MS = num('SIM_ROW_READ_MS', 0.005);
const HEADROOM = num('SIM_HEADROOM', 0.7);
const COSTS_FILE = process.env.SIM_COSTS ?? join(import.meta.dirname, 'request-costs.json');
const DATABASE_COUNTS = [1, 2, 4, 8, 16, 32, 64];

/**
 * The requests of one task's life, as an agent fleet makes them: created, claimed, two context
 * updates while worked on, completed, and four reads (two listings, two fetches) around it.
 */
const TASK_LIFE: Record<string, number> = {
  'POST /v1/tasks': 1,
  'POST /v1/tasks/claim': 1,
  'PATCH /v1/tasks/{id}/context': 2,
  'POST /v1/tasks/{id}/complete': 1,
  'GET /v1/tasks': 2,
  'GET /v1/tasks/{id}': 2,
};

const isRead = (name: string) => name.startsWith('GET ');
const statementMs = (c: RequestCost) => c.statements * STATEMENT_MS + c.rowsWritten * ROW_WRITE_MS + c.rowsRead * ROW_READ_MS;

function loadCosts(): RequestCost[] {
  if (!existsSync(COSTS_FILE)) throw new Error(`${COSTS_FILE} not found: run \`BENCH_ONLY=hops npm run bench\` first`);
  return JSON.parse(readFileSync(COSTS_FILE, 'utf8')) as RequestCost[];
}

/** Load share of each account, Zipf-distributed (a few busy accounts, a long idle tail), largest first. */
function accountShares(): number[] {
  const raw = Array.from({ length: ACCOUNTS }, (_, i) => 1 / (i + 1) ** ZIPF);
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((x) => x / total);
}

/** The busiest database's share of the load when accounts are placed by `place`. */
function busiestShare(shares: number[], databases: number, place: 'directory' | 'hash'): number {
  const load = new Array<number>(databases).fill(0);
  shares.forEach((share, i) => {
    if (place === 'hash') load[(i * 2654435761) % databases]! += share;
    else {
      // The directory puts each account where there is most room (largest first): a greedy balance.
      let least = 0;
      for (let d = 1; d < databases; d++) if (load[d]! < load[least]!) least = d;
      load[least]! += share;
    }
  });
  return Math.max(...load);
}

function main() {
  const costs = new Map(loadCosts().map((c) => [c.name, c]));
  const rows: string[] = [];
  let primaryMs = 0;
  let replicaMs = 0;
  let requests = 0;
  for (const [name, times] of Object.entries(TASK_LIFE)) {
    const c = costs.get(name);
    if (!c) throw new Error(`no measured cost for ${name} in ${COSTS_FILE}`);
    const ms = statementMs(c);
    if (isRead(name)) replicaMs += ms * times;
    else primaryMs += ms * times;
    requests += times;
    rows.push(
      `| ${name} | ${times} | ${c.hops} | ${c.statements} | ${c.rowsRead} | ${c.rowsWritten} | ${ms.toFixed(2)} | ${isRead(name) ? 'replica' : 'primary'} |`,
    );
  }
  const tasksPerSecond = 1000 / primaryMs;
  const shares = accountShares();
  const out = [
    `Per-request D1 costs (measured, ${COSTS_FILE.split('/').pop()}) and the time they take a database (assumed: ${STATEMENT_MS} ms a statement, ${ROW_WRITE_MS} ms a row written, ${ROW_READ_MS} ms a row read):`,
    '',
    '| request | per task | hops | statements | rows read | rows written | ms | served by |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
    `One task's life: ${requests} requests, ${primaryMs.toFixed(1)} ms of the primary's time, ${replicaMs.toFixed(1)} ms of replicas'.`,
    `One database saturates at ${tasksPerSecond.toFixed(0)} tasks/s (${(tasksPerSecond * requests).toFixed(0)} requests/s of this mix); plan for ${(tasksPerSecond * HEADROOM).toFixed(0)} tasks/s (${HEADROOM * 100}% busy).`,
    `Without read replicas the reads run at the primary too: ${(1000 / (primaryMs + replicaMs)).toFixed(0)} tasks/s.`,
    '',
    `${ACCOUNTS} accounts, load Zipf-skewed (s=${ZIPF}; the busiest account carries ${(shares[0]! * 100).toFixed(1)}% of it). Tasks/s the fleet carries before its busiest database saturates:`,
    '',
    '| databases | placed by the directory | x one database | placed by hash | x one database | limit |',
    '| ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const n of DATABASE_COUNTS) {
    const directory = busiestShare(shares, n, 'directory');
    const hash = busiestShare(shares, n, 'hash');
    const viaDirectory = tasksPerSecond / directory;
    const viaHash = tasksPerSecond / hash;
    // An account lives in one database: once it alone fills one, more databases do not help.
    const limit = directory <= shares[0]! * 1.0001 ? 'the busiest account fills a database' : 'databases';
    out.push(
      `| ${n} | ${viaDirectory.toFixed(0)} | ${(viaDirectory / tasksPerSecond).toFixed(2)} | ${viaHash.toFixed(0)} | ${(viaHash / tasksPerSecond).toFixed(2)} | ${limit} |`,
    );
  }
  out.push('', 'Plan with the headroom above; the 10 GB a database holds is the other bound (see ARCHITECTURE.md).');
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
