/**
 * The official public clients, unchanged, for suites that drive them against `wrangler dev`:
 * - the MCP client (`delega-mcp/src/delega-client.ts`) and its formatters, imported from source;
 *   hosted mode is the real `https://api.delega.dev` base with `globalThis.fetch` pointed at the
 *   dev server, `/api` mode is the dev server's own URL;
 * - the MCP server and the CLI, built (`npm install && npm run build`) in a temporary copy, once
 *   per source version, and run as subprocesses;
 * - the Python SDK from source on PYTHONPATH (its sync client needs only the standard library;
 *   `AsyncDelega` needs httpx, so it runs with the first interpreter that can import it).
 *
 * The clients' sources live beside the checkout (`../shared/clients`, or `DELEGA_CLIENTS_DIR`);
 * where they are absent, `clientsMissing` says why and suites skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '../..');
export const CLIENTS_DIR = resolve(process.env.DELEGA_CLIENTS_DIR ?? join(ROOT, '..', 'shared', 'clients'));
export const HOSTED_ORIGIN = 'https://api.delega.dev';

/** Why the client suites cannot run here, or null when they can. */
export const clientsMissing: string | null = existsSync(join(CLIENTS_DIR, 'delega-mcp', 'src', 'delega-client.ts'))
  ? null
  : `the public clients' sources are not at ${CLIENTS_DIR} (set DELEGA_CLIENTS_DIR): client compatibility is not checked`;

/** Why the Python SDK cannot run here (no python3), or null. */
export const pythonMissing: string | null =
  clientsMissing ?? (spawnSync('python3', ['--version']).status === 0 ? null : 'python3 is not installed: the Python SDK is not checked');

/**
 * An interpreter that can import httpx (Debian's `python3-httpx` is for `/usr/bin/python3`, which
 * a pyenv `python3` on PATH may shadow), or why there is none: then only `AsyncDelega` is skipped.
 */
export const asyncPython: { bin: string; missing: null } | { bin: null; missing: string } = (() => {
  if (pythonMissing) return { bin: null, missing: pythonMissing };
  const tried: string[] = [];
  for (const bin of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(bin, ['-c', 'import httpx, sys; print(httpx.__version__, sys.version.split()[0])'], { encoding: 'utf8' });
    if (probe.status === 0) return { bin, missing: null };
    tried.push(`${bin}: ${probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`)}`);
  }
  return {
    bin: null,
    missing: `no python3 here can import httpx (${tried.join('; ')}); install python3-httpx (scripts/install-python-httpx.sh) or pip install httpx`,
  };
})();

// ── MCP client (source) ──

/** The MCP client's class and its formatters, as published. Typed loosely: they are JavaScript to us. */
export interface McpModules {
  DelegaClient: new (baseUrl?: string, agentKey?: string) => McpClient;
  DelegaApiError: new (...args: never[]) => Error & { status: number; responseBody: string };
  formatters: Record<McpFormatter, (...args: any[]) => string>;
}
export type McpFormatter =
  | 'formatTask'
  | 'formatTaskDetail'
  | 'formatRecurrence'
  | 'formatChain'
  | 'formatDedupResult'
  | 'formatUsage'
  | 'formatProject'
  | 'formatAgent'
  | 'formatFleetAttention'
  | 'formatAutomation'
  | 'formatIngressSource'
  | 'formatRecall'
  | 'maskApiKey'
  | 'normalizePermissions';

/** The published client's public methods (delega-mcp 1.18.3). */
export type McpMethod =
  | 'listTasks'
  | 'getTask'
  | 'listTaskLinks'
  | 'linkTask'
  | 'getTaskContext'
  | 'createTask'
  | 'updateTask'
  | 'assignTask'
  | 'completeTask'
  | 'deleteTask'
  | 'listRecurrences'
  | 'createRecurrence'
  | 'updateRecurrence'
  | 'deleteRecurrence'
  | 'delegateTask'
  | 'getTaskChain'
  | 'updateTaskContext'
  | 'getContextHistory'
  | 'findDuplicateTasks'
  | 'getUsage'
  | 'claimTask'
  | 'heartbeatTask'
  | 'setTaskState'
  | 'releaseTask'
  | 'addComment'
  | 'listProjects'
  | 'getStats'
  | 'getFleetAttention'
  | 'searchContext'
  | 'listAgents'
  | 'registerAgent'
  | 'setAgentRole'
  | 'deleteAgent'
  | 'listWebhooks'
  | 'createWebhook'
  | 'deleteWebhook'
  | 'listAutomations'
  | 'createAutomation'
  | 'updateAutomation'
  | 'deleteAutomation'
  | 'listIngressSources'
  | 'createIngressSource'
  | 'updateIngressSource'
  | 'deleteIngressSource';
export type McpClient = Record<McpMethod, (...args: any[]) => Promise<any>>;

let mcpModules: Promise<McpModules> | undefined;
export function loadMcpModules(): Promise<McpModules> {
  mcpModules ??= (async () => {
    const src = join(CLIENTS_DIR, 'delega-mcp', 'src');
    const client = await import(/* @vite-ignore */ pathToFileURL(join(src, 'delega-client.ts')).href);
    const formatters = await import(/* @vite-ignore */ pathToFileURL(join(src, 'formatters.ts')).href);
    return { DelegaClient: client.DelegaClient, DelegaApiError: client.DelegaApiError, formatters };
  })();
  return mcpModules;
}

let hostedTarget: string | null = null;
/**
 * Sends this process's requests for https://api.delega.dev to `baseUrl` (the dev server), the
 * only way to run the MCP client in hosted mode without changing it. Returns the undo.
 */
export function routeHostedApiTo(baseUrl: string): () => void {
  const original = globalThis.fetch;
  hostedTarget = baseUrl;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (hostedTarget && url.startsWith(`${HOSTED_ORIGIN}/`)) return original(hostedTarget + url.slice(HOSTED_ORIGIN.length), init);
    return original(input, init);
  }) as typeof fetch;
  return () => {
    globalThis.fetch = original;
    hostedTarget = null;
  };
}

/** An MCP client in hosted mode (`/v1`, needs routeHostedApiTo) or `/api` mode (the dev server's URL). */
export async function mcpClient(opts: { mode: 'hosted' | 'api'; baseUrl: string; key?: string }): Promise<McpClient> {
  const { DelegaClient } = await loadMcpModules();
  return new DelegaClient(opts.mode === 'hosted' ? HOSTED_ORIGIN : opts.baseUrl, opts.key);
}

// ── Builds of the MCP server and the CLI ──

function sourceHash(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name === 'node_modules' || name === 'dist') continue;
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(relative(dir, path)).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  walk(dir);
  return hash.digest('hex').slice(0, 16);
}

const builds = new Map<string, Promise<string>>();
/**
 * A built copy of `delega-mcp` or `delega-cli`: `npm install && npm run build` in a temporary
 * folder, kept across runs under the OS temp directory and keyed by a hash of the client's
 * sources and lock file (the shared folder itself stays read-only).
 */
export function builtClient(name: 'delega-mcp' | 'delega-cli'): Promise<string> {
  let build = builds.get(name);
  if (!build) {
    build = buildClient(name);
    builds.set(name, build);
  }
  return build;
}

async function buildClient(name: string): Promise<string> {
  const source = join(CLIENTS_DIR, name);
  const cacheRoot = join(tmpdir(), 'delega-client-builds');
  const target = join(cacheRoot, `${name}-${sourceHash(source)}`);
  if (existsSync(join(target, 'dist', 'index.js'))) return target;
  mkdirSync(cacheRoot, { recursive: true });
  const work = mkdtempSync(join(cacheRoot, `${name}-building-`));
  cpSync(source, work, { recursive: true, filter: (p) => !p.includes('node_modules') && !p.endsWith('/dist') });
  // npm and the build scripts run under the project's Node, like every npm script here.
  const env = {
    ...process.env,
    PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  for (const args of [
    ['install', '--no-audit', '--no-fund'],
    ['run', 'build'],
  ]) {
    const result = await run('npm', args, { cwd: work, env });
    if (result.code !== 0) {
      rmSync(work, { recursive: true, force: true });
      throw new Error(`building ${name}: npm ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
    }
  }
  try {
    renameSync(work, target);
  } catch {
    // Another run finished the same build first.
    rmSync(work, { recursive: true, force: true });
  }
  return target;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

// ── CLI ──

export interface CliOptions {
  /** What the CLI is pointed at (`--api-url`): a bare localhost URL means `/api`, one ending in `/v1` the hosted paths. */
  apiUrl: string;
  key?: string;
  /** HOME of the run (where `login` keeps its config); a fresh one when omitted. */
  home?: string;
  input?: string;
}

/** Runs the built CLI (`delega ...args`) with the project's Node; no colours, nothing read from the real HOME. */
export async function runCli(args: string[], opts: CliOptions): Promise<RunResult> {
  const dir = await builtClient('delega-cli');
  const home = opts.home ?? mkdtempSync(join(tmpdir(), 'delega-cli-home-'));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, NO_COLOR: '1', FORCE_COLOR: '0', DELEGA_API_URL: opts.apiUrl };
  if (opts.key) env.DELEGA_API_KEY = opts.key;
  const result = await run(process.execPath, [join(dir, 'dist', 'index.js'), ...args], { env, input: opts.input, timeoutMs: 60_000 });
  if (!opts.home) rmSync(home, { recursive: true, force: true });
  return result;
}

// ── MCP server over stdio ──

export interface McpServerSession {
  /** A JSON-RPC request; resolves with its `result` (rejects on an `error`). */
  request: (method: string, params?: unknown) => Promise<any>;
  /** tools/call, answering the text an agent reads and whether the tool reported an error. */
  callTool: (name: string, args?: Record<string, unknown>) => Promise<{ text: string; isError: boolean }>;
  stderr: () => string;
  close: () => Promise<void>;
}

/**
 * Starts the built MCP server over stdio and initializes the session. Hosted mode runs it with
 * the real hosted URL and a preloaded module that points that origin's fetches at `baseUrl`.
 */
export async function startMcpServer(opts: { mode: 'hosted' | 'api'; baseUrl: string; key: string }): Promise<McpServerSession> {
  const dir = await builtClient('delega-mcp');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: tmpdir(), DELEGA_AGENT_KEY: opts.key };
  const args: string[] = [];
  if (opts.mode === 'hosted') {
    const preload = join(dir, 'route-hosted-api.mjs');
    writeFileSync(
      preload,
      `const origin = ${JSON.stringify(HOSTED_ORIGIN)}; const target = process.env.DELEGA_TEST_TARGET; const f = globalThis.fetch;
globalThis.fetch = (input, init) => { const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  return url.startsWith(origin + '/') ? f(target + url.slice(origin.length), init) : f(input, init); };\n`,
    );
    args.push('--import', pathToFileURL(preload).href);
    env.DELEGA_API_URL = HOSTED_ORIGIN;
    env.DELEGA_TEST_TARGET = opts.baseUrl;
  } else {
    env.DELEGA_API_URL = opts.baseUrl;
  }
  const child: ChildProcess = spawn(process.execPath, [...args, join(dir, 'dist', 'index.js')], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const pending = new Map<number, { res: (v: any) => void; rej: (e: Error) => void }>();
  let buffer = '';
  child.stdout!.on('data', (d) => {
    buffer += d;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
      if (!waiter) continue;
      pending.delete(msg.id!);
      if (msg.error) waiter.rej(new Error(`MCP error: ${JSON.stringify(msg.error)}`));
      else waiter.res(msg.result);
    }
  });
  child.on('exit', () => {
    for (const w of pending.values()) w.rej(new Error(`MCP server exited:\n${stderr}`));
    pending.clear();
  });
  let nextId = 1;
  const send = (msg: object) => child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', ...msg })}\n`);
  const request = (method: string, params?: unknown) =>
    new Promise<any>((res, rej) => {
      const id = nextId++;
      pending.set(id, { res, rej });
      send({ id, method, params });
    });
  await request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'delega-compat', version: '1.0.0' } });
  send({ method: 'notifications/initialized' });
  return {
    request,
    callTool: async (name, toolArgs = {}) => {
      const result = (await request('tools/call', { name, arguments: toolArgs })) as {
        content: { type: string; text: string }[];
        isError?: boolean;
      };
      return { text: result.content.map((c) => c.text).join('\n'), isError: result.isError === true };
    },
    stderr: () => stderr,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

// ── Python SDK ──

/**
 * Runs a Python snippet with the SDK importable (`from delega import Delega`) and `client`
 * bound to `Delega(api_key=key, base_url=baseUrl)`. The snippet assigns `out`; its JSON is returned.
 */
export async function runPython<T = any>(code: string, opts: PythonRun): Promise<T> {
  return runPythonScript<T>(
    'python3',
    `client = Delega(api_key=os.environ["DELEGA_API_KEY"], base_url=os.environ["DELEGA_BASE_URL"])\n${code}`,
    opts,
  );
}

/**
 * Runs a snippet inside `async with AsyncDelega(api_key=key, base_url=baseUrl) as client:` under
 * `asyncio.run`, with the interpreter that has httpx; the snippet awaits the client and assigns `out`.
 */
export async function runAsyncPython<T = any>(code: string, opts: PythonRun): Promise<T> {
  if (asyncPython.bin === null) throw new Error(asyncPython.missing);
  const body = code
    .split('\n')
    .map((line) => `        ${line}`)
    .join('\n');
  const script = [
    'import asyncio',
    'from delega import AsyncDelega',
    'async def main():',
    '    out = None',
    '    async with AsyncDelega(api_key=os.environ["DELEGA_API_KEY"], base_url=os.environ["DELEGA_BASE_URL"]) as client:',
    body,
    '    return out',
    'out = asyncio.run(main())',
  ].join('\n');
  return runPythonScript<T>(asyncPython.bin, script, opts);
}

interface PythonRun {
  baseUrl: string;
  key: string;
  env?: Record<string, string>;
}

async function runPythonScript<T>(bin: string, code: string, opts: PythonRun): Promise<T> {
  const prelude = [
    'import json, os, sys',
    'from dataclasses import asdict, is_dataclass',
    'from delega import Delega',
    'def plain(v):',
    '    if is_dataclass(v): return asdict(v)',
    '    if isinstance(v, list): return [plain(x) for x in v]',
    '    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}',
    '    return v',
    'out = None',
  ].join('\n');
  const script = `${prelude}\n${code}\nprint(json.dumps(plain(out)))\n`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PYTHONPATH: join(CLIENTS_DIR, 'delega-python', 'src'),
    PYTHONDONTWRITEBYTECODE: '1',
    DELEGA_API_KEY: opts.key,
    DELEGA_BASE_URL: opts.baseUrl,
    ...opts.env,
  };
  const result = await run(bin, ['-c', script], { env, timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`python failed (${result.code}):\n${result.stderr}\n${result.stdout}`);
  const lastLine = result.stdout.trim().split('\n').pop() ?? 'null';
  return JSON.parse(lastLine) as T;
}

/** What a user must never be shown: a missing field rendered as text. */
export const RENDERED_GAPS = /undefined|\[object Object\]|NaN/;

// ── Accounts ──

/** A new active account through `POST /v1/signup`: its admin key and agent id. */
export async function newAccount(baseUrl: string, label = 'compat'): Promise<{ key: string; agentId: string }> {
  const res = await fetch(`${baseUrl}/v1/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: `${label}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`, name: label }),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`signup failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { api_key: string; agent: { id: string } };
  return { key: body.api_key, agentId: body.agent.id };
}
