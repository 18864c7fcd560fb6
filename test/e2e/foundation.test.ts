import { Validator } from '@seriousme/openapi-schema-validator';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startDevServer, type DevServer } from './harness';

const ROOT = resolve(import.meta.dirname, '../..');
let server: DevServer;
beforeAll(async () => {
  server = await startDevServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('wrangler dev, over HTTP', () => {
  it('answers /health after really querying D1', async () => {
    const res = await http(server.baseUrl, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: 'ok' });
  });

  it('refuses an authenticated route without a key, in the error envelope', async () => {
    const res = await http(server.baseUrl, 'GET', '/v1/capabilities');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'UNAUTHORIZED', error: expect.any(String) });
  });

  it('serves the same routes under /api and /v1', async () => {
    for (const path of ['/capabilities', '/agents', '/projects', '/nope']) {
      const v1 = await http(server.baseUrl, 'GET', `/v1${path}`, { key: `dlg_${'x'.repeat(40)}` });
      const api = await http(server.baseUrl, 'GET', `/api${path}`, { key: `dlg_${'x'.repeat(40)}` });
      expect(api.status).toBe(v1.status);
      expect((api.body as { code: string }).code).toBe((v1.body as { code: string }).code);
    }
  });

  it('publishes a valid OpenAPI 3.1 document listing every route', async () => {
    const res = await http(server.baseUrl, 'GET', '/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const validation = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(validation.errors ?? []).toEqual([]);
    expect(validation.valid).toBe(true);
    // Every route is documented: no path is served that the document does not list.
    for (const path of ['/v1/tasks', '/v1/tasks/{id}', '/v1/tasks/claim', '/v1/webhooks', '/v1/agent/signup', '/v1/billing/checkout']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/', '/health', '/v1/agents', '/v1/agents/{id}', '/v1/projects', '/v1/capabilities']),
    );
    const docs = await fetch(`${server.baseUrl}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('/docs/assets/scalar-api-reference.js');
  });

  it('a bare `wrangler deploy` cannot publish development settings under the production name', () => {
    const production = dryRunDeploy(['--env', 'production']);
    const bare = dryRunDeploy([]);
    expect(production.name).toBe('delega-api');
    expect(production.stdout).toContain('env.ENVIRONMENT ("production")');
    expect(bare.stdout).toContain('env.ENVIRONMENT ("development")');
    expect(bare.name).not.toBe(production.name);
    expect(bare.name).toMatch(/dev/);
  });

  it('the production configuration builds, with every binding it needs', () => {
    const out = spawnSync(
      join(ROOT, 'node_modules', '.bin', 'wrangler'),
      ['deploy', '--dry-run', '--env', 'production', '--outdir', mkdtempSync(join(tmpdir(), 'delega-dry-'))],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false' },
      },
    );
    expect(out.status, out.stderr).toBe(0);
    for (const binding of [
      'env.DB',
      'env.CLAIM_QUEUE (ClaimQueue)',
      'env.RATE_LIMITER (RateLimiter)',
      'env.KEY_GATE (KeyGate)',
      'env.WEBHOOKS',
      'env.EMAIL',
      'env.ENVIRONMENT ("production")',
    ]) {
      expect(out.stdout).toContain(binding);
    }
  });
});

/** `wrangler deploy --dry-run` with `args`: its output and the Worker name it would publish (from wrangler's output file). */
function dryRunDeploy(args: string[]): { stdout: string; name: string } {
  const dir = mkdtempSync(join(tmpdir(), 'delega-dry-'));
  const outputFile = join(dir, 'wrangler-output.json');
  const out = spawnSync(join(ROOT, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', ...args, '--outdir', join(dir, 'bundle')], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false', WRANGLER_OUTPUT_FILE_PATH: outputFile },
  });
  expect(out.status, out.stderr).toBe(0);
  const deploy = readFileSync(outputFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { type: string; worker_name?: string })
    .find((entry) => entry.type === 'deploy');
  return { stdout: out.stdout, name: deploy?.worker_name ?? '' };
}
