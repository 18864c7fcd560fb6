/**
 * The scheduler: spawns the task of every recurrence that fell due. One D1 batch (one
 * transaction) per chunk of due recurrences, set-based, so 500 recurrences cost a handful of
 * statements, not 500 round trips:
 *   1. advance each recurrence's next_due_at, only where it still holds the due time this run
 *      read (a second run, or an overlapping one, finds it moved and does nothing), and mark it
 *      with the id of its new task, unless skip_if_open finds the previous instance still open;
 *   2. insert the tasks of the marked recurrences, within the month's task quota;
 *   3. count them against the quota; 4. stamp last_spawned_at; 5. read them back for webhooks.
 * A missed occurrence (the trigger ran late or not at all) spawns once and the schedule resumes
 * at the next occurrence after now. The unary `+` in step 1 keeps SQLite on the primary key, one
 * lookup per item; through the due index it read every active recurrence for each item.
 */
import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm';
import { database, type Db } from '../db/client';
import { recurrences, tasks, usageCounters } from '../db/schema';
import type { Env } from '../env';
import { limit } from '../platform/config';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { sqlBatch } from '../db/sql-batch';
import { taskJson } from '../tasks/task-json';
import { period, taskFromRaw } from '../tasks/tasks';
import { afterCommit, wakeScopeOf } from '../events/after-commit';
import type { TaskEvent } from '../webhooks/events';
import { eventsOf, wakes } from '../events/effects';
import { outboxInsertPerTask, type RecordedEvent } from '../events/outbox';
import { followingOccurrence, type RecurrenceRow } from './recurrences';
import { writtenLimit } from '../db/written-limit';

export interface SpawnReport {
  /** Recurrences this run advanced (spawned, skipped as open, or over quota). */
  advanced: number;
  spawned: number;
  batches: number;
}

interface Occurrence {
  rec: string;
  due: string;
  next: string;
  task: string;
}

interface SpawnChunk {
  due: RecurrenceRow[];
  /** The accounts' task quota. */
  quota: number;
  now: number;
}

/** One chunk: the set-based batch of the module comment. Answers the rows advanced and the tasks spawned. */
async function spawnChunk(db: Db, { due, quota, now }: SpawnChunk) {
  const ts = isoSeconds(now);
  const items: Occurrence[] = [];
  const broken: string[] = [];
  for (const r of due) {
    try {
      items.push({ rec: r.id, due: r.nextDueAt, next: isoSeconds(followingOccurrence(r, now)), task: newId('tsk', now) });
    } catch (e) {
      // A zone the runtime no longer knows: pause it rather than let it hold up every run.
      console.error(
        JSON.stringify({
          level: 'error',
          message: 'recurrence paused: its schedule cannot be computed',
          recurrenceId: r.id,
          error: String(e),
        }),
      );
      broken.push(r.id);
    }
  }
  if (broken.length) await db.update(recurrences).set({ active: false, updatedAt: ts }).where(inArray(recurrences.id, broken));
  const json = JSON.stringify(items);
  const field = (name: keyof Occurrence) => sql.raw(`json_extract(j.value, '$.${name}')`);
  const taskIds = sql`(select json_extract(value, '$.task') from json_each(${json}))`;
  // The system's events of the spawned tasks (the table's row for recurrences.spawn), recorded in the same batch.
  const [created, assigned] = eventsOf('recurrences.spawn', { assigned: true });
  const [advanced, , , , createdEvents, assignedEvents, spawned] = await sqlBatch(db, [
    sql`update ${recurrences} set next_due_at = ${field('next')}, updated_at = ${ts},
        last_task_id = case when skip_if_open = 1 and exists (select 1 from ${tasks} t where t.id = recurrences.last_task_id and t.completed = 0)
          then last_task_id else ${field('task')} end
      from json_each(${json}) j
      where recurrences.id = ${field('rec')} and +recurrences.next_due_at = ${field('due')} and +recurrences.active = 1
      returning recurrences.id`,
    // Within the quota: this month's count so far plus the task's rank in its account's share of the chunk.
    sql`insert into ${tasks} (id, account_id, project_id, root_task_id, content, description, priority, labels, due_date,
        assigned_to_agent_id, created_by_agent_id, accountable_agent_id, source_recurrence_id, created_at, updated_at)
      select id, account_id, project_id, id, content, description, priority, labels, due_date, assignee, creator, creator, rec, ${ts}, ${ts}
      from (
        select ${field('task')} as id, r.account_id, r.id as rec, r.content, r.description, r.priority, r.labels, ${field('due')} as due_date,
          r.created_by_agent_id as creator,
          case when exists (select 1 from projects p where p.id = r.project_id and p.account_id = r.account_id) then r.project_id end as project_id,
          case when exists (select 1 from agents a where a.id = r.assigned_to_agent_id and a.account_id = r.account_id and a.active = 1) then r.assigned_to_agent_id end as assignee,
          row_number() over (partition by r.account_id order by j.key) as nth,
          coalesce((select u.tasks_created from ${usageCounters} u where u.account_id = r.account_id and u.period = ${period(now)}), 0) as used
        from json_each(${json}) j join ${recurrences} r on r.id = ${field('rec')} and r.last_task_id = ${field('task')}
      )
      where used + nth <= ${quota}`,
    sql`insert into ${usageCounters} (account_id, period, tasks_created)
      select account_id, ${period(now)}, count(*) from ${tasks} where id in ${taskIds} group by account_id
      on conflict (account_id, period) do update set tasks_created = tasks_created + excluded.tasks_created`,
    sql`update ${recurrences} set last_spawned_at = ${ts}
      where id in (select source_recurrence_id from ${tasks} where id in ${taskIds})`,
    outboxInsertPerTask(created!, sql`select id, account_id from ${tasks} where id in ${taskIds}`, now),
    outboxInsertPerTask(
      assigned!,
      sql`select id, account_id from ${tasks} where id in ${taskIds} and assigned_to_agent_id is not null`,
      now,
    ),
    sql`select t.*, a.active_webhooks + a.active_automations as account_listeners, a.claimers_waiting as account_claimers_waiting
      from ${tasks} t join accounts a on a.id = t.account_id where t.id in ${taskIds}`,
  ]);
  const events = [
    ...createdEvents!.map((r) => ({ id: r.id, task_id: r.task_id, event: created! })),
    ...assignedEvents!.map((r) => ({ id: r.id, task_id: r.task_id, event: assigned! })),
  ];
  return { advanced: advanced!.length + broken.length, spawned: spawned!, events };
}

interface SpawnAnnouncement {
  spawned: Record<string, unknown>[];
  recordedRows: { id: unknown; task_id: unknown; event: TaskEvent }[];
  now: number;
}

/** Relays the spawned tasks' recorded events and wakes held claimers, as a create through the API does. */
function announce(env: Env, { spawned, recordedRows, now }: SpawnAnnouncement): Promise<void> {
  const byId = new Map(spawned.map((raw) => [String(raw.id), raw]));
  const events: RecordedEvent[] = [];
  for (const r of recordedRows) {
    const raw = byId.get(String(r.task_id));
    if (!raw) continue;
    const row = taskFromRaw(raw);
    events.push({ id: String(r.id), event: r.event, accountId: row.accountId, agentId: null, task: taskJson(row, now) });
  }
  // Per account with held claimers, the tasks it was given: they say which claimers try.
  const waits = new Map<string, { assignedToAgentId: string | null }[]>();
  for (const raw of spawned)
    if (wakes('recurrences.spawn', { claimers_waiting: Number(raw.account_claimers_waiting) > 0 })) {
      const id = String(raw.account_id);
      waits.set(id, [...(waits.get(id) ?? []), taskFromRaw(raw)]);
    }
  // The cron has no request to wait on: the relay and wake-ups finish before the job does.
  const pending: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void pending.push(p) };
  afterCommit({ env, ctx }, { events, now });
  for (const [accountId, tasks] of waits) afterCommit({ env, ctx }, { wakeAccount: accountId, wakeScope: wakeScopeOf(tasks) });
  return Promise.all(pending).then(() => undefined);
}

/** Spawns what is due at `now`, up to RECURRENCE_SPAWN_BATCHES_PER_RUN chunks; the next run takes the rest. */
export async function spawnDueRecurrences(env: Env, now: number): Promise<SpawnReport> {
  const db = database(env.DB);
  const chunk = limit(env, 'RECURRENCE_SPAWN_BATCH');
  const report: SpawnReport = { advanced: 0, spawned: 0, batches: 0 };
  for (let i = 0; i < limit(env, 'RECURRENCE_SPAWN_BATCHES_PER_RUN'); i++) {
    const due = await db
      .select()
      .from(recurrences)
      .where(and(eq(recurrences.active, true), lte(recurrences.nextDueAt, isoSeconds(now))))
      .orderBy(asc(recurrences.nextDueAt))
      .limit(writtenLimit(chunk));
    if (due.length === 0) break;
    const result = await spawnChunk(db, { due, quota: limit(env, 'TASKS_PER_MONTH'), now });
    report.batches++;
    report.advanced += result.advanced;
    report.spawned += result.spawned.length;
    await announce(env, { spawned: result.spawned, recordedRows: result.events, now });
    // Another run took these first: stop rather than spin on rows it is still advancing.
    if (result.advanced === 0 || due.length < chunk) break;
  }
  return report;
}
