/**
 * A task row as the API shows it. Shared by every route that answers a task (tasks, the claim
 * queue, webhooks), so the shape the public clients parse exists once.
 */
import { sql, type SQL } from 'drizzle-orm';
import { SQLiteAsyncDialect } from 'drizzle-orm/sqlite-core';
import { getTableColumns } from 'drizzle-orm';
import { tasks } from '../db/schema';
import { isoSeconds } from '../lib/time';

export type TaskRow = typeof tasks.$inferSelect;
/** What the task JSON is built from: every column but the context, which has its own routes. */
export type TaskFields = Omit<TaskRow, 'context'>;

/** The columns of TaskFields, for reads and RETURNING clauses that never carry the context (up to 32 KiB). */
const { context: _context, ...fieldColumns } = getTableColumns(tasks);
export const taskFieldColumns = fieldColumns;

export interface EvidenceItem {
  kind: 'commit' | 'pr' | 'ci_check' | 'deploy_sha' | 'artifact_url' | 'command_output';
  ref: string;
  summary?: string;
}

export interface TaskJson {
  id: string;
  content: string;
  description: string | null;
  priority: number;
  labels: string[];
  due_date: string | null;
  project_id: string | null;
  parent_task_id: string | null;
  /** Same as parent_task_id: the Python SDK reads `parent_id`. */
  parent_id: string | null;
  root_task_id: string;
  depth: number;
  assigned_to_agent_id: string | null;
  created_by_agent_id: string;
  accountable_agent_id: string | null;
  status: 'open' | 'claimed' | 'delegated' | 'completed';
  completed: boolean;
  completed_at: string | null;
  completed_by_agent_id: string | null;
  claimed_by_agent_id: string | null;
  claimed_at: string | null;
  lease_expires_at: string | null;
  session_state: 'working' | 'waiting_input' | 'errored' | null;
  state_detail: string | null;
  handoff: string | null;
  evidence_policy: 'required' | null;
  evidence: EvidenceItem[];
  context_version: number;
  reopen_count: number;
  created_at: string;
  updated_at: string;
}

/** Claim fields of a task with no claim. */
export const NO_CLAIM = {
  claimedByAgentId: null,
  claimedAt: null,
  leaseExpiresAt: null,
  lastHeartbeatAt: null,
  sessionState: null,
  stateDetail: null,
} as const;

/** Whether the row holds a claim whose lease has not run out at `now`. */
export function hasLiveClaim(row: Pick<TaskRow, 'claimedByAgentId' | 'leaseExpiresAt'>, now: number): boolean {
  return row.claimedByAgentId !== null && row.leaseExpiresAt !== null && row.leaseExpiresAt > isoSeconds(now);
}

/**
 * The row as JSON at `now`. A claim whose lease has run out is shown as released even before
 * the queue's alarm has written that down, so no reader ever sees a dead claim as live.
 */
export function taskJson(row: TaskFields, now: number): TaskJson {
  const live = hasLiveClaim(row, now);
  const staleClaim = row.claimedByAgentId !== null && !live;
  return {
    id: row.id,
    content: row.content,
    description: row.description,
    priority: row.priority,
    labels: parseJson<string[]>(row.labels, []),
    due_date: row.dueDate,
    project_id: row.projectId,
    parent_task_id: row.parentTaskId,
    parent_id: row.parentTaskId,
    root_task_id: row.rootTaskId,
    depth: row.depth,
    assigned_to_agent_id: row.assignedToAgentId,
    created_by_agent_id: row.createdByAgentId,
    accountable_agent_id: row.accountableAgentId,
    status: staleClaim && row.status === 'claimed' ? 'open' : row.status,
    completed: row.completed,
    completed_at: row.completedAt,
    completed_by_agent_id: row.completedByAgentId,
    claimed_by_agent_id: live ? row.claimedByAgentId : null,
    claimed_at: live ? row.claimedAt : null,
    lease_expires_at: live ? row.leaseExpiresAt : null,
    session_state: live ? row.sessionState : staleClaim ? null : row.sessionState,
    state_detail: live ? row.stateDetail : staleClaim ? null : row.stateDetail,
    handoff: row.handoff,
    evidence_policy: row.evidencePolicy,
    evidence: parseJson<EvidenceItem[]>(row.evidence, []),
    context_version: row.contextVersion,
    reopen_count: row.reopenCount,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

/**
 * taskJson in SQL, for pages read straight into the answer (GET /v1/tasks): SQLite writes each
 * task's JSON text, so no row crosses into the Worker column by column and nothing is mapped or
 * serialised here. It must say exactly what taskJson says (test/task-json-sql.test.ts checks
 * that on rows in every state); `column` names a column of the row by its SQL name.
 */
export function taskJsonSql(column: (name: string) => SQL, now: number): SQL {
  return taskJsonExpression(column, sql`${isoSeconds(now)}`);
}

const NOW_MARK = '__delega_now__';
const renderedByAlias = new Map<string, string>();

/**
 * taskJsonSql over the columns of the derived table `alias`, rendered once per isolate: building
 * the expression with drizzle costs more than running it. The time is the only value in it; it
 * is spliced in as a literal (our own ISO timestamp, never client input).
 */
export function taskJsonSqlOf(alias: string, now: number): SQL {
  let text = renderedByAlias.get(alias);
  if (text === undefined) {
    const query = new SQLiteAsyncDialect().sqlToQuery(
      taskJsonExpression((name) => sql`${sql.identifier(alias)}.${sql.identifier(name)}`, sql.raw(NOW_MARK)),
    );
    if (query.params.length > 0) throw new Error('taskJsonSqlOf: the expression must render without parameters');
    text = query.sql;
    renderedByAlias.set(alias, text);
  }
  return sql.raw(text.replaceAll(NOW_MARK, `'${isoSeconds(now)}'`));
}

function taskJsonExpression(column: (name: string) => SQL, nowIso: SQL): SQL {
  const c = column;
  const live = sql`(${c('claimed_by_agent_id')} is not null and ${c('lease_expires_at')} is not null and ${c('lease_expires_at')} > ${nowIso})`;
  const stale = sql`(${c('claimed_by_agent_id')} is not null and not ${live})`;
  const ifLive = (name: string) => sql`case when ${live} then ${c(name)} end`;
  const keptUnlessStale = (name: string) => sql`case when ${live} then ${c(name)} when ${stale} then null else ${c(name)} end`;
  const jsonArray = (name: string) => sql`case when json_valid(${c(name)}) then json(${c(name)}) else json('[]') end`;
  const fields: [string, SQL][] = [
    ['id', c('id')],
    ['content', c('content')],
    ['description', c('description')],
    ['priority', c('priority')],
    ['labels', jsonArray('labels')],
    ['due_date', c('due_date')],
    ['project_id', c('project_id')],
    ['parent_task_id', c('parent_task_id')],
    ['parent_id', c('parent_task_id')],
    ['root_task_id', c('root_task_id')],
    ['depth', c('depth')],
    ['assigned_to_agent_id', c('assigned_to_agent_id')],
    ['created_by_agent_id', c('created_by_agent_id')],
    ['accountable_agent_id', c('accountable_agent_id')],
    ['status', sql`case when ${stale} and ${c('status')} = 'claimed' then 'open' else ${c('status')} end`],
    ['completed', sql`json(case when ${c('completed')} then 'true' else 'false' end)`],
    ['completed_at', c('completed_at')],
    ['completed_by_agent_id', c('completed_by_agent_id')],
    ['claimed_by_agent_id', ifLive('claimed_by_agent_id')],
    ['claimed_at', ifLive('claimed_at')],
    ['lease_expires_at', ifLive('lease_expires_at')],
    ['session_state', keptUnlessStale('session_state')],
    ['state_detail', keptUnlessStale('state_detail')],
    ['handoff', c('handoff')],
    ['evidence_policy', c('evidence_policy')],
    ['evidence', jsonArray('evidence')],
    ['context_version', c('context_version')],
    ['reopen_count', c('reopen_count')],
    ['created_at', c('created_at')],
    ['updated_at', c('updated_at')],
  ];
  return sql`json_object(${sql.join(
    fields.map(([key, value]) => sql`${sql.raw(`'${key}'`)}, ${value}`),
    sql`, `,
  )})`;
}

function parseJson<T>(text: string | null, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
