/**
 * The scheduled clean-up: each kind of record goes once it has outlived its retention, and
 * nothing else goes (live, pending or recent rows stay), run through the Worker's own
 * `scheduled` handler as the Cron Trigger calls it.
 */
import { createScheduledController, env } from 'cloudflare:test';
import { inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  automationEffects,
  automationRuns,
  codeLockouts,
  emailCodes,
  idempotencyKeys,
  ingressDeliveries,
  runs,
  stripeEvents,
  webhookAttempts,
  webhookDeliveries,
} from '../../src/db/schema';
import worker from '../../src/index';
import { isoSeconds } from '../../src/platform/time';
import { api, db, makeAccount, unique } from '../helpers/fixtures';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2026-09-01T12:00:00Z');
const at = (ms: number) => isoSeconds(NOW + ms);

async function tick(overrides: Partial<typeof env> = {}, now = NOW) {
  await worker.scheduled(createScheduledController({ scheduledTime: now, cron: '* * * * *' }), { ...env, ...overrides });
}

const ids = <T extends { id: string }>(rows: T[]) => rows.map((r) => r.id).sort();

describe('the scheduled clean-up', () => {
  it('removes what outlived its retention and nothing else', async () => {
    const account = await makeAccount();
    const u = unique('c');
    // Idempotency records: gone once expired.
    await db()
      .insert(idempotencyKeys)
      .values([
        { scopeKey: `${u}-idem-expired`, requestHash: 'h', status: 200, createdAt: at(-25 * HOUR), expiresAt: at(-HOUR) },
        { scopeKey: `${u}-idem-live`, requestHash: 'h', status: 200, createdAt: at(-HOUR), expiresAt: at(23 * HOUR) },
      ]);
    // Email codes: gone a day after they expired, used or not.
    const code = (name: string, expiresIn: number, used: boolean) => ({
      id: `${u}-code-${name}`,
      accountId: account.accountId,
      email: `${u}@example.com`,
      purpose: 'verify' as const,
      codeHash: 'x',
      expiresAt: at(expiresIn),
      usedAt: used ? at(expiresIn - 60_000) : null,
      createdAt: at(expiresIn - 15 * 60_000),
    });
    await db()
      .insert(emailCodes)
      .values([
        code('old-used', -25 * HOUR, true),
        code('old-unused', -25 * HOUR, false),
        code('recent-expired', -HOUR, false),
        code('used-live', 10 * 60_000, true),
      ]);
    // Webhook deliveries: finished ones gone after 30 days with their attempts; in-flight ones stay.
    const delivery = (name: string, ageDays: number, status: 'pending' | 'succeeded' | 'retrying' | 'failed') => ({
      id: `${u}-dlv-${name}`,
      webhookId: 'whk_x',
      accountId: account.accountId,
      event: 'task.created',
      payload: '{}',
      status,
      createdAt: at(-ageDays * DAY),
      updatedAt: at(-ageDays * DAY),
    });
    await db()
      .insert(webhookDeliveries)
      .values([
        delivery('old-ok', 31, 'succeeded'),
        delivery('old-failed', 40, 'failed'),
        delivery('old-retrying', 31, 'retrying'),
        delivery('recent-ok', 29, 'succeeded'),
      ]);
    const attempt = (delivery: string, n: number, ageDays: number) => ({
      id: `${u}-att-${delivery}-${n}`,
      deliveryId: `${u}-dlv-${delivery}`,
      webhookId: 'whk_x',
      attempt: n,
      statusCode: 500,
      durationMs: 5,
      createdAt: at(-ageDays * DAY),
    });
    await db()
      .insert(webhookAttempts)
      .values([
        attempt('old-ok', 1, 31),
        attempt('old-ok', 2, 31),
        attempt('old-failed', 1, 40),
        attempt('old-retrying', 1, 31),
        attempt('recent-ok', 1, 29),
      ]);
    // Runs: ended ones gone 90 days after they ended; open ones stay however old.
    const run = (name: string, claimedDaysAgo: number, endedDaysAgo: number | null) => ({
      id: `${u}-run-${name}`,
      accountId: account.accountId,
      agentId: account.adminId,
      taskId: `tsk_${name}`,
      claimedAt: at(-claimedDaysAgo * DAY),
      claimedAtMs: NOW - claimedDaysAgo * DAY,
      endedAt: endedDaysAgo === null ? null : at(-endedDaysAgo * DAY),
      outcome: endedDaysAgo === null ? null : ('completed' as const),
      durationMs: endedDaysAgo === null ? null : 1000,
    });
    await db()
      .insert(runs)
      .values([run('old-ended', 100, 91), run('ended-recently', 100, 89), run('old-open', 200, null)]);

    await tick();

    const left = async () => ({
      idempotency: (
        await db()
          .select({ id: idempotencyKeys.scopeKey })
          .from(idempotencyKeys)
          .where(inArray(idempotencyKeys.scopeKey, [`${u}-idem-expired`, `${u}-idem-live`]))
      )
        .map((r) => r.id)
        .sort(),
      codes: ids(
        await db()
          .select({ id: emailCodes.id })
          .from(emailCodes)
          .where(inArray(emailCodes.accountId, [account.accountId])),
      ),
      deliveries: ids(
        await db()
          .select({ id: webhookDeliveries.id })
          .from(webhookDeliveries)
          .where(inArray(webhookDeliveries.accountId, [account.accountId])),
      ),
      attempts: ids(
        await db()
          .select({ id: webhookAttempts.id })
          .from(webhookAttempts)
          .where(inArray(webhookAttempts.webhookId, ['whk_x'])),
      ),
      runs: ids(
        await db()
          .select({ id: runs.id })
          .from(runs)
          .where(inArray(runs.accountId, [account.accountId])),
      ),
    });
    expect(await left()).toEqual({
      idempotency: [`${u}-idem-live`],
      codes: [`${u}-code-recent-expired`, `${u}-code-used-live`],
      deliveries: [`${u}-dlv-old-retrying`, `${u}-dlv-recent-ok`],
      attempts: [`${u}-att-old-retrying-1`, `${u}-att-recent-ok-1`],
      runs: [`${u}-run-ended-recently`, `${u}-run-old-open`],
    });
    // Retention is configuration: a shorter one removes more.
    await tick({ LIMIT_RUN_RETENTION_DAYS: '30', LIMIT_EMAIL_CODE_RETENTION_HOURS: '0.5' });
    expect((await left()).runs).toEqual([`${u}-run-old-open`]);
    expect((await left()).codes).toEqual([`${u}-code-used-live`]);
  });

  it('removes Stripe event ids, ended code lockouts, automation effects and runs, and ingress delivery logs past their retention, and nothing else', async () => {
    const u = unique('r');
    const [locked, ended, quietUnlocked, recent] = await Promise.all([makeAccount(), makeAccount(), makeAccount(), makeAccount()]);
    const account = locked;
    // Stripe event ids: 90 days by default, and never under 30 whatever the setting.
    const event = (name: string, ageDays: number) => ({
      id: `evt_${u}_${name}`,
      type: 'checkout.session.completed',
      receipt: 'r',
      receivedAt: at(-ageDays * DAY),
    });
    await db()
      .insert(stripeEvents)
      .values([event('old', 91), event('kept', 89), event('month', 20)]);
    // Code lockouts: gone a week after their last change once the lock has ended; a current lock stays however old.
    const lockout = (accountId: string, updatedDaysAgo: number, lockedUntil: string | null) => ({
      accountId,
      failures: 3,
      lockouts: 2,
      lockedUntil,
      updatedAt: at(-updatedDaysAgo * DAY),
    });
    await db()
      .insert(codeLockouts)
      .values([
        lockout(locked.accountId, 8, at(HOUR)),
        lockout(ended.accountId, 8, at(-8 * DAY + 900_000)),
        lockout(quietUnlocked.accountId, 8, null),
        lockout(recent.accountId, 2, at(-2 * DAY + 900_000)),
      ]);
    // Automation effect keys: 30 days (never under 15), except those that mark a task a rule made while it lives.
    const task = (await api('POST', '/v1/tasks', account.adminKey, { content: 'made by a rule' })).body.id as string;
    const effect = (name: string, ageDays: number, createdTaskId: string | null = null) => ({
      key: `${u}-eff-${name}`,
      originEventId: `evt-${u}-${name}`,
      ruleId: 'aut_x',
      accountId: account.accountId,
      createdTaskId,
      createdAt: at(-ageDays * DAY),
    });
    await db()
      .insert(automationEffects)
      .values([effect('old', 31), effect('kept', 29), effect('fortnight', 10), effect('made-task', 40, task)]);
    // Automation run logs and ingress delivery logs: 30 days.
    const automationRun = (name: string, ageDays: number) => ({
      id: `${u}-arn-${name}`,
      ruleId: 'aut_x',
      accountId: account.accountId,
      eventId: `evt-${u}-${name}`,
      event: 'task.created',
      taskId: null,
      hop: 0,
      status: 'succeeded' as const,
      actions: '[]',
      createdAt: at(-ageDays * DAY),
    });
    await db()
      .insert(automationRuns)
      .values([automationRun('old', 31), automationRun('kept', 29)]);
    const ingress = (name: string, ageDays: number) => ({
      id: `${u}-idv-${name}`,
      sourceId: 'ing_x',
      accountId: account.accountId,
      outcome: 'created',
      statusCode: 201,
      bodySha256: 'h',
      bodyBytes: 2,
      signatureSha256: null,
      taskId: null,
      createdAt: at(-ageDays * DAY),
    });
    await db()
      .insert(ingressDeliveries)
      .values([ingress('old', 31), ingress('kept', 29)]);

    const left = async () => ({
      stripe: ids(
        await db()
          .select({ id: stripeEvents.id })
          .from(stripeEvents)
          .where(
            inArray(
              stripeEvents.id,
              ['old', 'kept', 'month'].map((n) => `evt_${u}_${n}`),
            ),
          ),
      ),
      lockouts: (
        await db()
          .select({ id: codeLockouts.accountId })
          .from(codeLockouts)
          .where(
            inArray(
              codeLockouts.accountId,
              [locked, ended, quietUnlocked, recent].map((a) => a.accountId),
            ),
          )
      )
        .map((r) => r.id)
        .sort(),
      effects: (
        await db()
          .select({ key: automationEffects.key })
          .from(automationEffects)
          .where(inArray(automationEffects.accountId, [account.accountId]))
      )
        .map((r) => r.key)
        .sort(),
      automationRuns: ids(
        await db()
          .select({ id: automationRuns.id })
          .from(automationRuns)
          .where(inArray(automationRuns.accountId, [account.accountId])),
      ),
      ingress: ids(
        await db()
          .select({ id: ingressDeliveries.id })
          .from(ingressDeliveries)
          .where(inArray(ingressDeliveries.accountId, [account.accountId])),
      ),
    });

    await tick();
    expect(await left()).toEqual({
      stripe: [`evt_${u}_kept`, `evt_${u}_month`],
      lockouts: [locked.accountId, recent.accountId].sort(),
      effects: [`${u}-eff-fortnight`, `${u}-eff-kept`, `${u}-eff-made-task`],
      automationRuns: [`${u}-arn-kept`],
      ingress: [`${u}-idv-kept`],
    });

    // Settings shorten retention, but never below what a retried Stripe event or a redelivered automation event needs.
    await tick({
      LIMIT_STRIPE_EVENT_RETENTION_DAYS: '1',
      LIMIT_AUTOMATION_EFFECT_RETENTION_DAYS: '1',
      LIMIT_AUTOMATION_RUN_RETENTION_DAYS: '20',
      LIMIT_INGRESS_DELIVERY_RETENTION_DAYS: '20',
    });
    expect(await left()).toMatchObject({
      stripe: [`evt_${u}_month`],
      effects: [`${u}-eff-fortnight`, `${u}-eff-made-task`],
      automationRuns: [],
      ingress: [],
    });

    // Deleting the task a rule made unmarks its effect key, which then goes like the others.
    expect((await api('DELETE', `/v1/tasks/${task}`, account.adminKey)).status).toBe(200);
    await tick();
    expect((await left()).effects).toEqual([`${u}-eff-fortnight`]);
  });

  it('deletes in bounded batches: a backlog goes over several runs', async () => {
    const u = unique('b');
    await db()
      .insert(idempotencyKeys)
      .values(
        Array.from({ length: 25 }, (_, i) => ({ scopeKey: `${u}-${i}`, requestHash: 'h', createdAt: at(-2 * DAY), expiresAt: at(-DAY) })),
      );
    const mine = async () =>
      (
        await db()
          .select({ id: idempotencyKeys.scopeKey })
          .from(idempotencyKeys)
          .where(
            inArray(
              idempotencyKeys.scopeKey,
              Array.from({ length: 25 }, (_, i) => `${u}-${i}`),
            ),
          )
      ).length;
    const small = { LIMIT_CLEANUP_BATCH_ROWS: '4', LIMIT_CLEANUP_BATCHES_PER_RUN: '2' };
    // Other tests' expired records may go first; each run deletes at most 8 rows.
    const before = (await db().select({ id: idempotencyKeys.scopeKey }).from(idempotencyKeys)).length;
    await tick(small);
    const after = (await db().select({ id: idempotencyKeys.scopeKey }).from(idempotencyKeys)).length;
    expect(before - after).toBe(8);
    for (let i = 0; i < 10 && (await mine()) > 0; i++) await tick(small);
    expect(await mine()).toBe(0);
  });

  it('a failing job does not stop the others', async () => {
    const { jobs } = await import('../../src/scheduled');
    const ran: string[] = [];
    jobs.unshift({ name: 'broken', run: () => Promise.reject(new Error('boom')) });
    jobs.push({ name: 'probe', run: async () => void ran.push('probe') });
    try {
      await tick();
      expect(ran).toEqual(['probe']);
    } finally {
      jobs.shift();
      jobs.pop();
    }
  });
});
