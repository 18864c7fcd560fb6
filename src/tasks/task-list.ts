/**
 * `GET /v1/tasks`: every filter of the contract, served by an index, in one D1 round trip.
 *
 * Order: newest first (created_at, id) — also when a label filter drives the query (read from
 * labelled_tasks, migration 0006: each labelled task's row copied per label, in that order) —
 * except when a due filter is given, where the soonest due
 * comes first (due_date, id), because that is the order the due index already holds. Each order
 * is an index order, so a page reads about `limit + 1` rows however large the account is.
 * A worker (who sees only its own tasks, often few of the account's) reads instead the four
 * ranges of the tasks it created, is assigned, claims or completed, each in the same order, and
 * merges them (workerQuery): rows in proportion to offset + limit, never to the account.
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
import { and, asc, desc, eq, isNotNull, isNull, lte, or, gt, gte, lt, sql, type SQL } from 'drizzle-orm';
import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../db/client';
import { labelledTasks } from '../db/labelled-tasks';
import { taskCounts, taskLabels, tasks } from '../db/schema';
import { isoDate, isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { visibilityKey, visibleTasks } from './task-access';
import { rowReader, taskFieldColumns, taskJson, type TaskFields, type TaskJson } from './task-json';
import { RenderedSql } from '../db/rendered-sql';
import { writtenLimit } from '../db/written-limit';
import { toRawQuery, type RawQuery } from '../db/sql-batch';

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
  tasks: TaskJson[];
  hasMore: boolean;
  /** Exact total, or null when knowing it would mean counting rows. */
  total: number | null;
}

const DAY_MS = 86_400_000;

/** A page never carries task contexts (up to 32 KiB each); the answer does not show them. */
const listColumns = taskFieldColumns;

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
  const uncounted =
    f.search !== undefined ||
    f.due !== undefined ||
    f.due_after !== undefined ||
    f.due_before !== undefined ||
    f.claimed !== undefined ||
    labels.length > 1;
  if (p.mode === 'restricted') return null;
  if (p.role === 'worker') return given.length === 0 && !uncounted ? `agent:${p.agentId}` : null;
  if (uncounted || given.length > 1) return null;
  return given[0] ?? 'all';
}

/** The WHERE conditions on tasks for the filters (labels are handled by the caller). */
export function filterConditions(p: Principal, f: ListFilters, now: number): SQL[] {
  return [visibleTasks(p), ...filterOnly(f, now)];
}

/** The filters' conditions alone, without visibility. */
function filterOnly(f: ListFilters, now: number): SQL[] {
  const conds: SQL[] = [];
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

interface Listing {
  filters: ListFilters;
  /** The filters' conditions. */
  conds: SQL[];
  /** Rows to read. */
  take: number | SQL;
  now: number;
}

/** The page query: `take` rows in the listing's order, read through an index. */
function indexQuery(db: Db, p: Principal, { filters, conds, take, now }: Listing) {
  const limit = writtenLimit(take);
  const labels = filters.labels ?? [];
  if (isWorker(p)) return workerQuery(db, p, { filters, conds: filterOnly(filters, now), take });
  if (labels.length > 0) {
    const [first, ...rest] = labels;
    // The first label's copies of the tasks, in their key order: one row read per task.
    return db
      .select(listColumns)
      .from(labelledTasks)
      .where(
        and(eq(labelledTasks.accountId, p.accountId), eq(labelledTasks.label, first!), ...conds, ...rest.map((label) => hasLabel(label))),
      )
      .orderBy(desc(labelledTasks.createdAt), desc(labelledTasks.id))
      .limit(writtenLimit(limit))
      .offset(filters.offset);
  }
  return db
    .select(listColumns)
    .from(tasks)
    .where(and(...conds))
    .orderBy(...listingOrder(filters))
    .limit(writtenLimit(limit))
    .offset(filters.offset);
}

const hasLabel = (label: string) => sql`exists (select 1 from ${taskLabels} l2 where l2.task_id = ${tasks.id} and l2.label = ${label})`;

const byDue = (f: ListFilters) => f.due !== undefined || f.due_after !== undefined || f.due_before !== undefined;

/** The listing's order on tasks' own columns (a label listing's index order is the same as created_at, id). */
const listingOrder = (f: ListFilters) =>
  (f.labels ?? []).length === 0 && byDue(f) ? [asc(tasks.dueDate), asc(tasks.id)] : [desc(tasks.createdAt), desc(tasks.id)];

/**
 * A worker's listing. Workers see the tasks they created, are assigned, claim or completed: four
 * ranges of four indexes that each start (account_id, <agent column>, created_at, id), and a
 * worker usually sees a small part of its account. So the candidates come from those four
 * ranges, never from an account-wide one (which would test every task of the account for
 * visibility), and one statement merges them in the listing's order and pages the result:
 * - newest first (also a label listing: task_labels.created_at is the task's created_at, and
 *   each candidate's labels are looked up by task_labels' key), each range is read in its index
 *   order with every filter applied, up to `reach` = offset + take rows. A task among the first
 *   `reach` of the listing is among the first `reach` of each range that holds it (a range is a
 *   part of the listing), so the four heads hold the page;
 * - with a due filter the order is (due_date, id), which these indexes do not hold: each range is
 *   read whole (no head), so a due listing reads what the worker sees, never the account;
 * - a task in several ranges is kept only from the first of them (by its own columns, after the
 *   head is cut, so the head still reads at most `reach` rows). If that first range's head did
 *   not reach it, it is beyond the first `reach` of the listing, so dropping it changes no page.
 * The four parts are then disjoint (UNION ALL, no de-duplication) and SQLite merges them.
 * Rows read: the heads (at most `reach` each, more only when a filter skips rows, never more than
 * the worker's own range) plus about `reach` rows read back from the merge's sort; a label
 * filter adds one task_labels entry per candidate that has the label, a search its trigram count
 * (the rare arm of a search reads no range: it stays as for every key).
 * INDEXED BY pins each range to its agent column's index: with a filter SQLite could otherwise
 * prefer the filter's account-wide index (e.g. tasks_account_due_idx), to save a sort.
 */
const WORKER_RANGES = [
  [tasks.createdByAgentId, 'tasks_account_creator_idx'],
  [tasks.assignedToAgentId, 'tasks_account_assigned_idx'],
  [tasks.claimedByAgentId, 'tasks_account_claimed_by_idx'],
  [tasks.completedByAgentId, 'tasks_account_completed_by_idx'],
] as const;

const isWorker = (p: Principal) => p.mode !== 'restricted' && p.role === 'worker';

/** The listing's order by column name, on the tasks table or on a derived table's columns. */
function orderSql(f: ListFilters, column: (name: string) => SQL): SQL {
  const byDueDate = (f.labels ?? []).length === 0 && byDue(f);
  return byDueDate ? sql`${column('due_date')} asc, ${column('id')} asc` : sql`${column('created_at')} desc, ${column('id')} desc`;
}

/** Columns of a derived table `alias` holding listColumns, typed as drizzle selects them. */
function derivedFields(alias: ReturnType<typeof sql.identifier>) {
  return Object.fromEntries(
    Object.entries(listColumns).map(([key, column]) => [key, sql`${alias}.${sql.identifier(column.name)}`.mapWith(column)]),
  ) as { [K in keyof typeof listColumns]: SQL<(typeof tasks.$inferSelect)[K]> };
}

interface WorkerListing {
  filters: ListFilters;
  conds: SQL[];
  take: number | SQL;
}

function workerQuery(db: Db, p: Principal, { filters, conds, take }: WorkerListing) {
  // A search's common arm gets take as SQL (0 when the rare arm answers): then no head reads.
  const reach =
    typeof take === 'number' ? writtenLimit(filters.offset + take) : sql`case when ${take} > 0 then ${take} + ${filters.offset} else 0 end`;
  const whole = (filters.labels ?? []).length === 0 && byDue(filters);
  const selected = sql.join(
    Object.values(listColumns).map((column) => sql`${column} as ${sql.identifier(column.name)}`),
    sql`, `,
  );
  const own = (name: string) => sql`${tasks}.${sql.identifier(name)}`;
  const labelConds = (filters.labels ?? []).map(hasLabel);
  const parts = WORKER_RANGES.map(([column, index], k) => {
    const where = and(eq(tasks.accountId, p.accountId), eq(column, p.agentId), ...conds, ...labelConds);
    const range = sql`select ${selected} from ${tasks} indexed by ${sql.identifier(index)} where ${where}`;
    const head = whole ? range : sql`${range} order by ${orderSql(filters, own)} limit ${writtenLimit(reach)}`;
    const earlier = WORKER_RANGES.slice(0, k).map(([c]) => sql`${sql.identifier(c.name)} is not ${p.agentId}`);
    return earlier.length === 0 ? sql`select * from (${head})` : sql`select * from (${head}) where ${sql.join(earlier, sql` and `)}`;
  });
  const heads = sql.identifier('heads');
  return db
    .select(derivedFields(heads))
    .from(sql`(${sql.join(parts, sql` union all `)}) ${heads}`)
    .orderBy(orderSql(filters, (name) => sql`${heads}.${sql.identifier(name)}`))
    .limit(writtenLimit(take))
    .offset(filters.offset);
}

interface SearchListing {
  filters: ListFilters;
  conds: SQL[];
  take: number;
  now: number;
}

/**
 * A search of 3+ characters: one statement holding both plans (see the top of the file). The CTE
 * counts index matches up to rareBound + 1, once; each arm's LIMIT is `take` or 0 by that count.
 * SQLite evaluates LIMIT before running an arm and skips an arm whose LIMIT is 0, so only one
 * arm reads anything (a constant test in WHERE would not do: SQLite checks it per row).
 */
function searchQuery(db: Db, p: Principal, { filters, conds, take, now }: SearchListing) {
  const phrase = ftsPhrase(filters.search!);
  const bound = rareBound(filters);
  const matches = sql`(select ${sql.identifier('v')} from ${sql.identifier('fts_matches')})`;
  const rare = db
    .select(listColumns)
    .from(tasksFts)
    .crossJoin(tasks)
    .where(
      and(sql`${tasksFts} match ${phrase}`, sql`${tasks}.rowid = ${tasksFts.rowid}`, ...conds, ...(filters.labels ?? []).map(hasLabel)),
    )
    .orderBy(...listingOrder(filters))
    .limit(writtenLimit(sql`case when ${matches} <= ${bound} then ${take} else 0 end`))
    .offset(filters.offset);
  const common = indexQuery(db, p, { filters: filters, conds, take: sql`case when ${matches} > ${bound} then ${take} else 0 end`, now });
  const count = sql`select count(*) from (select 1 from ${tasksFts} where ${tasksFts} match ${phrase} limit ${writtenLimit(bound + 1)})`;
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

export interface ListQueryOptions {
  filters: ListFilters;
  now: number;
  /** Rows to read: limit + 1 tells whether a next page exists. */
  take?: number;
}

/**
 * The page query: `take` rows (limit, or limit + 1 when the extra row must tell whether there
 * is a next page).
 */
export function listQuery(db: Db, p: Principal, { filters, now, take = filters.limit + 1 }: ListQueryOptions) {
  const conds = filterConditions(p, filters, now);
  if (filters.search !== undefined && ftsSearchable(filters.search)) return searchQuery(db, p, { filters: filters, conds, take, now });
  return indexQuery(db, p, { filters: filters, conds, take, now });
}

const listedCount = Object.keys(listColumns).length;

/** A page row (the listed columns in order, then the counter) as the task's fields. */
const pageRows = rowReader<TaskFields>(listColumns);
const taskFromPageRow = (row: unknown[]) => pageRows.fromArray(row);

/** The counter whose count is the listing's total. */
const counterOf = (db: Db, p: Principal, dim: string) =>
  db
    .select({ n: taskCounts.n })
    .from(taskCounts)
    .where(and(eq(taskCounts.accountId, p.accountId), eq(taskCounts.dim, dim)));

interface PageStatement {
  page: ReturnType<typeof listQuery>;
  /** The counter that counts the listing, when it has one. */
  counterDim: string | null;
}

/**
 * The page in one statement: its rows as arrays (the cheapest shape D1 returns, far cheaper
 * than objects or than JSON text, measured), each carrying the counter, when the listing has
 * one, as a last column (a constant subquery: SQLite reads it once).
 */
function pageStatement(db: Db, p: Principal, { page, counterDim }: PageStatement) {
  if (counterDim === null) return toRawQuery(page);
  return toRawQuery(sql`select ${sql.identifier('page')}.*, ${counterOf(db, p, counterDim)} from ${page} ${sql.identifier('page')}`);
}

/**
 * Page statements of recent listings (agents poll the same listing over and over). Only
 * listings whose SQL does not depend on the time are kept (no due or claimed filter: those
 * compare with now).
 */
const renderedPages = new RenderedSql<RawQuery>(256);

interface PageQueryOptions {
  filters: ListFilters;
  now: number;
  counterDim: string | null;
}

function pageQuery(db: Db, p: Principal, { filters, now, counterDim }: PageQueryOptions): RawQuery {
  // A counted listing needs no look-ahead row: the counter says whether more pages exist.
  const render = () =>
    pageStatement(db, p, {
      page: listQuery(db, p, { filters: filters, now, take: counterDim === null ? filters.limit + 1 : filters.limit }),
      counterDim: counterDim,
    });
  if (filters.due !== undefined || filters.claimed !== undefined) return render();
  const key = JSON.stringify([...visibilityKey(p), counterDim, filters]);
  return renderedPages.get(key, render);
}

export interface ListTasksOptions {
  filters: ListFilters;
  now: number;
}

export async function listTasks(db: Db, p: Principal, { filters, now }: ListTasksOptions): Promise<TaskPage> {
  const dim = counterDimension(p, filters);
  const query = pageQuery(db, p, { filters: filters, now, counterDim: dim });
  const client = db.$client;
  const rows = await client
    .prepare(query.sql)
    .bind(...query.params)
    .raw();
  const found = rows.map((row) => taskJson(taskFromPageRow(row), now));
  if (dim === null) {
    const hasMore = found.length > filters.limit;
    const tasks = hasMore ? found.slice(0, filters.limit) : found;
    const total = !hasMore && (tasks.length > 0 || filters.offset === 0) ? filters.offset + tasks.length : null;
    return { tasks, hasMore, total };
  }
  if (found.length < filters.limit && (found.length > 0 || filters.offset === 0))
    return { tasks: found, hasMore: false, total: filters.offset + found.length };
  // Past the end of a counted listing no row carries the counter: read it (a second trip, only there).
  const counted = found.length > 0 ? (rows[0]![listedCount] as number | null) : ((await counterOf(db, p, dim).get())?.n ?? 0);
  const total = Math.max(0, counted ?? 0);
  return { tasks: found, hasMore: filters.offset + found.length < total, total };
}
