/**
 * A task row as the API shows it. Shared by every route that answers a task (tasks, the claim
 * queue, webhooks), so the shape the public clients parse exists once.
 */
import { getTableColumns, type Column } from 'drizzle-orm';
import { tasks } from '../db/schema';
import { isoSeconds } from '../platform/time';

export type TaskRow = typeof tasks.$inferSelect;
/** What the task JSON is built from: every column but the context, which has its own routes. */
export type TaskFields = Omit<TaskRow, 'context'>;

/** The columns of TaskFields, for reads and RETURNING clauses that never carry the context (up to 32 KiB). */
const { context: _context, ...fieldColumns } = getTableColumns(tasks);
export const taskFieldColumns = fieldColumns;

/**
 * A row D1 answered (as an object by column name, or an array by position) in drizzle's types:
 * `valueAt` finds each column's driver value, which the column decodes (e.g. 0/1 to a boolean).
 */
export function rowFromDriver<T>(columns: Record<string, Column>, valueAt: (column: Column, index: number) => unknown): T {
  const row: Record<string, unknown> = {};
  const list = columnList(columns);
  for (let i = 0; i < list.length; i++) {
    const [key, column] = list[i]!;
    const value = valueAt(column, i);
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as T;
}

/** Each column set's entries, listed once: a page maps them for every one of its rows. */
const columnLists = new WeakMap<Record<string, Column>, [string, Column][]>();
function columnList(columns: Record<string, Column>): [string, Column][] {
  let list = columnLists.get(columns);
  if (!list) {
    list = Object.entries(columns);
    columnLists.set(columns, list);
  }
  return list;
}

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
  /** 0 for a root task; the clients read `delegation_depth`. */
  delegation_depth: number;
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
  session_state_detail: string | null;
  /** Same as handoff_note (the name CONTRACT.md first gave it). */
  handoff: string | null;
  handoff_note: string | null;
  handoff_by_agent_id: string | null;
  handoff_state: 'working' | 'waiting_input' | 'errored' | null;
  evidence_policy: 'required' | null;
  completion_evidence: EvidenceItem[];
  context_version: number;
  reopen_count: number;
  source_recurrence_id: string | null;
  source_ingress_id: string | null;
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
    delegation_depth: row.depth,
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
    session_state_detail: live ? row.stateDetail : staleClaim ? null : row.stateDetail,
    handoff: row.handoffNote,
    handoff_note: row.handoffNote,
    handoff_by_agent_id: row.handoffByAgentId,
    handoff_state: row.handoffState,
    evidence_policy: row.evidencePolicy,
    completion_evidence: parseJson<EvidenceItem[]>(row.evidence, []),
    context_version: row.contextVersion,
    reopen_count: row.reopenCount,
    source_recurrence_id: row.sourceRecurrenceId,
    source_ingress_id: row.sourceIngressId,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

function parseJson<T>(text: string | null, fallback: T): T {
  if (!text) return fallback;
  // Most tasks carry no labels or evidence.
  if (text === '[]') return [] as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
