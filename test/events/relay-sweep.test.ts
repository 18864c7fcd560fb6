/**
 * The outbox relay: a recorded event the relay after the answer never reached (a crash just after
 * the answer) is relayed by the scheduled sweep after its grace period, once; the relay and the
 * sweep racing for a row record each delivery once.
 */
import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventOutbox, webhookDeliveries } from '../../src/db/schema';
import { relayEvents } from '../../src/events/relay';
import { newId } from '../../src/platform/ids';
import { isoSeconds } from '../../src/platform/time';
import { scheduled } from '../../src/scheduled';
import { api, db, makeAccount, type TestAccount } from '../helpers/fixtures';
import { installReceivers, makeReceiver } from '../helpers/webhook-receiver';

let spy: ReturnType<typeof installReceivers>;
beforeAll(() => {
  spy = installReceivers();
});
afterAll(() => spy.mockRestore());

const GRACE_MS = 60_000;

async function account(): Promise<{ acct: TestAccount; webhookId: string; taskId: string }> {
  const acct = await makeAccount();
  const hook = await api('POST', '/v1/webhooks', acct.adminKey, { url: makeReceiver().url, events: ['task.updated', 'task.deleted'] });
  expect(hook.status).toBe(201);
  const task = await api('POST', '/v1/tasks', acct.adminKey, { content: 'Swept' });
  expect(task.status).toBe(201);
  return { acct, webhookId: hook.body.id, taskId: task.body.id };
}

/** An outbox row as a committed write leaves it when the process died before its relay. */
async function unrelayed(acct: TestAccount, taskId: string, opts: { event?: string; ageMs: number; task?: unknown }): Promise<string> {
  const id = newId('evt');
  await db()
    .insert(eventOutbox)
    .values({
      id,
      accountId: acct.accountId,
      event: opts.event ?? 'task.updated',
      agentId: acct.adminId,
      taskId,
      task: opts.task === undefined ? null : JSON.stringify(opts.task),
      createdAt: isoSeconds(Date.now() - opts.ageMs),
    });
  return id;
}

const deliveriesOf = (webhookId: string) => db().select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, webhookId));
const row = async (id: string) => (await db().select().from(eventOutbox).where(eq(eventOutbox.id, id)))[0]!;
const runCron = () => scheduled({ scheduledTime: Date.now(), cron: '* * * * *', noRetry() {} } as ScheduledController, env);

describe('the relay sweep', () => {
  it('relays a row left unrelayed past the grace period, with the task as it is now, exactly once', async () => {
    const { acct, webhookId, taskId } = await account();
    expect((await api('PUT', `/v1/tasks/${taskId}`, acct.adminKey, { content: 'Renamed since' })).status).toBe(200);
    await expect.poll(async () => (await deliveriesOf(webhookId)).length, { timeout: 10_000, interval: 50 }).toBe(1);
    const id = await unrelayed(acct, taskId, { ageMs: GRACE_MS + 5_000 });

    await runCron();
    expect((await row(id)).relayedAt).not.toBeNull();
    const deliveries = (await deliveriesOf(webhookId)).filter((d) => JSON.parse(d.payload).task.content === 'Renamed since');
    expect(deliveries).toHaveLength(2);
    for (const d of deliveries)
      expect(JSON.parse(d.payload)).toMatchObject({
        event: 'task.updated',
        task: { id: taskId },
        agent: { id: acct.adminId },
        account_id: acct.accountId,
      });

    // Nothing is left for the next run: no second delivery.
    await runCron();
    expect((await deliveriesOf(webhookId)).filter((d) => JSON.parse(d.payload).task.content === 'Renamed since')).toHaveLength(2);
  });

  it('leaves a row within the grace period to the relay after the answer', async () => {
    const { acct, webhookId, taskId } = await account();
    const id = await unrelayed(acct, taskId, { ageMs: 1_000 });
    await runCron();
    expect((await row(id)).relayedAt).toBeNull();
    expect(await deliveriesOf(webhookId)).toHaveLength(0);
  });

  it('relays a deleted task with the JSON recorded at the delete', async () => {
    const { acct, webhookId, taskId } = await account();
    const snapshot = { id: taskId, content: 'As it was' };
    const id = await unrelayed(acct, taskId, { event: 'task.deleted', ageMs: GRACE_MS + 5_000, task: snapshot });
    await runCron();
    expect((await row(id)).relayedAt).not.toBeNull();
    const [delivery] = await deliveriesOf(webhookId);
    expect(JSON.parse(delivery!.payload)).toMatchObject({ event: 'task.deleted', task: snapshot });
  });

  it('the relay and the sweep racing for one row record its delivery once', async () => {
    const { acct, webhookId, taskId } = await account();
    const id = await unrelayed(acct, taskId, { ageMs: GRACE_MS + 5_000 });
    const event = { id, event: 'task.updated' as const, accountId: acct.accountId, agentId: acct.adminId, task: { id: taskId } };
    await Promise.all([relayEvents(env, [event]), relayEvents(env, [event]), runCron()]);
    expect(await deliveriesOf(webhookId)).toHaveLength(1);
  });

  it('relays nothing for an event that was never recorded (its write did not commit)', async () => {
    const { acct, webhookId, taskId } = await account();
    await relayEvents(env, [
      { id: newId('evt'), event: 'task.updated', accountId: acct.accountId, agentId: acct.adminId, task: { id: taskId } },
    ]);
    expect(await deliveriesOf(webhookId)).toHaveLength(0);
  });
});

describe('outbox retention', () => {
  it('the clean-up deletes relayed rows past their retention and keeps the rest', async () => {
    const { acct, taskId } = await account();
    const DAY = 24 * 3600_000;
    const old = await unrelayed(acct, taskId, { ageMs: 10 * DAY });
    const recent = await unrelayed(acct, taskId, { ageMs: 10 * DAY });
    const never = await unrelayed(acct, taskId, { ageMs: 10 * DAY });
    await db()
      .update(eventOutbox)
      .set({ relayedAt: isoSeconds(Date.now() - 8 * DAY) })
      .where(eq(eventOutbox.id, old));
    await db()
      .update(eventOutbox)
      .set({ relayedAt: isoSeconds(Date.now() - 6 * DAY) })
      .where(eq(eventOutbox.id, recent));
    const { deleteExpired } = await import('../../src/retention/cleanup');
    // The clean-up alone: a row not relayed yet stays for the sweep.
    await deleteExpired(env, Date.now());
    const left = (await db().select({ id: eventOutbox.id }).from(eventOutbox).where(eq(eventOutbox.accountId, acct.accountId))).map(
      (r) => r.id,
    );
    expect(left).not.toContain(old);
    expect(left).toContain(recent);
    expect(left).toContain(never);
  });
});
