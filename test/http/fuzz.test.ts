/**
 * Fuzz: random JSON bodies and query strings against every write route of the OpenAPI
 * document. Never a 5xx; every error is the envelope; a 4xx changes nothing in D1.
 */
import { env } from 'cloudflare:test';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';

interface WriteRoute {
  method: string;
  path: string;
}

let routes: WriteRoute[] = [];
let account: TestAccount;
const ids: Record<string, string> = {};

/** Every table row of the account, as one string: equal strings mean nothing was written. */
async function fingerprint(accountId: string): Promise<string> {
  const tables = await env.DB.prepare("select name from sqlite_master where type = 'table'").all<{ name: string }>();
  // D1 refuses to introspect its own metadata tables; account data lives in ours.
  const ours = tables.results
    .map((t) => t.name)
    .filter(
      (n) => !n.startsWith('_cf') && !n.startsWith('sqlite_') && !n.startsWith('d1_') && !n.includes('idempotency') && !n.includes('rate'),
    );
  const columns = await env.DB.batch(ours.map((n) => env.DB.prepare(`select name from pragma_table_info('${n}')`)));
  const names = columns.map((c) => (c.results as { name: string }[]).map((col) => `"${col.name}"`));
  const scoped = ours.map((n, i) => ({ n, cols: names[i]! })).filter((t) => t.cols.includes('"account_id"'));
  // Ordered by every column, since WITHOUT ROWID tables (labelled_tasks) have no rowid.
  const parts = await env.DB.batch(
    scoped.map((t) => env.DB.prepare(`select * from "${t.n}" where account_id = ?1 order by ${t.cols.join(', ')}`).bind(accountId)),
  );
  return JSON.stringify(parts.map((p) => p.results));
}

beforeAll(async () => {
  const doc = (await api('GET', '/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
  routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((m) => ['post', 'put', 'patch', 'delete'].includes(m))
      .map((m) => ({ method: m.toUpperCase(), path })),
  );
  account = await makeAccount();
  const task = await api('POST', '/v1/tasks', account.adminKey, { content: 'fuzz target' });
  ids.task = task.body?.id ?? 'tsk_missing';
  ids.agent = (await makeAgent(account, 'worker')).id;
  ids.project = account.projectId;
});

function concretePath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    if (path.startsWith('/v1/tasks') && name === 'id') return ids.task!;
    if (path.startsWith('/v1/agents')) return ids.agent!;
    if (path.startsWith('/v1/projects')) return ids.project!;
    return 'zzz_fuzz';
  });
}

const jsonBody = fc.oneof(
  fc.object({ maxDepth: 2, maxKeys: 6 }),
  fc.jsonValue({ maxDepth: 2 }),
  fc.record(
    {
      content: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
      priority: fc.oneof(fc.integer(), fc.string()),
      labels: fc.oneof(fc.array(fc.string()), fc.string()),
    },
    { requiredKeys: [] },
  ),
);
const query = fc.dictionary(
  fc.constantFrom('expected_version', 'source', 'limit', 'offset', 'include', 'key', 'x'),
  fc.string({ maxLength: 12 }),
  { maxKeys: 3 },
);

describe('fuzz every write route', () => {
  it('never answers 5xx, always the envelope, and a 4xx writes nothing', async () => {
    expect(routes.length).toBeGreaterThan(10);
    const failures: string[] = [];
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(jsonBody, query, async (body, q) => {
          const qs = new URLSearchParams(q).toString();
          const path = concretePath(route.path) + (qs ? `?${qs}` : '');
          const before = await fingerprint(account.accountId);
          const res = await api(route.method, path, account.adminKey, JSON.stringify(body));
          if (res.status >= 500)
            failures.push(`${route.method} ${path} ${JSON.stringify(body)} -> ${res.status} ${JSON.stringify(res.body)}`);
          if (res.status >= 400) {
            if (typeof res.body?.error !== 'string' || typeof res.body?.code !== 'string')
              failures.push(`${route.method} ${path}: not the envelope: ${JSON.stringify(res.body)}`);
            const after = await fingerprint(account.accountId);
            if (after !== before) failures.push(`${route.method} ${path} ${JSON.stringify(body)} -> ${res.status} but changed data`);
          }
        }),
        { numRuns: 12, seed: 20261123 },
      );
    }
    expect(failures.slice(0, 10)).toEqual([]);
  }, 120_000);
});
