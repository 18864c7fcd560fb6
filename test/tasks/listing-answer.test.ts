/**
 * A listing maps D1's raw rows itself (array positions, not drizzle): each listed task must be
 * exactly what taskJson makes of the same row read through drizzle, for rows in every claim
 * state with awkward strings (fast-check), and what the task's own GET answers (through the API).
 */
import fc from 'fast-check';
import { eq, inArray } from 'drizzle-orm';
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { tasks } from '../../src/db/schema';
import { authenticate } from '../../src/access/authentication';
import { listQuery, listTasks, type ListFilters } from '../../src/tasks/task-list';
import type { Principal } from '../../src/access/policy';
import { toRawQuery } from '../../src/db/sql-batch';
import { taskJson, type TaskRow } from '../../src/tasks/task-json';
import { isoSeconds } from '../../src/platform/time';
import { api, db, makeAccount } from '../helpers/fixtures';
import { insertTasks, type TaskSeed } from '../helpers/task-rows';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const at = (offsetSeconds: number) => isoSeconds(NOW + offsetSeconds * 1000);

const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.constantFrom('quote " and \\ backslash', 'line\nbreak\ttab\u0001', 'emoji 🚀 ünïcode', '</script>', ''),
);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });

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
  handoffNote: maybe(text),
  handoffByAgentId: maybe(fc.constant('agt_holder')),
  handoffState: maybe(fc.constantFrom('working', 'waiting_input', 'errored')),
  sourceRecurrenceId: maybe(fc.constant('rec_source')),
  sourceIngressId: maybe(fc.constant('ing_source')),
  evidencePolicy: maybe(fc.constant('required')),
  evidence: fc.constantFrom('[]', '[{"kind":"pr","ref":"#1","summary":"ü \\"q\\""}]', ''),
  contextVersion: fc.nat(50),
  reopenCount: fc.nat(5),
}) as fc.Arbitrary<TaskSeed>;

describe('the listing answer', () => {
  it('maps raw rows exactly as taskJson does, for random rows in every claim state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(seed, { minLength: 1, maxLength: 20 }), async (seeds) => {
        const account = await makeAccount();
        const p = await authenticate(db(), env.KEY_PEPPER!, account.adminKey);
        const ids = await insertTasks(account, seeds);
        const rows: TaskRow[] = await db().select().from(tasks).where(inArray(tasks.id, ids));
        const page = await listTasks(db(), p, { filters: { limit: 100, offset: 0 }, now: NOW });
        const listed = new Map(page.tasks.map((t) => [t.id, t]));
        expect(listed.size).toBe(rows.length);
        for (const row of rows) {
          expect(listed.get(row.id)).toStrictEqual(taskJson(row, NOW));
          expect(Object.keys(listed.get(row.id)!)).toEqual(Object.keys(taskJson(row, NOW)));
        }
      }),
      { numRuns: 15 },
    );
  });

  it('a listing shows each task exactly as its own GET does', async () => {
    const account = await makeAccount();
    for (const content of ['plain', 'with "quotes" and ünïcode 🚀']) {
      await api('POST', '/v1/tasks', account.adminKey, {
        content,
        labels: ['a', 'b'],
        description: 'd',
        priority: 'high',
        due_date: '2026-12-01',
      });
    }
    const claimed = await api('POST', '/v1/tasks', account.adminKey, { content: 'to claim', labels: ['q'] });
    expect((await api('POST', `/v1/tasks/${claimed.body.id}/claim`, account.adminKey, { lease_seconds: 60 })).status).toBe(200);
    const expired = await api('POST', '/v1/tasks', account.adminKey, { content: 'lease ran out' });
    expect((await api('POST', `/v1/tasks/${expired.body.id}/claim`, account.adminKey, {})).status).toBe(200);
    await db()
      .update(tasks)
      .set({ leaseExpiresAt: isoSeconds(Date.now() - 5000) })
      .where(eq(tasks.id, expired.body.id));
    const done = await api('POST', '/v1/tasks', account.adminKey, { content: 'done' });
    await api('POST', `/v1/tasks/${done.body.id}/complete`, account.adminKey, { evidence: [{ kind: 'pr', ref: '#7' }] });

    const list = await api('GET', '/v1/tasks', account.adminKey);
    expect(list.status).toBe(200);
    expect(list.headers.get('Content-Type')).toContain('application/json');
    expect(list.body).toHaveLength(5);
    for (const task of list.body as { id: string }[]) {
      // The task's own GET adds its context and checklist.
      const { context: _context, subtasks: _subtasks, ...own } = (await api('GET', `/v1/tasks/${task.id}`, account.adminKey)).body;
      expect(task).toEqual(own);
    }
    const expiredListed = (list.body as { id: string; status: string; claimed_by_agent_id: string | null }[]).find(
      (t) => t.id === expired.body.id,
    );
    expect(expiredListed).toMatchObject({ status: 'open', claimed_by_agent_id: null });
  });
});

describe('rendered listings are kept per isolate', () => {
  // The cache in listTasks keeps a listing's SQL only when it cannot depend on the time: the
  // same principal and filters must render the same statement whenever they are rendered.
  const principal: fc.Arbitrary<Principal> = fc.record({
    agentId: fc.constantFrom('agt_a', 'agt_b'),
    agentName: fc.constant('a'),
    accountId: fc.constantFrom('acc_a', 'acc_b'),
    role: fc.constantFrom('worker', 'coordinator', 'admin'),
    mode: fc.constantFrom('restricted', 'full', 'admin'),
    plan: fc.constant('free'),
    sandboxProjectId: fc.option(fc.constant('prj_s'), { nil: null }),
    isDefaultAgent: fc.boolean(),
    hasWebhooks: fc.boolean(),
  }) as fc.Arbitrary<Principal>;
  const timeless: fc.Arbitrary<ListFilters> = fc.record(
    {
      project_id: fc.constantFrom('prj_a', 'prj_b'),
      completed: fc.boolean(),
      priority: fc.integer({ min: 1, max: 4 }),
      search: fc.oneof(fc.constantFrom('de', 'deploy', 'x_%'), fc.string({ maxLength: 8 })),
      labels: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 3 }),
      due_after: fc.constant('2026-01-01'),
      due_before: fc.constantFrom('2026-12-31', '2026-12-31T10:00:00Z'),
      assigned_to: fc.constantFrom('agt_a', 'agt_c'),
      limit: fc.integer({ min: 1, max: 200 }),
      offset: fc.integer({ min: 0, max: 500 }),
    },
    { requiredKeys: ['limit', 'offset'] },
  );

  it('a listing without due or claimed filters renders the same at any time', () => {
    const d = db();
    fc.assert(
      fc.property(principal, timeless, fc.integer({ min: 0, max: 400 * 86_400_000 }), (p, f, later) => {
        const render = (now: number) => toRawQuery(listQuery(d, p, { filters: f, now }));
        expect(render(NOW + later)).toEqual(render(NOW));
      }),
      { numRuns: 300 },
    );
  });

  it('which is why due and claimed listings are rendered afresh: theirs depends on the time', () => {
    const d = db();
    const p = {
      agentId: 'agt_a',
      agentName: 'a',
      accountId: 'acc_a',
      role: 'admin',
      mode: 'full',
      plan: 'free',
      sandboxProjectId: null,
      isDefaultAgent: true,
      hasWebhooks: false,
    } as Principal;
    for (const f of [{ due: 'today' as const }, { due: 'overdue' as const }, { claimed: true }, { claimed: false }]) {
      const render = (now: number) => toRawQuery(listQuery(d, p, { filters: { limit: 10, offset: 0, ...f }, now }));
      expect(render(NOW + 2 * 86_400_000), JSON.stringify(f)).not.toEqual(render(NOW));
    }
  });

  it('a kept listing still reads the rows as they are now', async () => {
    const account = await makeAccount();
    const first = await api('GET', '/v1/tasks?label=kept', account.adminKey);
    expect(first.body).toEqual([]);
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'Now listed', labels: ['kept'] });
    const second = await api('GET', '/v1/tasks?label=kept', account.adminKey);
    expect(second.body.map((t: { id: string }) => t.id)).toEqual([created.body.id]);
    // Another account with the same filters gets its own statement, not this one.
    const other = await makeAccount();
    expect((await api('GET', '/v1/tasks?label=kept', other.adminKey)).body).toEqual([]);
  });
});
