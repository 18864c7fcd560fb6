/**
 * The effects table (src/events/effects.ts) is what the code does: each row's change is made
 * through the API and the events it recorded in the outbox are compared with the table's. And the
 * outbox holds an event exactly when its change committed: a refused write records none.
 */
import { env, runDurableObjectAlarm } from 'cloudflare:test';
import { and, eq, inArray, notInArray } from 'drizzle-orm';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { eventOutbox, recurrences, tasks } from '../../src/db/schema';
import { isoSeconds } from '../../src/platform/time';
import { spawnDueRecurrences } from '../../src/recurrences/spawn';
import { EFFECTS, eventsOf, type Change, type Facts } from '../../src/events/effects';
import { claimQueueOf } from '../../src/work-queue/claim-queue';
import { api, db, makeAccount, makeAgent, type TestAccount, type TestAgent } from '../helpers/fixtures';
import { expireLease } from '../helpers/task-rows';
import { installReceivers, makeReceiver } from '../helpers/webhook-receiver';

let spy: ReturnType<typeof installReceivers>;
beforeAll(() => {
  spy = installReceivers();
});
afterAll(() => spy.mockRestore());

interface Setup {
  acct: TestAccount;
  worker: TestAgent;
}

/** An account with a webhook on every event, so every change records its events. */
async function setup(): Promise<Setup> {
  const acct = await makeAccount();
  const hook = await api('POST', '/v1/webhooks', acct.adminKey, { url: makeReceiver().url, events: ['task.created'] });
  expect(hook.status).toBe(201);
  return { acct, worker: await makeAgent(acct, 'worker') };
}

/** The account's outbox rows, oldest first. */
const outbox = (accountId: string) => db().select().from(eventOutbox).where(eq(eventOutbox.accountId, accountId)).orderBy(eventOutbox.id);

/** The events the account recorded while `act` ran, as `event task_id agent_id`. */
async function recordedBy(accountId: string, act: () => Promise<unknown>): Promise<string[]> {
  const before = (await outbox(accountId)).map((r) => r.id);
  await act();
  const rows = await db()
    .select()
    .from(eventOutbox)
    .where(
      before.length ? and(eq(eventOutbox.accountId, accountId), notInArray(eventOutbox.id, before)) : eq(eventOutbox.accountId, accountId),
    );
  return rows.map((r) => `${r.event} ${r.taskId} ${r.agentId}`).sort();
}

const newTask = async (s: Setup, body: Record<string, unknown> = {}) => {
  const res = await api('POST', '/v1/tasks', s.acct.adminKey, { content: 'Effects', ...body });
  expect(res.status).toBe(201);
  return res.body.id as string;
};
const claim = async (s: Setup, id: string) => expect((await api('POST', `/v1/tasks/${id}/claim`, s.worker.key)).status).toBe(200);

interface Row {
  /** Makes what the change needs; answers the task the change is about. */
  arrange: (s: Setup) => Promise<string>;
  act: (s: Setup, taskId: string) => Promise<string | void>;
  /** What is true of the change as `act` makes it (the table's conditions). */
  facts: Facts;
  /** Who the events name: the admin, the worker, or nobody (the system). */
  by: 'admin' | 'worker' | null;
}

const ok = (res: { status: number }, status = 200) => expect(res.status).toBe(status);
/** Refused with a 4xx (which one is the access suites' business). */
const refused = (res: { status: number }) => expect([400, 402, 403, 404, 409, 422]).toContain(res.status);

const ROWS: Partial<Record<Change, Row>> = {
  'tasks.create': {
    arrange: async () => '',
    act: async (s) => {
      const res = await api('POST', '/v1/tasks', s.acct.adminKey, { content: 'New', assigned_to_agent_id: s.worker.id });
      ok(res, 201);
      return res.body.id;
    },
    facts: { assigned: true },
    by: 'admin',
  },
  'tasks.update': {
    arrange: (s) => newTask(s),
    act: async (s, id) =>
      ok(await api('PUT', `/v1/tasks/${id}`, s.acct.adminKey, { content: 'Renamed', assigned_to_agent_id: s.worker.id })),
    facts: { changed: true, newly_assigned: true, claimability_changed: true },
    by: 'admin',
  },
  'tasks.delete': {
    arrange: (s) => newTask(s),
    act: async (s, id) => ok(await api('DELETE', `/v1/tasks/${id}`, s.acct.adminKey)),
    facts: {},
    by: 'admin',
  },
  'tasks.complete': {
    arrange: (s) => newTask(s),
    act: async (s, id) => ok(await api('POST', `/v1/tasks/${id}/complete`, s.acct.adminKey, {})),
    facts: {},
    by: 'admin',
  },
  'tasks.uncomplete': {
    arrange: async (s) => {
      const id = await newTask(s);
      ok(await api('POST', `/v1/tasks/${id}/complete`, s.acct.adminKey, {}));
      return id;
    },
    act: async (s, id) => ok(await api('POST', `/v1/tasks/${id}/uncomplete`, s.acct.adminKey)),
    facts: {},
    by: 'admin',
  },
  'tasks.delegate': {
    arrange: (s) => newTask(s),
    act: async (s, id) => {
      const res = await api('POST', `/v1/tasks/${id}/delegate`, s.acct.adminKey, { content: 'Child', assigned_to_agent_id: s.worker.id });
      ok(res, 201);
      return res.body.id;
    },
    facts: { assigned: true },
    by: 'admin',
  },
  'tasks.comments.write': {
    arrange: (s) => newTask(s),
    act: async (s, id) => ok(await api('POST', `/v1/tasks/${id}/comments`, s.acct.adminKey, { content: 'A note' }), 201),
    facts: {},
    by: 'admin',
  },
  'tasks.links.write': {
    arrange: (s) => newTask(s),
    act: async (s, id) => ok(await api('POST', `/v1/tasks/${id}/links`, s.acct.adminKey, { kind: 'branch', ref: 'feature/x' }), 201),
    facts: {},
    by: 'admin',
  },
  'queue.claim_next': {
    arrange: (s) => newTask(s),
    act: async (s, id) => {
      const res = await api('POST', '/v1/tasks/claim', s.worker.key, {});
      ok(res);
      expect(res.body.task.id).toBe(id);
    },
    facts: { new_claim: true },
    by: 'worker',
  },
  'queue.claim': {
    arrange: (s) => newTask(s),
    act: async (s, id) => claim(s, id),
    facts: { new_claim: true },
    by: 'worker',
  },
  'queue.heartbeat': {
    arrange: async (s) => {
      const id = await newTask(s);
      await claim(s, id);
      return id;
    },
    act: async (s, id) => ok(await api('POST', `/v1/tasks/${id}/heartbeat`, s.worker.key, { state: 'errored' })),
    facts: { state_changed: true },
    by: 'worker',
  },
  'queue.state': {
    arrange: async (s) => {
      const id = await newTask(s);
      await claim(s, id);
      return id;
    },
    act: async (s, id) => ok(await api('POST', `/v1/tasks/${id}/state`, s.worker.key, { state: 'errored', detail: 'stuck' })),
    facts: { state_changed: true },
    by: 'worker',
  },
  'queue.release': {
    arrange: async (s) => {
      const id = await newTask(s);
      await claim(s, id);
      return id;
    },
    act: async (s, id) => ok(await api('POST', `/v1/tasks/${id}/release`, s.worker.key, {})),
    facts: {},
    by: 'worker',
  },
  'queue.lease_expired': {
    arrange: async (s) => {
      const id = await newTask(s);
      await claim(s, id);
      return id;
    },
    act: async (s, id) => {
      await expireLease(id);
      expect(await runDurableObjectAlarm(claimQueueOf(env, s.acct.accountId))).toBe(true);
    },
    facts: {},
    by: null,
  },
  'recurrences.spawn': {
    arrange: async (s) => {
      const res = await api('POST', '/v1/recurrences', s.acct.adminKey, {
        rule_type: 'daily',
        content: 'Every day',
        assigned_to_agent_id: s.worker.id,
      });
      ok(res, 201);
      // Due a minute ago: the scheduler reads only the table.
      const due = Date.now() - 60_000;
      await db()
        .update(recurrences)
        .set({ nextDueAt: isoSeconds(due), timeOfDay: new Date(due).toISOString().slice(11, 19) })
        .where(eq(recurrences.id, res.body.id));
      return res.body.id as string;
    },
    act: async (_s, recurrenceId) => {
      await spawnDueRecurrences(env, Date.now());
      const spawned = await db().select({ id: tasks.id }).from(tasks).where(eq(tasks.sourceRecurrenceId, recurrenceId));
      expect(spawned).toHaveLength(1);
      return spawned[0]!.id;
    },
    facts: { assigned: true },
    by: null,
  },
};

/** Rows whose events other suites check through their own entry points (not an API write by a key). */
const ELSEWHERE: Partial<Record<Change, string>> = {
  'queue.hold_abandoned': 'test/work-queue/queue.test.ts (a held claim whose client went away)',
  'decisions.answer': 'test/decisions/answers.test.ts',
  'ingress.deliver': 'test/ingress/deliveries.test.ts',
  'automations.field_action': 'test/automations/engine.test.ts',
  'automations.add_comment': 'test/automations/engine.test.ts',
  'automations.create_task': 'test/automations/engine.test.ts',
  'automations.delegate': 'test/automations/engine.test.ts',
};

describe('the effects table is what each change records', () => {
  it('every row of the table is performed here or named with the suite that does', () => {
    const rows = Object.keys(EFFECTS) as Change[];
    expect(rows.filter((r) => !(r in ROWS) && !(r in ELSEWHERE))).toEqual([]);
  });

  for (const [change, row] of Object.entries(ROWS) as [Change, Row][]) {
    it(`${change}: ${eventsOf(change, row.facts).join(', ')}`, async () => {
      const s = await setup();
      const arranged = await row.arrange(s);
      let subject = arranged;
      const got = await recordedBy(s.acct.accountId, async () => {
        const made = await row.act(s, arranged);
        subject = typeof made === 'string' ? made : arranged;
      });
      const agent = row.by === 'admin' ? s.acct.adminId : row.by === 'worker' ? s.worker.id : null;
      expect(got).toEqual(
        eventsOf(change, row.facts)
          .map((e) => `${e} ${subject} ${agent}`)
          .sort(),
      );
    });
  }

  it('a change whose condition does not hold records no conditional event (update that changes nothing, heartbeat without state)', async () => {
    const s = await setup();
    const id = await newTask(s, { content: 'Same' });
    expect(await recordedBy(s.acct.accountId, async () => ok(await api('PUT', `/v1/tasks/${id}`, s.acct.adminKey, {})))).toEqual([]);
    await claim(s, id);
    expect(await recordedBy(s.acct.accountId, async () => ok(await api('POST', `/v1/tasks/${id}/heartbeat`, s.worker.key, {})))).toEqual(
      [],
    );
    // Reporting the state it already has, without a detail, changes nothing either.
    ok(await api('POST', `/v1/tasks/${id}/state`, s.worker.key, { state: 'working' }));
    expect(
      await recordedBy(s.acct.accountId, async () => ok(await api('POST', `/v1/tasks/${id}/state`, s.worker.key, { state: 'working' }))),
    ).toEqual([]);
  });

  it('an account with neither webhooks nor rules records nothing', async () => {
    const acct = await makeAccount();
    await api('POST', '/v1/tasks', acct.adminKey, { content: 'Unheard' });
    expect(await outbox(acct.accountId)).toEqual([]);
  });
});

describe('an event exists exactly when its change committed', () => {
  it('refused writes (409, 402, 404) record no event', async () => {
    const s = await setup();
    const done = await newTask(s);
    ok(await api('POST', `/v1/tasks/${done}/complete`, s.acct.adminKey, {}));
    const held = await newTask(s);
    await claim(s, held);
    const other = await makeAgent(s.acct, 'worker');
    const got = await recordedBy(s.acct.accountId, async () => {
      ok(await api('POST', `/v1/tasks/${done}/complete`, s.acct.adminKey, {}), 409);
      ok(await api('PUT', `/v1/tasks/${done}`, s.acct.adminKey, { content: 'Too late' }), 409);
      ok(await api('POST', `/v1/tasks/${done}/links`, s.acct.adminKey, { kind: 'branch', ref: 'x' }), 409);
      refused(await api('POST', `/v1/tasks/${held}/claim`, other.key));
      refused(await api('POST', `/v1/tasks/${held}/release`, other.key, {}));
      refused(await api('POST', `/v1/tasks/${held}/heartbeat`, other.key, { state: 'errored' }));
      refused(await api('POST', `/v1/tasks/${held}/state`, other.key, { state: 'errored' }));
      ok(await api('POST', `/v1/tasks/${done}/delegate`, s.acct.adminKey, { content: 'Child' }), 409);
      ok(await api('POST', '/v1/tasks', s.acct.adminKey, { content: 'Nowhere', project_id: 'prj_missing' }), 404);
      ok(await api('POST', `/v1/tasks/tsk_missing/comments`, s.acct.adminKey, { content: 'x' }), 404);
    });
    expect(got).toEqual([]);
  });

  it('a create over the monthly quota records no event', async () => {
    const s = await setup();
    await db().run(
      `insert into usage_counters (account_id, period, tasks_created) values ('${s.acct.accountId}', '${new Date().toISOString().slice(0, 7)}', 1000000) on conflict (account_id, period) do update set tasks_created = 1000000` as never,
    );
    expect(
      await recordedBy(s.acct.accountId, async () => ok(await api('POST', '/v1/tasks', s.acct.adminKey, { content: 'Over' }), 402)),
    ).toEqual([]);
  });

  it('the relay marks each recorded event relayed once its deliveries are recorded', async () => {
    const s = await setup();
    const id = await newTask(s);
    await expect
      .poll(
        async () =>
          (
            await db()
              .select()
              .from(eventOutbox)
              .where(inArray(eventOutbox.taskId, [id]))
          )[0]?.relayedAt ?? null,
        { timeout: 10_000, interval: 50 },
      )
      .not.toBeNull();
  });
});
