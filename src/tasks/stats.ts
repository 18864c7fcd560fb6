/**
 * `GET /v1/stats`: totals over the tasks the caller can see, in one D1 round trip, reading rows in
 * proportion to what it reports rather than to the size of the account.
 *
 * Account-wide callers (coordinator, admin), one batch of index range reads:
 * - `total`, `completed` and `by_project` from the trigger-kept counters in task_counts
 *   (migrations/0001_task_counters.sql): `all`, `completed:1`, and the `project:<id>` and
 *   `project_done:<id>` ranges, one row per project. Tasks without a project have no counter of
 *   their own: they are what the totals leave after the projects;
 * - `due_today` and `overdue`: ranges of tasks_account_due_idx, the open tasks kept by a test on
 *   each row (so the cost follows the tasks due in that range, done or not);
 * - `completed_today`: a range of tasks_account_completed_at_idx (migration 0004).
 * The `completed` tests are written `+completed` so SQLite does not trade these ranges for
 * tasks_account_completed_idx, an equality that matches a third of the account.
 *
 * Workers and restricted keys: there is no counter per agent and project, so `by_project` has to
 * read the caller's tasks; aggregates over just those tasks answer everything, each part read
 * through one per-column index range (a worker: created by it; else assigned to it; else claimed;
 * else completed by it, see visibleParts; a restricted key: its own tasks in its sandbox). The
 * cost follows what the caller can see, never the account.
 * (A worker's `total` is also the `agent:<id>` counter, which counts each task once per agent
 * exactly as the visibility rule does; reading the tasks for `by_project` already gives it.)
 */
import { and, eq, gt, gte, inArray, isNotNull, lt, sql, type SQL } from 'drizzle-orm';
import type { AnySQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Db } from '../db/client';
import { agents, projects, taskCounts, tasks } from '../db/schema';
import { isoDate } from '../platform/time';
import type { Principal } from '../access/policy';
import { visibleTasks } from './task-access';

export interface StatsJson {
  total: number;
  completed: number;
  open: number;
  completed_today: number;
  due_today: number;
  overdue: number;
  by_project: Record<string, { total: number; completed: number }>;
}

/** Tasks without a project are grouped under this key in `by_project`. */
export const NO_PROJECT = 'none';

const DAY_MS = 86_400_000;

/** Whether the caller sees every task of its account (so the account's counters are its totals). */
const accountWide = (p: Principal) => p.mode !== 'restricted' && p.role !== 'worker';

/** The counters whose dim starts with `prefix` (a range of task_counts' primary key). */
const dimPrefix = (prefix: string) => {
  const last = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  return and(gte(taskCounts.dim, prefix), lt(taskCounts.dim, last))!;
};

interface StatsDay {
  today: string;
  tomorrow: string;
}

function accountQueries(db: Db, accountId: string, { today, tomorrow }: StatsDay) {
  const counters = (where: SQL) =>
    db
      .select({ dim: taskCounts.dim, n: taskCounts.n })
      .from(taskCounts)
      .where(and(eq(taskCounts.accountId, accountId), where, gt(taskCounts.n, 0)));
  const count = (...where: SQL[]) =>
    db
      .select({ n: sql<number>`count(*)` })
      .from(tasks)
      .where(and(eq(tasks.accountId, accountId), ...where));
  const done = (value: 0 | 1) => sql`+${tasks.completed} = ${sql.raw(String(value))}`;
  return [
    counters(inArray(taskCounts.dim, ['all', 'completed:1'])),
    counters(dimPrefix('project:')),
    counters(dimPrefix('project_done:')),
    count(gte(tasks.completedAt, today), done(1)),
    count(gte(tasks.dueDate, today), lt(tasks.dueDate, tomorrow), done(0)),
    count(isNotNull(tasks.dueDate), lt(tasks.dueDate, today), done(0)),
  ] as const;
}

/**
 * The caller's own tasks, as disjoint parts that each are one index's equality range, so no task
 * is counted twice and SQLite has no reason to walk an account-wide range: a worker's tasks are
 * the ones it created; else assigned to it; else claimed by it; else completed by it. (As one OR,
 * SQLite estimates four ranges to cost more than one account_id range and walks the account.)
 */
function visibleParts(p: Principal): SQL[] {
  if (p.mode === 'restricted') return [visibleTasks(p)];
  const inAccount = eq(tasks.accountId, p.accountId);
  const me = p.agentId;
  const not = (column: AnySQLiteColumn) => sql`${column} is not ${me}`;
  return [
    and(inAccount, eq(tasks.createdByAgentId, me))!,
    and(inAccount, eq(tasks.assignedToAgentId, me), not(tasks.createdByAgentId))!,
    and(inAccount, eq(tasks.claimedByAgentId, me), not(tasks.createdByAgentId), not(tasks.assignedToAgentId))!,
    and(
      inAccount,
      eq(tasks.completedByAgentId, me),
      not(tasks.createdByAgentId),
      not(tasks.assignedToAgentId),
      not(tasks.claimedByAgentId),
    )!,
  ];
}

function visibleQuery(db: Db, where: SQL, { today, tomorrow }: StatsDay) {
  return (
    db
      .select({
        projectId: tasks.projectId,
        total: sql<number>`count(*)`,
        completed: sql<number>`coalesce(sum(${tasks.completed}), 0)`,
        completedToday: sql<number>`coalesce(sum(${tasks.completed} = 1 and ${tasks.completedAt} >= ${today}), 0)`,
        dueToday: sql<number>`coalesce(sum(${tasks.completed} = 0 and ${tasks.dueDate} >= ${today} and ${tasks.dueDate} < ${tomorrow}), 0)`,
        overdue: sql<number>`coalesce(sum(${tasks.completed} = 0 and ${tasks.dueDate} < ${today}), 0)`,
      })
      .from(tasks)
      .where(where)
      // `+project_id`: grouping in tasks_account_project_idx's order would walk the whole account's
      // range of it; grouping an expression leaves SQLite the part's own index range (and a sort).
      .groupBy(sql`+${tasks.projectId}`)
  );
}

function visibleQueries(db: Db, p: Principal, { today, tomorrow }: StatsDay) {
  const [first, ...rest] = visibleParts(p).map((where) => visibleQuery(db, where, { today, tomorrow }));
  return [first!, ...rest] as const;
}

/** Every statement `taskStats` runs for `p` (tests read their query plans). */
export function statsQueries(db: Db, p: Principal, now: number): { toSQL(): { sql: string; params: unknown[] } }[] {
  const today = isoDate(now);
  const tomorrow = isoDate(now + DAY_MS);
  return accountWide(p) ? [...accountQueries(db, p.accountId, { today, tomorrow })] : [...visibleQueries(db, p, { today, tomorrow })];
}

export async function taskStats(db: Db, p: Principal, now: number): Promise<StatsJson> {
  const today = isoDate(now);
  const tomorrow = isoDate(now + DAY_MS);
  if (!accountWide(p)) return visibleStats(await db.batch(visibleQueries(db, p, { today, tomorrow })));
  return accountStats(await db.batch(accountQueries(db, p.accountId, { today, tomorrow })));
}

/** What `GET /stats` answers: the totals with the names the clients print. */
export interface StatsAnswer extends Omit<StatsJson, 'by_project'> {
  /** Tasks per project name (tasks without a project under "No project"). */
  by_project: Record<string, number>;
  total_tasks: number;
  completed_tasks: number;
  pending_tasks: number;
  total_agents: number;
  active_agents: number;
}

/** Key of tasks without a project in the answer's by_project. */
export const NO_PROJECT_NAME = 'No project';

/** taskStats with project names and agent counts, read in the same round trip. */
export async function statsAnswer(db: Db, p: Principal, now: number): Promise<StatsAnswer> {
  const today = isoDate(now);
  const tomorrow = isoDate(now + DAY_MS);
  const names = db.select({ id: projects.id, name: projects.name }).from(projects).where(eq(projects.accountId, p.accountId));
  const agentCounts = db
    .select({ total: sql<number>`count(*)`, active: sql<number>`coalesce(sum(${agents.active}), 0)` })
    .from(agents)
    .where(eq(agents.accountId, p.accountId));
  let stats: StatsJson;
  let projectRows: { id: string; name: string }[];
  let agentRows: { total: number; active: number }[];
  if (accountWide(p)) {
    const [a, b, c, d, e, f, n, g] = await db.batch([...accountQueries(db, p.accountId, { today, tomorrow }), names, agentCounts]);
    stats = accountStats([a, b, c, d, e, f]);
    [projectRows, agentRows] = [n, g];
  } else {
    // A restricted key has one part, a worker four: the names and counts go first.
    const [n, g, ...parts] = await db.batch([names, agentCounts, ...visibleQueries(db, p, { today, tomorrow })]);
    stats = visibleStats(parts as VisibleRow[][]);
    [projectRows, agentRows] = [n, g];
  }
  const nameOf = new Map(projectRows.map((r) => [r.id, r.name]));
  const byName: Record<string, number> = {};
  for (const [id, counts] of Object.entries(stats.by_project)) {
    const name = id === NO_PROJECT ? NO_PROJECT_NAME : (nameOf.get(id) ?? id);
    byName[name] = (byName[name] ?? 0) + counts.total;
  }
  return {
    ...stats,
    by_project: byName,
    total_tasks: stats.total,
    completed_tasks: stats.completed,
    pending_tasks: stats.open,
    total_agents: agentRows[0]?.total ?? 0,
    active_agents: agentRows[0]?.active ?? 0,
  };
}

type VisibleRow = Awaited<ReturnType<ReturnType<typeof visibleQuery>['all']>>[number];

function visibleStats(parts: readonly VisibleRow[][]): StatsJson {
  const out: StatsJson = { total: 0, completed: 0, open: 0, completed_today: 0, due_today: 0, overdue: 0, by_project: {} };
  const groups = new Map<string | null, { total: number; completed: number }>();
  for (const r of parts.flat()) {
    out.total += r.total;
    out.completed += r.completed;
    out.completed_today += r.completedToday;
    out.due_today += r.dueToday;
    out.overdue += r.overdue;
    const group = groups.get(r.projectId) ?? { total: 0, completed: 0 };
    group.total += r.total;
    group.completed += r.completed;
    groups.set(r.projectId, group);
  }
  // In the grouped query's order: tasks without a project (NULL) first, then by project id.
  const keys = [...groups.keys()].sort((x, y) => (x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1));
  for (const key of keys) out.by_project[key ?? NO_PROJECT] = groups.get(key)!;
  out.open = out.total - out.completed;
  return out;
}

type Counter = { dim: string; n: number };

function accountStats([totals, projectCounts, projectsDone, completedToday, dueToday, overdue]: readonly [
  Counter[],
  Counter[],
  Counter[],
  { n: number }[],
  { n: number }[],
  { n: number }[],
]): StatsJson {
  const out: StatsJson = { total: 0, completed: 0, open: 0, completed_today: 0, due_today: 0, overdue: 0, by_project: {} };
  const counter = (dim: string) => totals.find((r) => r.dim === dim)?.n ?? 0;
  out.total = counter('all');
  out.completed = counter('completed:1');
  out.open = out.total - out.completed;
  out.completed_today = completedToday[0]?.n ?? 0;
  out.due_today = dueToday[0]?.n ?? 0;
  out.overdue = overdue[0]?.n ?? 0;

  const done = new Map(projectsDone.map((r) => [r.dim.slice('project_done:'.length), r.n]));
  const byProject: StatsJson['by_project'] = {};
  let inProjects = 0;
  let doneInProjects = 0;
  for (const r of projectCounts) {
    const id = r.dim.slice('project:'.length);
    const completed = done.get(id) ?? 0;
    byProject[id] = { total: r.n, completed };
    inProjects += r.n;
    doneInProjects += completed;
  }
  // Tasks without a project: no counter of their own, the remainder of the account's totals.
  // Listed first, where the grouped query put them (NULL sorts first).
  const none = { total: out.total - inProjects, completed: out.completed - doneInProjects };
  out.by_project = none.total > 0 ? { [NO_PROJECT]: none, ...byProject } : byProject;
  return out;
}
