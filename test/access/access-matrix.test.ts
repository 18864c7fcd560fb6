/**
 * The authorisation table against the live routes: every route in the OpenAPI document names
 * an operation of the table, every operation has a route, and each kind of key is allowed or
 * refused exactly as the table says, for every route.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, OPERATIONS, servedVia, STANDINGS, standingFor, type Kind, type Operation } from '../../src/access/policy';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';

interface RouteRef {
  method: string;
  path: string;
  operation: string;
}

let routes: RouteRef[] = [];
const keys = {} as Record<Kind, string>;

beforeAll(async () => {
  const doc = (await api('GET', '/v1/openapi.json')).body as { paths: Record<string, Record<string, { 'x-delega-operation'?: string }>> };
  routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, operation: op['x-delega-operation'] ?? '(none)' })),
  );
  const full = await makeAccount();
  const restricted = await makeAccount({ status: 'restricted' });
  keys.admin = full.adminKey;
  keys.worker = (await makeAgent(full, 'worker')).key;
  keys.coordinator = (await makeAgent(full, 'coordinator')).key;
  keys.restricted = restricted.adminKey;
});

describe('authorisation table coverage', () => {
  it('every documented route names an operation of the table (or is public)', () => {
    expect(routes.length).toBeGreaterThan(5);
    const unknown = routes.filter((r) => r.operation !== 'public' && !(OPERATIONS as string[]).includes(r.operation));
    expect(unknown).toEqual([]);
  });

  it('every operation of the table is served by at least one route (its own, or those of the operation it is checked within)', () => {
    const served = new Set(routes.map((r) => r.operation));
    expect(OPERATIONS.filter((op) => !served.has(servedVia(op) ?? op))).toEqual([]);
  });
});

describe('each kind of key against each route', () => {
  const kinds: Kind[] = ['restricted', 'worker', 'coordinator', 'admin'];

  it('allows and refuses exactly as the table says', async () => {
    const mismatches: string[] = [];
    for (const route of routes.filter((r) => r.operation !== 'public')) {
      const op = route.operation as Operation;
      const path = route.path.replace(/^\/v1/, '/v1').replace(/\{[^}]+\}/g, 'zzz_notfound');
      for (const kind of kinds) {
        const allowed = (ACCESS[op].kinds as readonly Kind[]).includes(kind);
        const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method) ? {} : undefined;
        const res = await api(route.method, path, keys[kind], body);
        const refusedByTable = res.status === 403 && ['CLAIM_REQUIRED', 'INSUFFICIENT_ROLE', 'NOT_RESTRICTED'].includes(res.body?.code);
        if (allowed === refusedByTable || res.status === 401 || res.status === 500) {
          mismatches.push(
            `${kind} ${route.method} ${route.path} (${op}): expected ${allowed ? 'allowed' : 'refused'}, got ${res.status} ${JSON.stringify(res.body)}`,
          );
        }
      }
    }
    expect(mismatches).toEqual([]);
    // Four requests per route, one after another: over 300 on a loaded machine.
  }, 30_000);

  it('renders the same table in GET /v1/capabilities for each kind', async () => {
    for (const kind of kinds) {
      const res = await api('GET', '/v1/capabilities', keys[kind]);
      expect(res.status).toBe(200);
      expect(res.body.mode).toBe(kind === 'restricted' ? 'restricted' : kind === 'admin' ? 'admin' : 'full');
      for (const op of OPERATIONS) {
        const standing = standingFor(op);
        const allowed = (ACCESS[op].kinds as readonly Kind[]).includes(kind);
        expect(res.body.operations[op]).toEqual({
          allowed,
          scope: ACCESS[op].scope,
          ...(standing ? { [STANDINGS[standing].on]: standing, any_target: allowed && kind === 'admin' } : {}),
        });
      }
      expect(Object.keys(res.body.task_standings)).toEqual(Object.keys(STANDINGS));
    }
  });
});

describe('a live claim against every task write', () => {
  // The least body each write accepts, so the answer is about access, not validation.
  const BODIES: Partial<Record<Operation, unknown>> = {
    'tasks.delegate': { content: 'child' },
    'tasks.context.write': { k: 1 },
    'tasks.subtasks.write': { content: 's' },
    'tasks.links.write': { kind: 'pr', ref: '#1' },
  };

  it('gives exactly the `work` standing: owner writes are refused, work writes are not', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const mismatches: string[] = [];
    const taskStanding = (op: Operation) => standingFor(op) === 'owner' || standingFor(op) === 'work';
    for (const route of routes.filter(
      (r) => r.operation !== 'public' && taskStanding(r.operation as Operation) && !r.path.includes('{sid}'),
    )) {
      const op = route.operation as Operation;
      const id = (await api('POST', '/v1/tasks', account.adminKey, { content: `for ${op}` })).body.id;
      expect((await api('POST', `/v1/tasks/${id}/claim`, worker.key, { lease_seconds: 300 })).status).toBe(200);
      const res = await api(
        route.method,
        route.path.replace('{id}', id),
        worker.key,
        BODIES[op] ?? (route.method === 'DELETE' ? undefined : {}),
      );
      const refused = res.status === 403 && res.body?.code === 'TASK_NOT_OWNED';
      if (refused !== (standingFor(op) === 'owner'))
        mismatches.push(`${route.method} ${route.path} (${op}): ${res.status} ${JSON.stringify(res.body)}`);
    }
    expect(mismatches).toEqual([]);
  });
});
