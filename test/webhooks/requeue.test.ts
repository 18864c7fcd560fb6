/**
 * Deliveries left pending or retrying long after their last change (their queue message died,
 * e.g. with a crashed server) are queued again by the scheduled job; deliveries that are
 * merely waiting, or finished, are left alone.
 */
import { env } from 'cloudflare:test';
import { inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { webhookDeliveries } from '../../src/db/schema';
import { isoSeconds } from '../../src/platform/time';
import { requeueStuckDeliveries } from '../../src/webhooks/requeue';
import { db, makeAccount, unique } from '../helpers/fixtures';

describe('queueing stuck webhook deliveries again', () => {
  it('queues what is stuck past the threshold, marks it, and leaves the rest', async () => {
    const account = await makeAccount();
    const now = Date.now();
    const u = unique('rq');
    const delivery = (name: string, status: 'pending' | 'retrying' | 'succeeded' | 'failed', ageSeconds: number) => ({
      id: `${u}-${name}`,
      webhookId: `whk_${u}`,
      accountId: account.accountId,
      event: 'task.created',
      payload: '{}',
      status,
      createdAt: isoSeconds(now - ageSeconds * 1000),
      updatedAt: isoSeconds(now - ageSeconds * 1000),
    });
    await db()
      .insert(webhookDeliveries)
      .values([
        delivery('stuck-pending', 'pending', 3 * 3600),
        delivery('stuck-retrying', 'retrying', 3 * 3600),
        delivery('waiting', 'retrying', 600),
        delivery('old-done', 'succeeded', 3 * 3600),
      ]);
    const requeued = await requeueStuckDeliveries(env, now);
    expect(requeued).toBe(2);
    const rows = await db()
      .select()
      .from(webhookDeliveries)
      .where(
        inArray(
          webhookDeliveries.id,
          ['stuck-pending', 'stuck-retrying', 'waiting', 'old-done'].map((n) => `${u}-${n}`),
        ),
      );
    const byName = Object.fromEntries(rows.map((r) => [r.id.slice(u.length + 1), r]));
    // Queued again and marked now, so the next minute's run does not queue them once more.
    expect(byName['stuck-pending']!.updatedAt).toBe(isoSeconds(now));
    expect(byName['stuck-retrying']!.updatedAt).toBe(isoSeconds(now));
    expect(byName.waiting!.updatedAt).toBe(isoSeconds(now - 600_000));
    expect(byName['old-done']).toMatchObject({ status: 'succeeded', updatedAt: isoSeconds(now - 3 * 3600_000) });
    expect(await requeueStuckDeliveries(env, now)).toBe(0);
  });
});
