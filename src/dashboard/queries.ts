/**
 * The reads behind the board and the task page, each one D1 batch (one round trip), built on the
 * domain's visibility rule (`filterConditions`, `assertCanRead`) and its JSON shapes, so a page
 * shows exactly what the API would answer the same principal.
 */
import { and, asc, desc, eq, getTableColumns, inArray, isNotNull, lte, or, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client';
import { RenderedSql } from '../db/rendered-sql';
import { toRawQuery, type RawQuery } from '../db/sql-batch';
import {
  accounts,
  agents,
  comments,
  projects,
  runs,
  subtasks,
  taskContextHistory,
  taskLabels,
  taskLinks,
  tasks,
  webhookAttempts,
  webhookDeliveries,
  webhooks,
} from '../db/schema';
import { webhookJson, type WebhookJson } from '../webhooks/webhooks';
import { deliveryJson, type DeliveryJson } from '../webhooks/deliveries';
import { notFound } from '../platform/errors';
import { isAllowed, type Principal } from '../access/policy';
import { agentJson, type AgentJson } from '../accounts/agents';
import { commentJson, type CommentJson } from '../tasks/comments';
import { projectJson, type ProjectJson } from '../accounts/projects';
import { runJson, type RunJson } from '../tasks/runs';
import { subtaskJson, type SubtaskJson } from '../tasks/subtasks';
import { assertCanRead, standsFor, visibilityKey, visibleTasks } from '../tasks/task-access';
import { filterConditions } from '../tasks/task-list';
import { linkJson, type LinkJson } from '../tasks/task-links';
import { rowReader, taskFieldColumns, taskJson, type TaskFields, type TaskJson } from '../tasks/task-json';
import { isoSeconds } from '../platform/time';
import { writtenLimit } from '../db/written-limit';

export const COLUMNS = ['open', 'claimed', 'waiting', 'done'] as const;
export type ColumnName = (typeof COLUMNS)[number];
export const COLUMN_PAGE = 25;

export interface BoardFilters {
  project?: string;
  label?: string;
  assignee?: string;
  search?: string;
  /** Per column: how many cards of it to skip (each column pages on its own). */
  offsets: Record<ColumnName, number>;
}

export interface BoardColumn {
  tasks: TaskJson[];
  total: number;
  offset: number;
  /** Per task: the columns a drag may move it to, as the authorisation table allows. */
  moves: Record<string, ColumnName[]>;
}

/** Open to done is a completion, done to open a reopen; nothing else is a human's move. */
function movesFor(p: Principal, row: TaskFields, now: number): ColumnName[] {
  const op = row.completed ? 'tasks.uncomplete' : 'tasks.complete';
  if (!isAllowed(p, op) || !standsFor(p, row, { op, now })) return [];
  return [row.completed ? 'open' : 'done'];
}

export interface BoardData {
  columns: Record<ColumnName, BoardColumn>;
  projects: ProjectJson[];
  agents: AgentJson[];
  labels: string[];
}

/** Which column a task is in, as SQL; `taskJson` shows the same (a run-out lease is no claim). */
function columnCondition(column: ColumnName, nowIso: string): SQL {
  const live = and(isNotNull(tasks.claimedByAgentId), sql`${tasks.leaseExpiresAt} > ${nowIso}`)!;
  const notLive = or(sql`${tasks.claimedByAgentId} is null`, sql`${tasks.leaseExpiresAt} is null`, lte(tasks.leaseExpiresAt, nowIso))!;
  const waiting = eq(tasks.sessionState, 'waiting_input');
  const open = eq(tasks.completed, false);
  switch (column) {
    case 'open':
      return and(open, notLive)!;
    case 'claimed':
      return and(open, live, sql`coalesce(${tasks.sessionState}, '') <> 'waiting_input'`)!;
    case 'waiting':
      return and(open, live, waiting)!;
    case 'done':
      return eq(tasks.completed, true);
  }
}

export interface BoardQuery {
  filters: BoardFilters;
  now: number;
}

/**
 * Stands in for the time while a board's statements are rendered, so the rendering can be kept:
 * only the column conditions read the time, and they bind it as a value (see `boardStatements`).
 */
const NOW = Symbol('now');

/**
 * The board's nine statements, with `NOW` where the time goes. Rendered with drizzle once per
 * principal and filters, then kept: rendering them cost about 0.9 ms of the Worker's 6.4 ms of
 * CPU per board page (a CPU profile of `GET /app` with 200 tasks); kept, the board's bench row
 * went from 0.29 to 0.32 of /health throughput (0.36 in a run of that row alone).
 */
function boardStatements(db: Db, p: Principal, filters: BoardFilters): RawQuery[] {
  const nowIso = NOW as unknown as string;
  const base = filterConditions(
    p,
    // The board's filters (no due date, no claimed filter) do not read the time.
    { project_id: filters.project, assigned_to: filters.assignee, search: filters.search, limit: COLUMN_PAGE, offset: 0 },
    0,
  );
  if (filters.label)
    base.push(
      sql`exists (select 1 from ${taskLabels} where ${taskLabels.taskId} = ${tasks.id} and ${taskLabels.label} = ${filters.label})`,
    );
  const where = (column: ColumnName) => and(...base, columnCondition(column, nowIso));
  const page = (column: ColumnName) =>
    db
      // Never the context (up to 32 KiB a task): a card does not show it.
      .select(taskFieldColumns)
      .from(tasks)
      .where(where(column))
      .orderBy(
        ...(column === 'done' ? [desc(tasks.completedAt), desc(tasks.id)] : [desc(tasks.priority), desc(tasks.createdAt), desc(tasks.id)]),
      )
      .limit(writtenLimit(COLUMN_PAGE))
      .offset(filters.offsets[column]);
  // The four columns' counts in one pass over the filtered tasks, each named as its column.
  const countIn = (column: ColumnName) =>
    sql<number>`coalesce(sum(case when ${columnCondition(column, nowIso)} then 1 else 0 end), 0)`.as(column);
  const totals = db
    .select({ open: countIn('open'), claimed: countIn('claimed'), waiting: countIn('waiting'), done: countIn('done') })
    .from(tasks)
    .where(and(...base));
  return [
    ...COLUMNS.map(page),
    totals,
    db.select().from(projects).where(eq(projects.accountId, p.accountId)).orderBy(asc(projects.sortOrder), asc(projects.id)),
    db.select().from(agents).where(eq(agents.accountId, p.accountId)).orderBy(asc(agents.createdAt), asc(agents.id)),
    db.select({ defaultAgentId: accounts.defaultAgentId }).from(accounts).where(eq(accounts.id, p.accountId)),
    db
      .selectDistinct({ label: taskLabels.label })
      .from(taskLabels)
      .where(eq(taskLabels.accountId, p.accountId))
      .orderBy(asc(taskLabels.label))
      .limit(writtenLimit(200)),
  ].map(toRawQuery);
}

const renderedBoards = new RenderedSql<RawQuery[]>(256);
const cardRows = rowReader<TaskFields>(taskFieldColumns);
const projectRows = rowReader<typeof projects.$inferSelect>(getTableColumns(projects));
const agentRows = rowReader<typeof agents.$inferSelect>(getTableColumns(agents));

export async function boardData(db: Db, p: Principal, { filters, now }: BoardQuery): Promise<BoardData> {
  const nowIso = isoSeconds(now);
  const key = JSON.stringify([...visibilityKey(p), filters]);
  const client = db.$client;
  const results = await client.batch<Record<string, unknown>>(
    renderedBoards
      .get(key, () => boardStatements(db, p, filters))
      .map((q) => client.prepare(q.sql).bind(...q.params.map((v) => (v === NOW ? nowIso : v)))),
  );
  const [open, claimed, waiting, done, counts, projectList, agentList, acct, labelList] = results.map((r) => r.results ?? []);
  const column = (rows: Record<string, unknown>[], name: ColumnName): BoardColumn => {
    const fields = rows.map((r) => cardRows.fromObject(r));
    return {
      tasks: fields.map((r) => taskJson(r, now)),
      total: Number(counts?.[0]?.[name] ?? 0),
      offset: filters.offsets[name],
      moves: Object.fromEntries(fields.map((r) => [r.id, movesFor(p, r, now)])),
    };
  };
  const defaultId = (acct?.[0]?.default_agent_id as string | null | undefined) ?? null;
  return {
    columns: {
      open: column(open!, 'open'),
      claimed: column(claimed!, 'claimed'),
      waiting: column(waiting!, 'waiting'),
      done: column(done!, 'done'),
    },
    projects: projectList!.map((r) => projectJson(projectRows.fromObject(r))),
    agents: agentList!.map((r) => agentJson(agentRows.fromObject(r), defaultId)),
    labels: labelList!.map((r) => r.label as string),
  };
}

export interface HistoryRow {
  key: string;
  value: string | null;
  version: number;
  source: string;
  agent_id: string | null;
  created_at: string;
}

export interface TaskPageData {
  task: TaskJson;
  context: Record<string, unknown>;
  history: HistoryRow[];
  comments: CommentJson[];
  subtasks: SubtaskJson[];
  links: LinkJson[];
  chain: TaskJson[];
  runs: RunJson[];
  agents: AgentJson[];
  projects: ProjectJson[];
}

const HISTORY_SHOWN = 100;
const COMMENTS_SHOWN = 200;
const CHAIN_SHOWN = 100;
const RUNS_SHOWN = 50;

export interface TaskPageQuery {
  taskId: string;
  now: number;
}

/** Everything the task page shows in one batch; a task the principal cannot see is the API's 404. */
export async function taskPageData(db: Db, p: Principal, { taskId, now }: TaskPageQuery): Promise<TaskPageData> {
  const inAccount = (t: { accountId: AnyColumn }) => eq(t.accountId, p.accountId);
  const [taskRows, history, commentRows, subtaskRows, linkRows, chainRows, runRows, agentRows, projectRows] = await db.batch([
    db
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId))),
    db
      .select()
      .from(taskContextHistory)
      .where(and(eq(taskContextHistory.taskId, taskId), inAccount(taskContextHistory)))
      .orderBy(desc(taskContextHistory.version), asc(taskContextHistory.key))
      .limit(writtenLimit(HISTORY_SHOWN)),
    db
      .select()
      .from(comments)
      .where(and(eq(comments.taskId, taskId), inAccount(comments)))
      .orderBy(asc(comments.createdAt), asc(comments.id))
      .limit(writtenLimit(COMMENTS_SHOWN)),
    db
      .select()
      .from(subtasks)
      .where(and(eq(subtasks.taskId, taskId), inAccount(subtasks)))
      .orderBy(asc(subtasks.sortOrder), asc(subtasks.id)),
    db
      .select()
      .from(taskLinks)
      .where(and(eq(taskLinks.taskId, taskId), inAccount(taskLinks)))
      .orderBy(asc(taskLinks.createdAt)),
    // The whole delegation tree this task belongs to (same root), as the API's chain answers it.
    db
      .select()
      .from(tasks)
      .where(
        and(
          visibleTasks(p),
          sql`${tasks.rootTaskId} = (select ${tasks.rootTaskId} from ${tasks} where ${tasks.id} = ${taskId} and ${tasks.accountId} = ${p.accountId})`,
        ),
      )
      .orderBy(asc(tasks.depth), asc(tasks.createdAt))
      .limit(writtenLimit(CHAIN_SHOWN)),
    db
      .select()
      .from(runs)
      .where(and(eq(runs.taskId, taskId), inAccount(runs)))
      .orderBy(desc(runs.claimedAtMs))
      .limit(writtenLimit(RUNS_SHOWN)),
    db.select().from(agents).where(eq(agents.accountId, p.accountId)).orderBy(asc(agents.createdAt), asc(agents.id)),
    db.select().from(projects).where(eq(projects.accountId, p.accountId)).orderBy(asc(projects.sortOrder), asc(projects.id)),
  ]);
  const row = taskRows[0];
  assertCanRead(p, row);
  let context: Record<string, unknown> = {};
  try {
    context = JSON.parse(row.context) as Record<string, unknown>;
  } catch {
    // An unreadable context shows as empty; the API answers the same.
  }
  return {
    task: taskJson(row, now),
    context,
    history: history.map((h) => ({
      key: h.key,
      value: h.value,
      version: h.version,
      source: h.source,
      agent_id: h.agentId,
      created_at: h.createdAt,
    })),
    comments: commentRows.map(commentJson),
    subtasks: subtaskRows.map(subtaskJson),
    links: linkRows.map(linkJson),
    chain: chainRows.map((r) => taskJson(r, now)),
    runs: runRows.map(runJson),
    agents: agentRows.map((r) => agentJson(r, null)),
    projects: projectRows.map(projectJson),
  };
}

const DELIVERIES_SHOWN = 50;

/** A webhook of the account with its latest deliveries and their attempts, in one batch. */
export async function webhookPageData(db: Db, p: Principal, id: string): Promise<{ webhook: WebhookJson; deliveries: DeliveryJson[] }> {
  const latest = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.webhookId, id), eq(webhookDeliveries.accountId, p.accountId)))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(writtenLimit(DELIVERIES_SHOWN));
  const [hook, deliveries, attempts] = await db.batch([
    db
      .select()
      .from(webhooks)
      .where(and(eq(webhooks.id, id), eq(webhooks.accountId, p.accountId))),
    db
      .select()
      .from(webhookDeliveries)
      .where(inArray(webhookDeliveries.id, latest))
      .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id)),
    db
      .select()
      .from(webhookAttempts)
      .where(inArray(webhookAttempts.deliveryId, latest))
      .orderBy(asc(webhookAttempts.deliveryId), asc(webhookAttempts.attempt)),
  ]);
  if (!hook[0]) throw notFound('webhook');
  const byDelivery = new Map<string, (typeof attempts)[number][]>();
  for (const a of attempts) byDelivery.set(a.deliveryId, [...(byDelivery.get(a.deliveryId) ?? []), a]);
  return { webhook: webhookJson(hook[0]), deliveries: deliveries.map((d) => deliveryJson(d, byDelivery.get(d.id) ?? [])) };
}
