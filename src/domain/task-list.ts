/**
 * `GET /v1/tasks`: every filter of the contract, served by an index, in one D1 round trip.
 *
 * Order: newest first (created_at, id) — except when a label filter drives the query (same
 * order, read from task_labels' index) and when a due filter is given, where the soonest due
 * comes first (due_date, id), because that is the order the due index already holds. Each order
 * is an index order, so a page reads about `limit + 1` rows however large the account is.
 *
 * The total (`X-Total-Count`) is never computed by counting rows, which would read every
 * matching row. It is exact when:
 * - the page reaches the end of the list (total = offset + rows on this page), or
 * - the listing is one of the counted ones: an account-wide caller (coordinator, admin) with
 *   no filter or exactly one of completed, priority, project_id, one label, assigned_to; or a
 *   worker with no filter. Those totals come from task_counts, kept by triggers in the same
 *   statement as every task write.
 * Otherwise (search, due, claimed, combined filters, a worker's or restricted key's filtered
 * listing) the total is unknown and `total` is null; the route then answers a lower bound
 * header instead, and `Link rel="next"` still says whether more pages exist.
 */
import { and, asc, desc, eq, getTableColumns, isNotNull, isNull, like, lte, or, gt, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client';
import { taskCounts, taskLabels, tasks } from '../db/schema';
import { isoDate, isoSeconds } from '../lib/time';
import type { Principal } from './access';
import { visibleTasks } from './task-access';
import type { TaskRow } from './task-json';

export interface ListFilters {
  project_id?: string;
  completed?: boolean;
  priority?: number;
  search?: string;
  /** `label` and `labels` together; every one must be on the task (AND). */
  labels?: string[];
  due?: 'today' | 'upcoming' | 'overdue';
  due_after?: string;
  due_before?: string;
  claimed?: boolean;
  assigned_to?: string;
  limit: number;
  offset: number;
}

export interface TaskPage {
  rows: TaskRow[];
  hasMore: boolean;
  /** Exact total, or null when knowing it would mean counting rows. */
  total: number | null;
}

const DAY_MS = 86_400_000;

const nextDay = (date: string) => isoDate(Date.parse(`${date.slice(0, 10)}T00:00:00Z`) + DAY_MS);

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The task_counts dimension whose count is this listing's total, if there is one. */
function counterDimension(p: Principal, f: ListFilters): string | null {
  const labels = f.labels ?? [];
  const given: string[] = [];
  if (f.project_id !== undefined) given.push(`project:${f.project_id}`);
  if (f.completed !== undefined) given.push(`completed:${f.completed ? 1 : 0}`);
  if (f.priority !== undefined) given.push(`priority:${f.priority}`);
  if (f.assigned_to !== undefined) given.push(`assigned:${f.assigned_to}`);
  if (labels.length === 1) given.push(`label:${labels[0]}`);
  const uncounted = f.search !== undefined || f.due !== undefined || f.due_after !== undefined || f.due_before !== undefined || f.claimed !== undefined || labels.length > 1;
  if (p.mode === 'restricted') return null;
  if (p.role === 'worker') return given.length === 0 && !uncounted ? `agent:${p.agentId}` : null;
  if (uncounted || given.length > 1) return null;
  return given[0] ?? 'all';
}

/** The WHERE conditions on tasks for the filters (labels are handled by the caller). */
export function filterConditions(p: Principal, f: ListFilters, now: number): SQL[] {
  const conds: SQL[] = [visibleTasks(p)];
  const today = isoDate(now);
  const nowIso = isoSeconds(now);
  if (f.project_id !== undefined) conds.push(eq(tasks.projectId, f.project_id));
  if (f.completed !== undefined) conds.push(eq(tasks.completed, f.completed));
  if (f.priority !== undefined) conds.push(eq(tasks.priority, f.priority));
  if (f.assigned_to !== undefined) conds.push(eq(tasks.assignedToAgentId, f.assigned_to));
  if (f.search !== undefined && f.search !== '') {
    const pattern = `%${escapeLike(f.search)}%`;
    // LIKE is case-insensitive for ASCII in SQLite; ESCAPE keeps % and _ literal.
    conds.push(or(sql`${tasks.content} like ${pattern} escape '\\'`, sql`${tasks.description} like ${pattern} escape '\\'`)!);
  }
  if (f.due === 'today') conds.push(gte(tasks.dueDate, today), lt(tasks.dueDate, nextDay(today)));
  if (f.due === 'upcoming') conds.push(gte(tasks.dueDate, nextDay(today)), eq(tasks.completed, false));
  if (f.due === 'overdue') conds.push(isNotNull(tasks.dueDate), lt(tasks.dueDate, today), eq(tasks.completed, false));
  if (f.due_after !== undefined) conds.push(gte(tasks.dueDate, f.due_after));
  if (f.due_before !== undefined) {
    // A date bound includes the whole day, timestamps on that day too.
    conds.push(f.due_before.length === 10 ? lt(tasks.dueDate, nextDay(f.due_before)) : lte(tasks.dueDate, f.due_before));
  }
  if (f.claimed === true) conds.push(isNotNull(tasks.claimedByAgentId), gt(tasks.leaseExpiresAt, nowIso));
  if (f.claimed === false) conds.push(or(isNull(tasks.claimedByAgentId), isNull(tasks.leaseExpiresAt), lte(tasks.leaseExpiresAt, nowIso))!);
  return conds;
}

/** The page query (limit + 1 rows, so the answer knows whether another page exists). */
export function listQuery(db: Db, p: Principal, f: ListFilters, now: number) {
  const conds = filterConditions(p, f, now);
  const labels = f.labels ?? [];
  const take = f.limit + 1;
  if (labels.length > 0) {
    const [first, ...rest] = labels;
    for (const label of rest) {
      conds.push(sql`exists (select 1 from ${taskLabels} l2 where l2.task_id = ${tasks.id} and l2.label = ${label})`);
    }
    return db
      .select(getTableColumns(tasks))
      .from(taskLabels)
      .innerJoin(tasks, eq(tasks.id, taskLabels.taskId))
      .where(and(eq(taskLabels.accountId, p.accountId), eq(taskLabels.label, first!), ...conds))
      .orderBy(desc(taskLabels.createdAt), desc(taskLabels.taskId))
      .limit(take)
      .offset(f.offset);
  }
  const byDue = f.due !== undefined || f.due_after !== undefined || f.due_before !== undefined;
  return db
    .select()
    .from(tasks)
    .where(and(...conds))
    .orderBy(...(byDue ? [asc(tasks.dueDate), asc(tasks.id)] : [desc(tasks.createdAt), desc(tasks.id)]))
    .limit(take)
    .offset(f.offset);
}

export async function listTasks(db: Db, p: Principal, f: ListFilters, now: number): Promise<TaskPage> {
  const dim = counterDimension(p, f);
  const page = listQuery(db, p, f, now);
  const counter = db.select({ n: taskCounts.n }).from(taskCounts).where(and(eq(taskCounts.accountId, p.accountId), eq(taskCounts.dim, dim ?? '')));
  // One batch, one round trip: the page and (when this listing has one) its counter.
  const [found, counted] = dim === null ? [await db.batch([page]).then((r) => r[0]), null] : await db.batch([page, counter]);
  const hasMore = found.length > f.limit;
  const rows = hasMore ? found.slice(0, f.limit) : found;
  let total: number | null = null;
  if (!hasMore && (rows.length > 0 || f.offset === 0)) total = f.offset + rows.length;
  else if (counted) total = Math.max(0, counted[0]?.n ?? 0);
  return { rows, hasMore, total };
}
