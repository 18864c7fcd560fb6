/**
 * Fleet attention: the tasks a coordinator (or a worker, among its own) should look at, each list capped and
 * ordered by priority, then age. Built from the same rows and rules the queue uses.
 */
import { and, asc, desc, eq, gte, isNotNull, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client';
import { runs, tasks } from '../db/schema';
import { isoDate, isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { visibleTasks } from '../tasks/task-access';
import { taskJson, type TaskJson } from '../tasks/task-json';
import { writtenLimit } from '../db/written-limit';

/** Each list holds at most this many tasks. */
export const ATTENTION_LIMIT = 100;
/** Tasks reopened at least this often count as churning. */
export const REOPEN_THRESHOLD = 3;

/** The buckets, each a list of tasks, by the names the clients print. */
export interface AttentionBuckets {
  /** Claims whose lease ran out: not yet swept, or swept and not claimed again since. */
  abandoned_claims: TaskJson[];
  /** Live claims whose holder has not heartbeated for more than half its lease. */
  silent_holders: TaskJson[];
  errored: TaskJson[];
  waiting_input: TaskJson[];
  overdue: TaskJson[];
  /** Tasks reopened at least REOPEN_THRESHOLD times. */
  looping: TaskJson[];
}

export interface Attention {
  /** Entries over all buckets (a task in two buckets counts twice, as it is listed twice). */
  count: number;
  buckets: AttentionBuckets;
}

export async function fleetAttention(db: Db, p: Principal, now: number): Promise<Attention> {
  const nowIso = isoSeconds(now);
  // Scoped like stats: the whole account for coordinators and admins, a worker's own tasks.
  const open = and(visibleTasks(p), eq(tasks.completed, false))!;
  const live = and(isNotNull(tasks.claimedByAgentId), sql`${tasks.leaseExpiresAt} > ${nowIso}`)!;
  const notStale = or(isNull(tasks.claimedByAgentId), sql`${tasks.leaseExpiresAt} > ${nowIso}`)!;
  const lastOutcome = sql`(select ${runs.outcome} from ${runs} where ${runs.taskId} = ${tasks.id} order by ${runs.claimedAtMs} desc, ${runs.id} desc limit 1)`;
  const everExpired = sql`${tasks.id} in (select ${runs.taskId} from ${runs} where ${runs.accountId} = ${p.accountId} and ${runs.outcome} = 'expired')`;
  const heartbeatAt = sql`coalesce(${tasks.lastHeartbeatAt}, ${tasks.claimedAt})`;

  const list = (where: SQL | undefined, order: SQL[] = []) =>
    db
      .select()
      .from(tasks)
      .where(and(open, where))
      .orderBy(...order, desc(tasks.priority), asc(tasks.createdAt), asc(tasks.id))
      .limit(writtenLimit(ATTENTION_LIMIT));

  const [expired, silent, errored, waiting, overdue, reopened] = await db.batch([
    list(
      or(
        and(isNotNull(tasks.claimedByAgentId), lte(tasks.leaseExpiresAt, nowIso)),
        and(isNull(tasks.claimedByAgentId), everExpired, sql`${lastOutcome} = 'expired'`),
      ),
    ),
    list(
      and(
        live,
        sql`unixepoch(${nowIso}) - unixepoch(${heartbeatAt}) > (unixepoch(${tasks.leaseExpiresAt}) - unixepoch(${heartbeatAt})) / 2.0`,
      ),
    ),
    list(and(notStale, eq(tasks.sessionState, 'errored'))),
    list(and(notStale, eq(tasks.sessionState, 'waiting_input'))),
    // A date-only due date is overdue from the next day; a timestamp from that instant.
    list(
      and(
        isNotNull(tasks.dueDate),
        sql`case when length(${tasks.dueDate}) = 10 then ${tasks.dueDate} < ${isoDate(now)} else ${tasks.dueDate} < ${nowIso} end`,
      ),
      [asc(tasks.dueDate)],
    ),
    list(gte(tasks.reopenCount, REOPEN_THRESHOLD), [desc(tasks.reopenCount)]),
  ]);
  const json = (rows: (typeof tasks.$inferSelect)[]) => rows.map((r) => taskJson(r, now));
  const buckets: AttentionBuckets = {
    abandoned_claims: json(expired),
    silent_holders: json(silent),
    errored: json(errored),
    waiting_input: json(waiting),
    overdue: json(overdue),
    looping: json(reopened),
  };
  return { count: Object.values(buckets).reduce((n, list) => n + list.length, 0), buckets };
}
