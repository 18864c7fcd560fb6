/**
 * Task rows written straight to D1 (with their task_labels), for queue tests that need exact
 * priorities, ages, assignments and claim states.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { LEASE_KEY_PREFIX, claimQueueOf, type ClaimQueue } from '../../src/work-queue/claim-queue';
import { runs, taskLabels, tasks } from '../../src/db/schema';
import type { TaskRow } from '../../src/tasks/task-json';

type NewTaskRow = typeof tasks.$inferInsert;
import { newId } from '../../src/platform/ids';
import { isoSeconds } from '../../src/platform/time';
import { db, type TestAccount } from './fixtures';

export interface TaskSeed extends Partial<Omit<TaskRow, 'labels'>> {
  labels?: string[];
  /** Age in seconds: created this long before now (older tasks win ties on priority). */
  ageSeconds?: number;
}

/** The columns without a default; every other column takes the one in the schema, unless seeded. */
function rowFor(
  account: TestAccount,
  seed: TaskSeed,
  now: number,
): NewTaskRow & { id: string; accountId: string; createdAt: string; labelList: string[] } {
  const { labels = [], ageSeconds = 0, ...fields } = seed;
  const created = isoSeconds(now - ageSeconds * 1000);
  const id = fields.id ?? newId('tsk', now - ageSeconds * 1000);
  return {
    id,
    accountId: account.accountId,
    projectId: account.projectId,
    rootTaskId: id,
    content: 'A task',
    createdByAgentId: account.adminId,
    createdAt: created,
    updatedAt: created,
    ...fields,
    labels: JSON.stringify(labels),
    labelList: labels,
  };
}

/** Inserts the tasks in one batch; answers their ids in the order given. */
export async function insertTasks(account: TestAccount, seeds: TaskSeed[]): Promise<string[]> {
  const now = Date.now();
  const rows = seeds.map((s) => rowFor(account, s, now));
  const d = db();
  const writes = rows.flatMap(({ labelList, ...row }) => [
    d.insert(tasks).values(row),
    // A trigger may already mirror tasks.labels into task_labels; writing them too is harmless.
    ...labelList.map((label) =>
      d.insert(taskLabels).values({ taskId: row.id, accountId: row.accountId, label, createdAt: row.createdAt }).onConflictDoNothing(),
    ),
  ]);
  // D1 caps statements per batch well above this, but chunk to stay polite.
  for (let i = 0; i < writes.length; i += 50) {
    const chunk = writes.slice(i, i + 50);
    await d.batch(chunk as unknown as [(typeof chunk)[number]]);
  }
  return rows.map((r) => r.id);
}

export async function insertTask(account: TestAccount, seed: TaskSeed = {}): Promise<string> {
  const [id] = await insertTasks(account, [seed]);
  return id!;
}

export async function taskRow(id: string): Promise<TaskRow | undefined> {
  return db().select().from(tasks).where(eq(tasks.id, id)).get();
}

export async function runsOf(taskId: string) {
  return db().select().from(runs).where(eq(runs.taskId, taskId)).orderBy(runs.claimedAtMs, runs.id).all();
}

/**
 * Moves a task's lease into the past, as if its holder had gone silent that long: in D1, and in
 * the account's claim queue, which learns when the lease ends as time passing would show it (the
 * alarm, run with runDurableObjectAlarm, then finds it due).
 */
export async function expireLease(id: string, secondsAgo = 1): Promise<void> {
  const at = Date.now() - secondsAgo * 1000;
  const [row] = await db()
    .update(tasks)
    .set({ leaseExpiresAt: isoSeconds(at) })
    .where(eq(tasks.id, id))
    .returning({ accountId: tasks.accountId });
  if (!row) return;
  await runInDurableObject(claimQueueOf(env, row.accountId), (queue: ClaimQueue) => {
    (queue as unknown as { setLease(accountId: string, at: number): void }).setLease(row.accountId, at);
  });
}

/** The account's earliest lease end as its claim queue knows it, and the queue's alarm (no later). */
export async function leaseAlarm(accountId: string): Promise<{ lease: number | undefined; alarm: number | null }> {
  return runInDurableObject(claimQueueOf(env, accountId), async (_, state) => ({
    lease: state.storage.kv.get<number>(`${LEASE_KEY_PREFIX}${accountId}`),
    alarm: await state.storage.getAlarm(),
  }));
}
