/** The scheduler against real D1: exactly once, late runs, skip_if_open, the quota, webhooks, scale. */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/index';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it, vi } from 'vitest';
import { recurrences, tasks, usageCounters, webhookDeliveries } from '../../src/db/schema';
import { period } from '../../src/tasks/tasks';
import { isoSeconds } from '../../src/platform/time';
import { spawnDueRecurrences } from '../../src/recurrences/spawn';
import { countingD1 } from '../../src/platform/d1-metrics';
import { api, db, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';

const MINUTE = 60_000;
const DAY = 86_400_000;

/** A recurrence through the API, then made due at `due` (the scheduler reads only the table). */
async function dueRecurrence(acct: TestAccount, body: Record<string, unknown>, due: number): Promise<string> {
  const res = await api('POST', '/v1/recurrences', acct.adminKey, { rule_type: 'daily', ...body });
  expect(res.status).toBe(201);
  await db()
    .update(recurrences)
    .set({ nextDueAt: isoSeconds(due), timeOfDay: new Date(due).toISOString().slice(11, 19) })
    .where(eq(recurrences.id, res.body.id));
  return res.body.id as string;
}

const spawnedBy = (recurrenceId: string) => db().select().from(tasks).where(eq(tasks.sourceRecurrenceId, recurrenceId)).all();
const recurrence = (id: string) => db().select().from(recurrences).where(eq(recurrences.id, id)).get();

describe('spawning due recurrences', () => {
  it('spawns one ordinary task per occurrence, carrying the template and source_recurrence_id', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const now = Date.now();
    const id = await dueRecurrence(
      acct,
      {
        content: 'Rotate logs',
        description: 'All hosts',
        labels: ['ops'],
        priority: 3,
        assigned_to_agent_id: worker.id,
        project_id: acct.projectId,
      },
      now - MINUTE,
    );
    await spawnDueRecurrences(env, now);

    const spawned = await spawnedBy(id);
    expect(spawned).toHaveLength(1);
    expect(spawned[0]).toMatchObject({
      content: 'Rotate logs',
      description: 'All hosts',
      labels: '["ops"]',
      priority: 3,
      assignedToAgentId: worker.id,
      projectId: acct.projectId,
      createdByAgentId: acct.adminId,
      status: 'open',
    });
    const task = await api('GET', `/v1/tasks/${spawned[0]!.id}`, worker.key);
    expect(task.body).toMatchObject({ source_recurrence_id: id, labels: ['ops'] });
    // It is in the label listing and the counters like any task.
    expect((await api('GET', '/v1/tasks?label=ops', acct.adminKey)).body.map((t: { id: string }) => t.id)).toEqual([spawned[0]!.id]);

    const after = await recurrence(id);
    expect(after!.lastSpawnedAt).toBe(isoSeconds(now));
    expect(Date.parse(after!.nextDueAt)).toBe(now - MINUTE + DAY - ((now - MINUTE) % 1000));
  });

  it('spawns exactly once when the trigger runs twice, or two runs overlap', async () => {
    const acct = await makeAccount();
    const now = Date.now();
    const id = await dueRecurrence(acct, { content: 'Once' }, now - MINUTE);
    await Promise.all([spawnDueRecurrences(env, now), spawnDueRecurrences(env, now)]);
    await spawnDueRecurrences(env, now + 1000);
    expect(await spawnedBy(id)).toHaveLength(1);
    const usage = await db().select().from(usageCounters).where(eq(usageCounters.accountId, acct.accountId)).get();
    expect(usage?.tasksCreated).toBe(1);
  });

  it('spawns a long-missed occurrence once, then waits for the next one after now', async () => {
    const acct = await makeAccount();
    const now = Date.now();
    const id = await dueRecurrence(acct, { content: 'Missed' }, now - 3 * DAY - MINUTE);
    await spawnDueRecurrences(env, now);
    expect(await spawnedBy(id)).toHaveLength(1);
    const next = Date.parse((await recurrence(id))!.nextDueAt);
    expect(next).toBeGreaterThan(now);
    expect(next).toBeLessThanOrEqual(now + DAY);
    await spawnDueRecurrences(env, now + MINUTE);
    expect(await spawnedBy(id)).toHaveLength(1);
  });

  it('with skip_if_open, rolls forward without spawning while the previous instance is open', async () => {
    const acct = await makeAccount();
    const now = Date.now();
    const id = await dueRecurrence(acct, { content: 'Standup notes', skip_if_open: true }, now - MINUTE);
    await spawnDueRecurrences(env, now);
    const [first] = await spawnedBy(id);

    const dayLater = now + DAY;
    await spawnDueRecurrences(env, dayLater);
    expect(await spawnedBy(id)).toHaveLength(1);
    expect(Date.parse((await recurrence(id))!.nextDueAt)).toBeGreaterThan(dayLater);

    // The instance is completed: the next occurrence spawns, and the completion said when it is.
    const completed = await api('POST', `/v1/tasks/${first!.id}/complete`, acct.adminKey, {});
    expect(completed.status).toBe(200);
    expect(completed.body.next_occurrence).toBe((await recurrence(id))!.nextDueAt);
    await spawnDueRecurrences(env, dayLater + DAY);
    expect(await spawnedBy(id)).toHaveLength(2);
  });

  it('does not spawn paused or deleted recurrences, and the instances of a deleted one remain', async () => {
    const acct = await makeAccount();
    const now = Date.now();
    const paused = await dueRecurrence(acct, { content: 'Paused' }, now - MINUTE);
    await api('PUT', `/v1/recurrences/${paused}`, acct.adminKey, { active: false });
    await db()
      .update(recurrences)
      .set({ nextDueAt: isoSeconds(now - MINUTE) })
      .where(eq(recurrences.id, paused));
    const deleted = await dueRecurrence(acct, { content: 'Deleted later' }, now - MINUTE);
    await spawnDueRecurrences(env, now);
    expect(await spawnedBy(paused)).toHaveLength(0);
    expect(await api('DELETE', `/v1/recurrences/${deleted}`, acct.adminKey)).toMatchObject({ status: 200 });
    const kept = await spawnedBy(deleted);
    expect(kept).toHaveLength(1);
    expect((await api('GET', `/v1/tasks/${kept[0]!.id}`, acct.adminKey)).status).toBe(200);
    // A completed instance of a deleted recurrence answers no next occurrence.
    const done = await api('POST', `/v1/tasks/${kept[0]!.id}/complete`, acct.adminKey, {});
    expect(done.body).not.toHaveProperty('next_occurrence');
  });

  it('counts against the monthly task quota and skips the occurrence when it is used up', async () => {
    const acct = await makeAccount();
    const now = Date.now();
    await db()
      .insert(usageCounters)
      .values({ accountId: acct.accountId, period: period(now), tasksCreated: 999 });
    const a = await dueRecurrence(acct, { content: 'A' }, now - 2 * MINUTE);
    const b = await dueRecurrence(acct, { content: 'B' }, now - MINUTE);
    await spawnDueRecurrences(env, now);
    expect(await spawnedBy(a)).toHaveLength(1);
    expect(await spawnedBy(b)).toHaveLength(0);
    expect((await db().select().from(usageCounters).where(eq(usageCounters.accountId, acct.accountId)).get())?.tasksCreated).toBe(1000);
    // B's occurrence is passed over, not retried in a burst.
    expect(Date.parse((await recurrence(b))!.nextDueAt)).toBeGreaterThan(now);
  });

  it('emits task.created and task.assigned for the spawned task like any created task', async () => {
    const acct = await makeAccount();
    const hook = await api('POST', '/v1/webhooks', acct.adminKey, {
      url: 'https://hooks.example.com/delega',
      events: ['task.created', 'task.assigned'],
    });
    expect(hook.status).toBe(201);
    const now = Date.now();
    const id = await dueRecurrence(acct, { content: 'Hooked', assigned_to_agent_id: acct.adminId }, now - MINUTE);
    await spawnDueRecurrences(env, now);
    const [task] = await spawnedBy(id);
    const deliveries = await db().select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hook.body.id)).all();
    expect(deliveries.map((d) => d.event).sort()).toEqual(['task.assigned', 'task.created']);
    for (const d of deliveries) expect(JSON.parse(d.payload).task).toMatchObject({ id: task!.id, source_recurrence_id: id });
  });

  it('is what the Cron Trigger runs', async () => {
    const acct = await makeAccount();
    const id = await dueRecurrence(acct, { content: 'Cron' }, Date.now() - MINUTE);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await spawnedBy(id)).toHaveLength(1);
  });

  it('spawns 1,200 recurrences due in the same minute in batches, within two runs at two batches a run', async () => {
    const acct = await makeAccount();
    const now = Date.now();
    const due = isoSeconds(now - MINUTE);
    // Their next time is half a day on, so the runs below never reach it (at 00:00 a run just before midnight would).
    const timeOfDay = new Date(now + 12 * 60 * MINUTE).toISOString().slice(11, 19);
    // Inserted directly: 1,200 API calls would only slow the test.
    await db().run(sql`insert into recurrences (id, account_id, content, created_by_agent_id, rule_type, timezone, time_of_day, next_due_at, created_at, updated_at)
      select 'rec_bulk_' || ${acct.accountId} || '_' || value, ${acct.accountId}, 'Bulk ' || value, ${acct.adminId}, 'daily', 'UTC', ${timeOfDay}, ${due}, ${due}, ${due}
      from (with recursive n(value) as (select 1 union all select value + 1 from n where value < 1200) select value from n)`);
    const limited = {
      ...env,
      LIMIT_RECURRENCE_SPAWN_BATCH: '300',
      LIMIT_RECURRENCE_SPAWN_BATCHES_PER_RUN: '2',
      LIMIT_TASKS_PER_MONTH: '5000',
    };
    const first = await spawnDueRecurrences(limited, now);
    expect(first).toMatchObject({ batches: 2, spawned: 600 });
    const second = await spawnDueRecurrences(limited, now + MINUTE);
    expect(second).toMatchObject({ batches: 2, spawned: 600 });
    const count = await db().get<{ n: number }>(sql`select count(*) as n from tasks where account_id = ${acct.accountId}`);
    expect(count?.n).toBe(1200);
    expect((await spawnDueRecurrences(limited, now + 2 * MINUTE)).spawned).toBe(0);
  });

  it('reads rows in proportion to what is due, not to every active recurrence', async () => {
    const acct = await makeAccount();
    const now = Date.now();
    const insert = (count: number, prefix: string, due: string) =>
      db().run(sql`insert into recurrences (id, account_id, content, created_by_agent_id, rule_type, timezone, time_of_day, next_due_at, created_at, updated_at)
        select ${prefix} || ${acct.accountId} || '_' || value, ${acct.accountId}, 'Later ' || value, ${acct.adminId}, 'daily', 'UTC', '00:00:00', ${due}, ${due}, ${due}
        from (with recursive n(value) as (select 1 union all select value + 1 from n where value < ${count}) select value from n)`);
    await insert(5000, 'rec_later_', isoSeconds(now + DAY));
    await insert(10, 'rec_due_', isoSeconds(now - MINUTE));
    const counter = { count: 0, rowsRead: 0 };
    const report = await spawnDueRecurrences({ ...env, DB: countingD1(env.DB, counter) }, now);
    expect(report.spawned).toBe(10);
    // Through the due index per item, the advancing UPDATE alone would read 5,010 rows for each of the 10.
    expect(counter.rowsRead, `read ${counter.rowsRead} rows`).toBeLessThan(1000);
  });

  it('pauses a recurrence whose schedule cannot be computed, and spawns the others', async () => {
    const acct = await makeAccount();
    const now = Date.now();
    const broken = await dueRecurrence(acct, { content: 'Broken zone' }, now - 2 * MINUTE);
    await db().update(recurrences).set({ timezone: 'Mars/Olympus' }).where(eq(recurrences.id, broken));
    const fine = await dueRecurrence(acct, { content: 'Fine' }, now - MINUTE);
    await spawnDueRecurrences(env, now);
    expect(await spawnedBy(fine)).toHaveLength(1);
    expect(await spawnedBy(broken)).toHaveLength(0);
    expect((await recurrence(broken))!.active).toBe(false);
  });

  it('is seen by automation rules like any created task (an account with rules and no webhooks)', async () => {
    const acct = await makeAccount();
    const rule = await api('POST', '/v1/automations', acct.adminKey, {
      name: 'Tag spawned',
      event: 'task.created',
      conditions: [],
      actions: [{ type: 'add_label', label: 'from-rule' }],
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const now = Date.now();
    const id = await dueRecurrence(acct, { content: 'Ruled' }, now - MINUTE);
    await spawnDueRecurrences(env, now);
    const [task] = await spawnedBy(id);
    // The rule runs in the queue consumer: wait for its label to appear.
    await vi.waitUntil(async () => (await api('GET', `/v1/tasks/${task!.id}`, acct.adminKey)).body.labels.includes('from-rule'), {
      timeout: 10_000,
      interval: 50,
    });
  });
});
