/**
 * Starts `wrangler dev` on a free port with its own fresh local state (migrations applied),
 * and stops it afterwards. Used by the end-to-end and client-compatibility suites. A server can
 * also be crashed (SIGKILL of its whole process group) and started again on the same state and
 * port. `--test-scheduled` serves the Cron Trigger's handler at `/__scheduled`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { jsonRequest } from '../helpers/json-request.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');

export interface DevServer {
  baseUrl: string;
  port: number;
  /** The DevTools inspector of the Worker (profiling). */
  inspectorPort: number;
  /** Runs SQL against the server's local D1 (as `wrangler d1 execute --local`). */
  query: <T = Record<string, unknown>>(sql: string) => T[];
  logs: () => string;
  /** Kills wrangler dev and workerd at once (SIGKILL to the process group): no clean shutdown. */
  crash: () => Promise<void>;
  /** Starts wrangler dev again on the same local state and port; resolves once it is healthy. */
  restart: () => Promise<void>;
  /** Runs the scheduled handler once, as the Cron Trigger would. */
  runScheduled: () => Promise<void>;
  /** The process group of wrangler dev and its workerd (to count this server's CPU apart from another's). */
  processGroup: () => number | undefined;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

export interface DevServerOptions {
  vars?: Record<string, string>;
  /** Where the local state directory is made (default: the OS temp directory). */
  stateRoot?: string;
  /** Extra environment for wrangler (e.g. to turn off local tracing for a benchmark). */
  env?: Record<string, string>;
  /** The checkout to serve (default this one): the A/B benchmark serves another commit beside it. */
  root?: string;
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const root = opts.root ?? ROOT;
  const persist = mkdtempSync(join(opts.stateRoot ?? tmpdir(), 'delega-e2e-'));
  const wranglerEnv = { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false', ...opts.env };
  const migrate = spawnSync(WRANGLER, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], {
    cwd: root,
    encoding: 'utf8',
    env: wranglerEnv,
  });
  if (migrate.status !== 0) throw new Error(`migrations failed: ${migrate.stderr}\n${migrate.stdout}`);

  const port = await freePort();
  const inspector = await freePort();
  const vars = Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  const baseUrl = `http://127.0.0.1:${port}`;
  let output = '';
  let child: ChildProcess;

  const launch = async () => {
    child = spawn(
      WRANGLER,
      [
        'dev',
        '--local',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--inspector-port',
        String(inspector),
        '--persist-to',
        persist,
        '--show-interactive-dev-session=false',
        '--test-scheduled',
        ...vars,
      ],
      { cwd: root, env: wranglerEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
      try {
        const res = await fetch(`${baseUrl}/health`);
        if (res.ok) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`wrangler dev did not become healthy:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const signalGroup = async (signal: NodeJS.Signals, graceMs: number) => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
  };

  await launch();

  return {
    baseUrl,
    port,
    inspectorPort: inspector,
    query: <T>(sql: string): T[] => {
      const out = spawnSync(WRANGLER, ['d1', 'execute', 'DB', '--local', '--persist-to', persist, '--json', '--command', sql], {
        cwd: root,
        encoding: 'utf8',
        env: wranglerEnv,
      });
      if (out.status !== 0) throw new Error(`d1 execute failed: ${out.stderr}`);
      const parsed = JSON.parse(out.stdout) as { results: T[] }[];
      return parsed.flatMap((r) => r.results);
    },
    logs: () => output,
    processGroup: () => child.pid,
    crash: async () => {
      await signalGroup('SIGKILL', 10_000);
      // workerd too: nothing may answer on the port any more.
      await fetch(`${baseUrl}/health`).then(
        () => Promise.reject(new Error('the server still answers after the crash')),
        () => undefined,
      );
    },
    restart: launch,
    runScheduled: async () => {
      const res = await fetch(`${baseUrl}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
      if (!res.ok) throw new Error(`/__scheduled answered ${res.status}: ${await res.text()}`);
    },
    stop: async () => {
      await signalGroup('SIGTERM', 5000);
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(persist, { recursive: true, force: true });
    },
  };
}

/** A JSON request against the dev server. */
export function http<T = any>(
  base: string,
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  return jsonRequest<T>(fetch, `${base}${path}`, method, opts);
}
