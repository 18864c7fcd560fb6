/**
 * A task row as the API shows it. Shared by every route that answers a task (tasks, the claim
 * queue, webhooks), so the shape the public clients parse exists once.
 */
import { z } from '@hono/zod-openapi';
import { getTableColumns, type Column } from 'drizzle-orm';
import { tasks } from '../db/schema';
import { answerColumns, type ColumnsJson } from '../http/answer-columns';
import { isoSeconds } from '../platform/time';

export type TaskRow = typeof tasks.$inferSelect;
/** What the task JSON is built from: every column but the context, which has its own routes. */
export type TaskFields = Omit<TaskRow, 'context'>;

/** The columns of TaskFields, for reads and RETURNING clauses that never carry the context (up to 32 KiB). */
const { context: _context, ...fieldColumns } = getTableColumns(tasks);
export const taskFieldColumns = fieldColumns;

/**
 * Rows D1 answered, in drizzle's types: each column's driver value decoded by the column (e.g.
 * 0/1 to a boolean). `fromArray` reads a row answered as an array (in `columns`' order),
 * `fromObject` one answered by SQL column name. The column list is read once per reader, not
 * per row: a page maps it for each of its rows.
 */
export function rowReader<T>(columns: Record<string, Column>) {
  const keys = Object.keys(columns);
  const cols = Object.values(columns);
  const decode = (column: Column, value: unknown) => (value === null || value === undefined ? null : column.mapFromDriverValue(value));
  return {
    fromArray(values: unknown[]): T {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) row[keys[i]!] = decode(cols[i]!, values[i]);
      return row as T;
    },
    fromObject(raw: Record<string, unknown>): T {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) row[keys[i]!] = decode(cols[i]!, raw[cols[i]!.name]);
      return row as T;
    },
  };
}

export interface EvidenceItem {
  kind: 'commit' | 'pr' | 'ci_check' | 'deploy_sha' | 'artifact_url' | 'command_output';
  ref: string;
  summary?: string;
}

/**
 * The task's columns as the answer shows them (see answer-columns.ts): a new column of `tasks`
 * shows under its SQL name with nothing written here. Hidden: the account, the heartbeat, the
 * context (its own routes), and the columns shown below under names and types of their own.
 */
const taskColumns = answerColumns(tasks, {
  hide: ['accountId', 'lastHeartbeatAt', 'context', 'depth', 'labels', 'stateDetail', 'evidence'],
  describe: {
    id: { example: 'tsk_0Nf3aB1c2D3e4F5g6H7i8J9' },
    priority: { description: '1 normal, 2 medium, 3 high, 4 urgent' },
    dueDate: { description: '`YYYY-MM-DD` or an ISO 8601 UTC timestamp' },
    handoffNote: { description: "The last release's note, shown to whoever claims next" },
    sourceRecurrenceId: { description: 'The recurrence that spawned this task' },
    sourceIngressId: { description: 'The inbound connector that created this task (its content is untrusted)' },
  },
  // A page maps a hundred rows a request: V8 builds a literal's objects with one shape and
  // serialises them faster than ones filled key by key (bench/RESULTS.md, "Instructions per request").
  written: (row) => ({
    id: row.id,
    project_id: row.projectId,
    parent_task_id: row.parentTaskId,
    root_task_id: row.rootTaskId,
    content: row.content,
    description: row.description,
    priority: row.priority,
    due_date: row.dueDate,
    assigned_to_agent_id: row.assignedToAgentId,
    created_by_agent_id: row.createdByAgentId,
    accountable_agent_id: row.accountableAgentId,
    status: row.status,
    completed: row.completed,
    completed_at: row.completedAt,
    completed_by_agent_id: row.completedByAgentId,
    claimed_by_agent_id: row.claimedByAgentId,
    claimed_at: row.claimedAt,
    lease_expires_at: row.leaseExpiresAt,
    session_state: row.sessionState,
    handoff_note: row.handoffNote,
    handoff_by_agent_id: row.handoffByAgentId,
    handoff_state: row.handoffState,
    evidence_policy: row.evidencePolicy,
    context_version: row.contextVersion,
    reopen_count: row.reopenCount,
    source_recurrence_id: row.sourceRecurrenceId,
    source_ingress_id: row.sourceIngressId,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  }),
});

export const TaskSchema = z
  .object({
    ...taskColumns.shape,
    labels: z.array(z.string()),
    parent_id: z.string().nullable().openapi({ description: 'Same as parent_task_id (the Python SDK reads it)' }),
    delegation_depth: z.number().int().openapi({ description: 'How many delegations below its root (a root task is 0)' }),
    session_state_detail: z.string().nullable().openapi({ description: 'Free text with the session state' }),
    handoff: z.string().nullable().openapi({ description: 'Same as handoff_note' }),
    completion_evidence: z
      .array(z.object({ kind: z.string(), ref: z.string(), summary: z.string().optional() }))
      .openapi({ description: 'Evidence sent with completions, oldest first' }),
  })
  .openapi('Task');

export type TaskJson = ColumnsJson<
  typeof tasks,
  'accountId' | 'lastHeartbeatAt' | 'context' | 'depth' | 'labels' | 'stateDetail' | 'evidence'
> & {
  labels: string[];
  /** Same as parent_task_id: the Python SDK reads `parent_id`. */
  parent_id: string | null;
  /** 0 for a root task; the clients read `delegation_depth`. */
  delegation_depth: number;
  session_state_detail: string | null;
  /** Same as handoff_note (the name CONTRACT.md first gave it). */
  handoff: string | null;
  completion_evidence: EvidenceItem[];
};

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
  // Filled in place, not spread into a literal: a page builds one per task (about 1 µs each saved).
  const json = taskColumns.json(row) as TaskJson;
  json.labels = parseJson<string[]>(row.labels, []);
  json.parent_id = row.parentTaskId;
  json.delegation_depth = row.depth;
  json.status = staleClaim && row.status === 'claimed' ? 'open' : row.status;
  json.claimed_by_agent_id = live ? row.claimedByAgentId : null;
  json.claimed_at = live ? row.claimedAt : null;
  json.lease_expires_at = live ? row.leaseExpiresAt : null;
  json.session_state = live ? row.sessionState : staleClaim ? null : row.sessionState;
  json.session_state_detail = live ? row.stateDetail : staleClaim ? null : row.stateDetail;
  json.handoff = row.handoffNote;
  json.completion_evidence = parseJson<EvidenceItem[]>(row.evidence, []);
  return json;
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
