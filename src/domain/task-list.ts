/**
 * `GET /v1/tasks`: every filter of the contract, served by an index, in one D1 round trip.
 *
 * Order: newest first (created_at, id) — except when a label filter drives the query (same
 * order, read from task_labels' index) and when a due filter is given, where the soonest due
 * comes first (due_date, id), because that is the order the due index already holds. Each order
 * is an index order, so a page reads about `limit + 1` rows however large the account is.
 *
 * Search (case-insensitive substring of content or description) has two plans in one statement,
 * chosen inside SQLite by how many tasks match at all (the trigram index tasks_fts, migration
 * 0002, answers that by reading at most `rareBound + 1` index entries):
 * - a rare term (at most rareBound matches): read just those tasks through the index and sort
 *   them — a few rows however large the account is;
 * - a common term: walk the listing's own index order and test each task with LIKE, which
 *   stops after about `limit / share of matching tasks` rows.
 * Both plans apply every filter and the same order, and both answer exactly what LIKE answers:
 * the index only narrows the candidates, LIKE decides (SQLite's LIKE folds ASCII case only).
 * Terms under 3 characters have no trigram and always take the walk.
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
 * A counted listing reads exactly `limit` rows (the counter says whether more exist); any other
 * reads `limit + 1`, the extra row only telling whether there is a next page.
 */
import { and, asc, desc, eq, getTableColumns, isNotNull, isNull, lte, or, gt, gte, lt, sql, type SQL } from 'drizzle-orm';
import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../db/client';
import { taskCounts, taskLabels, tasks } from '../db/schema';
import { isoDate, isoSeconds } from '../lib/time';
import type { Principal } from './access';
import { visibleTasks } from './task-access';
import type { TaskFields } from './task-json';

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
  rows: TaskFields[];
  hasMore: boolean;
  /** Exact total, or null when knowing it would mean counting rows. */
  total: number | null;
}

const DAY_MS = 86_400_000;

/** A page never carries task contexts (up to 32 KiB each); the answer does not show them. */
const { context: _context, ...listColumns } = getTableColumns(tasks);

const nextDay = (date: string) => isoDate(Date.parse(`${date.slice(0, 10)}T00:00:00Z`) + DAY_MS);

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The trigram index of tasks' content and description (migration 0002: FTS5, external content,
 * kept by triggers). Declared here only to be queried; drizzle-kit must not generate it.
 */
const tasksFts = sqliteTable('tasks_fts', { rowid: integer('rowid').notNull() });

/** A search term as one FTS5 string: the whole input is a literal, no FTS5 syntax is possible. */
export const ftsPhrase = (term: string) => `"${term.replace(/"/g, '""')}"`;

/**
 * Whether the trigram index can narrow a search: it needs a trigram (3 characters; FTS5 counts
 * code points), and NUL would end the FTS5 query string early, so such terms take the walk.
 */
export const ftsSearchable = (term: string) => [...term].length >= 3 && !term.includes('\u0000');

/**
 * At most this many matching tasks (in the whole index) make a term "rare": reading them all
 * (the count, the index entries, the task rows) costs about 3 x rareBound rows, which is about
 * what the walk reads in its best case, `offset + limit + 1`. The floor keeps small pages off the
 * walk for fairly rare terms: its worst case is the whole account, the index plan's is ~120 rows.
 */
export const rareBound = (f: Pick<ListFilters, 'limit' | 'offset'>) => Math.max(40, Math.floor((f.offset + f.limit + 1) / 3));

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

/** The page query: `take` rows in the listing's order, read through an index. */
function indexQuery(db: Db, p: Principal, f: ListFilters, conds: SQL[], take: number | SQL) {
  // drizzle renders an SQL limit as is; its type only admits numbers and placeholders.
  const limit = take as number;
  const labels = f.labels ?? [];
  if (labels.length > 0) {
    const [first, ...rest] = labels;
    return db
      .select(listColumns)
      .from(taskLabels)
      .innerJoin(tasks, eq(tasks.id, taskLabels.taskId))
      .where(and(eq(taskLabels.accountId, p.accountId), eq(taskLabels.label, first!), ...conds, ...rest.map((label) => hasLabel(label))))
      .orderBy(desc(taskLabels.createdAt), desc(taskLabels.taskId))
      .limit(limit)
      .offset(f.offset);
  }
  return db
    .select(listColumns)
    .from(tasks)
    .where(and(...conds))
    .orderBy(...listingOrder(f))
    .limit(limit)
    .offset(f.offset);
}

const hasLabel = (label: string) => sql`exists (select 1 from ${taskLabels} l2 where l2.task_id = ${tasks.id} and l2.label = ${label})`;

const byDue = (f: ListFilters) => f.due !== undefined || f.due_after !== undefined || f.due_before !== undefined;

/** The listing's order on tasks' own columns (a label listing's index order is the same as created_at, id). */
const listingOrder = (f: ListFilters) =>
  (f.labels ?? []).length === 0 && byDue(f) ? [asc(tasks.dueDate), asc(tasks.id)] : [desc(tasks.createdAt), desc(tasks.id)];

/**
 * A search of 3+ characters: one statement holding both plans (see the top of the file). The CTE
 * counts index matches up to rareBound + 1, once; each arm's LIMIT is `take` or 0 by that count.
 * SQLite evaluates LIMIT before running an arm and skips an arm whose LIMIT is 0, so only one
 * arm reads anything (a constant test in WHERE would not do: SQLite checks it per row).
 */
function searchQuery(db: Db, p: Principal, f: ListFilters, conds: SQL[], take: number) {
  const phrase = ftsPhrase(f.search!);
  const bound = rareBound(f);
  const matches = sql`(select ${sql.identifier('v')} from ${sql.identifier('fts_matches')})`;
  const rare = db
    .select(listColumns)
    .from(tasksFts)
    .crossJoin(tasks)
    .where(and(sql`${tasksFts} match ${phrase}`, sql`${tasks}.rowid = ${tasksFts.rowid}`, ...conds, ...(f.labels ?? []).map(hasLabel)))
    .orderBy(...listingOrder(f))
    .limit(sql`case when ${matches} <= ${bound} then ${take} else 0 end` as unknown as number)
    .offset(f.offset);
  const common = indexQuery(db, p, f, conds, sql`case when ${matches} > ${bound} then ${take} else 0 end`);
  const count = sql`select count(*) from (select 1 from ${tasksFts} where ${tasksFts} match ${phrase} limit ${bound + 1})`;
  const page = sql.identifier('page');
  const fields = Object.fromEntries(
    Object.entries(listColumns).map(([key, column]) => [key, sql`${page}.${sql.identifier(column.name)}`.mapWith(column)]),
  ) as { [K in keyof typeof tasks.$inferSelect]: SQL<(typeof tasks.$inferSelect)[K]> };
  return db
    .select(fields)
    .from(
      sql`(with ${sql.identifier('fts_matches')}(${sql.identifier('v')}) as materialized (${count}) select * from ${rare} union all select * from ${common}) ${page}`,
    );
}

/**
 * The page query: `take` rows (limit, or limit + 1 when the extra row must tell whether there
 * is a next page).
 */
export function listQuery(db: Db, p: Principal, f: ListFilters, now: number, take = f.limit + 1) {
  const conds = filterConditions(p, f, now);
  if (f.search !== undefined && ftsSearchable(f.search)) return searchQuery(db, p, f, conds, take);
  return indexQuery(db, p, f, conds, take);
}

export async function listTasks(db: Db, p: Principal, f: ListFilters, now: number): Promise<TaskPage> {
  const dim = counterDimension(p, f);
  // A counted listing needs no look-ahead row: the counter says whether more pages exist.
  const page = listQuery(db, p, f, now, dim === null ? f.limit + 1 : f.limit);
  const counter = db.select({ n: taskCounts.n }).from(taskCounts).where(and(eq(taskCounts.accountId, p.accountId), eq(taskCounts.dim, dim ?? '')));
  // One batch, one round trip: the page and (when this listing has one) its counter.
  if (dim === null) {
    const [found] = await db.batch([page]);
    const hasMore = found.length > f.limit;
    const rows = hasMore ? found.slice(0, f.limit) : found;
    const total = !hasMore && (rows.length > 0 || f.offset === 0) ? f.offset + rows.length : null;
    return { rows, hasMore, total };
  }
  const [rows, counted] = await db.batch([page, counter]);
  if (rows.length < f.limit && (rows.length > 0 || f.offset === 0)) return { rows, hasMore: false, total: f.offset + rows.length };
  const total = Math.max(0, counted[0]?.n ?? 0);
  return { rows, hasMore: f.offset + rows.length < total, total };
}
