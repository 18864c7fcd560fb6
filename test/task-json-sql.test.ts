/**
 * taskJsonSql (SQLite writes a listed task's JSON) must say exactly what taskJson says: the
 * same keys, values and types, for rows in every claim state, with awkward strings, checked on
 * random rows (fast-check) and through the API (a listing against each task's own GET).
 */
import fc from 'fast-check';
import { eq, inArray, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { tasks } from '../src/db/schema';
import { taskJson, taskJsonSql, taskJsonSqlOf, type TaskRow } from '../src/domain/task-json';
import { isoSeconds } from '../src/lib/time';
import { api, db, makeAccount } from './helpers/fixtures';
import { insertTasks, type TaskSeed } from './helpers/task-rows';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const at = (offsetSeconds: number) => isoSeconds(NOW + offsetSeconds * 1000);

const text = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('quote " and \\ backslash', 'line\nbreak\ttab\u0001', 'emoji 🚀 ünïcode', '</script>', ''));
const maybe = <T,>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });

const seed: fc.Arbitrary<TaskSeed> = fc.record({
  content: text.filter((s) => s.length > 0),
  description: maybe(text),
  priority: fc.integer({ min: 1, max: 4 }),
  labels: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 4 }),
  status: fc.constantFrom('open', 'claimed', 'delegated', 'completed'),
  completed: fc.boolean(),
  dueDate: maybe(fc.constantFrom('2026-06-02', '2026-06-01T09:30:00Z')),
  claimedByAgentId: maybe(fc.constant('agt_holder')),
  claimedAt: maybe(fc.constant(at(-600))),
  // Lease before, at and after now: at now the claim is no longer live.
  leaseExpiresAt: maybe(fc.constantFrom(at(-60), at(0), at(60))),
  sessionState: maybe(fc.constantFrom('working', 'waiting_input', 'errored')),
  stateDetail: maybe(text),
  handoff: maybe(text),
  evidencePolicy: maybe(fc.constant('required')),
  evidence: fc.constantFrom('[]', '[{"kind":"pr","ref":"#1","summary":"ü \\"q\\""}]', ''),
  contextVersion: fc.nat(50),
  reopenCount: fc.nat(5),
}) as fc.Arbitrary<TaskSeed>;

describe('taskJsonSql', () => {
  it('matches taskJson on random rows in every claim state', async () => {
    const account = await makeAccount();
    await fc.assert(
      fc.asyncProperty(fc.array(seed, { minLength: 1, maxLength: 20 }), async (seeds) => {
        const ids = await insertTasks(account, seeds);
        const rows: TaskRow[] = await db().select().from(tasks).where(inArray(tasks.id, ids));
        const json = await db()
          .select({ id: tasks.id, json: sql<string>`${taskJsonSql((name) => sql`${tasks}.${sql.identifier(name)}`, NOW)}` })
          .from(tasks)
          .where(inArray(tasks.id, ids));
        const bySql = new Map(json.map((r) => [r.id, r.json]));
        // The cached rendering over an aliased table says the same.
        const cached = await db()
          .select({ id: sql<string>`t.id`, json: sql<string>`${taskJsonSqlOf('t', NOW)}` })
          .from(sql`${tasks} t`)
          .where(inArray(sql`t.id`, ids));
        for (const r of cached) expect(r.json).toBe(bySql.get(r.id));
        for (const row of rows) {
          const fromSql = JSON.parse(bySql.get(row.id)!);
          expect(fromSql).toStrictEqual(taskJson(row, NOW));
          // Same keys in the same order, so answers read the same either way.
          expect(Object.keys(fromSql)).toEqual(Object.keys(taskJson(row, NOW)));
        }
      }),
      { numRuns: 25 },
    );
  });

  it('a listing shows each task exactly as its own GET does', async () => {
    const account = await makeAccount();
    for (const content of ['plain', 'with "quotes" and ünïcode 🚀']) {
      await api('POST', '/v1/tasks', account.adminKey, { content, labels: ['a', 'b'], description: 'd', priority: 'high', due_date: '2026-12-01' });
    }
    const claimed = await api('POST', '/v1/tasks', account.adminKey, { content: 'to claim', labels: ['q'] });
    expect((await api('POST', `/v1/tasks/${claimed.body.id}/claim`, account.adminKey, { lease_seconds: 60 })).status).toBe(200);
    const expired = await api('POST', '/v1/tasks', account.adminKey, { content: 'lease ran out' });
    expect((await api('POST', `/v1/tasks/${expired.body.id}/claim`, account.adminKey, {})).status).toBe(200);
    await db().update(tasks).set({ leaseExpiresAt: isoSeconds(Date.now() - 5000) }).where(eq(tasks.id, expired.body.id));
    const done = await api('POST', '/v1/tasks', account.adminKey, { content: 'done' });
    await api('POST', `/v1/tasks/${done.body.id}/complete`, account.adminKey, { evidence: [{ kind: 'pr', ref: '#7' }] });

    const list = await api('GET', '/v1/tasks', account.adminKey);
    expect(list.status).toBe(200);
    expect(list.headers.get('Content-Type')).toContain('application/json');
    expect(list.body).toHaveLength(5);
    for (const task of list.body as { id: string }[]) {
      expect(task).toEqual((await api('GET', `/v1/tasks/${task.id}`, account.adminKey)).body);
    }
    const expiredListed = (list.body as { id: string; status: string; claimed_by_agent_id: string | null }[]).find((t) => t.id === expired.body.id);
    expect(expiredListed).toMatchObject({ status: 'open', claimed_by_agent_id: null });
  });
});
