/**
 * A delivery is recorded in D1 before its queue message is sent, and the queue retries it from
 * there. A crash between the two, or a message lost with its queue, would leave it pending
 * forever; so a scheduled job queues again every delivery still pending or retrying long after
 * its last change (WEBHOOK_REQUEUE_AFTER_SECONDS, longer than any retry delay). A message that
 * was only late makes a duplicate, which receivers must expect anyway (at least once); one for a
 * delivery that has finished is skipped by the consumer.
 */
import { and, asc, inArray, lt } from 'drizzle-orm';
import { database } from '../db/client';
import { webhookDeliveries } from '../db/schema';
import type { Env } from '../env';
import { limit } from '../platform/config';
import { isoSeconds } from '../platform/time';
import { sendMessages } from './deliveries';
import { writtenLimit } from '../db/written-limit';

/** Deliveries queued again per run at most (a Queue `sendBatch` takes 100). */
const REQUEUE_PER_RUN = 100;

/** Queues the stuck deliveries again and marks them changed now; answers how many. */
export async function requeueStuckDeliveries(env: Env, now: number): Promise<number> {
  const db = database(env.DB);
  const stuck = and(
    inArray(webhookDeliveries.status, ['pending', 'retrying']),
    lt(webhookDeliveries.updatedAt, isoSeconds(now - limit(env, 'WEBHOOK_REQUEUE_AFTER_SECONDS') * 1000)),
  );
  const rows = await db
    .select({ id: webhookDeliveries.id, webhookId: webhookDeliveries.webhookId, accountId: webhookDeliveries.accountId })
    .from(webhookDeliveries)
    .where(stuck)
    .orderBy(asc(webhookDeliveries.updatedAt))
    .limit(writtenLimit(REQUEUE_PER_RUN));
  if (rows.length === 0) return 0;
  // Marked first: if the send fails, sendMessages marks them failed (with a record) instead.
  await db
    .update(webhookDeliveries)
    .set({ updatedAt: isoSeconds(now) })
    .where(
      and(
        stuck,
        inArray(
          webhookDeliveries.id,
          rows.map((r) => r.id),
        ),
      ),
    );
  await sendMessages(env, db, rows);
  return rows.length;
}

export const requeueJob = {
  name: 'webhook-requeue',
  async run(env: Env, now: number): Promise<void> {
    const requeued = await requeueStuckDeliveries(env, now);
    if (requeued > 0) console.log(JSON.stringify({ level: 'info', message: 'stuck webhook deliveries queued again', requeued }));
  },
};
