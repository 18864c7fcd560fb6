/**
 * The authorisation table against the live routes: every route in the OpenAPI document names
 * an operation of the table, every operation has a route, and each kind of key is allowed or
 * refused exactly as the table says, for every route.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, OPERATIONS, type Kind, type Operation } from '../src/domain/access';
import { api, makeAccount, makeAgent } from './helpers/fixtures';

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

  it('every operation of the table is served by at least one route', () => {
    const served = new Set(routes.map((r) => r.operation));
    expect(OPERATIONS.filter((op) => !served.has(op))).toEqual([]);
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
          mismatches.push(`${kind} ${route.method} ${route.path} (${op}): expected ${allowed ? 'allowed' : 'refused'}, got ${res.status} ${JSON.stringify(res.body)}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('renders the same table in GET /v1/capabilities for each kind', async () => {
    for (const kind of kinds) {
      const res = await api('GET', '/v1/capabilities', keys[kind]);
      expect(res.status).toBe(200);
      expect(res.body.mode).toBe(kind === 'restricted' ? 'restricted' : kind === 'admin' ? 'admin' : 'full');
      for (const op of OPERATIONS) {
        expect(res.body.operations[op]).toEqual({ allowed: (ACCESS[op].kinds as readonly Kind[]).includes(kind), scope: ACCESS[op].scope });
      }
    }
  });
});
