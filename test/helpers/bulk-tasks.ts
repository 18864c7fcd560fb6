/**
 * Seeds many tasks fast for scale tests: multi-row INSERTs of SQL literals (D1 caps bound
 * parameters per statement), 250 rows each, 20 statements a batch. The tasks triggers keep
 * labels, counters and the search index in step, as for any other write.
 */
import { env } from 'cloudflare:test';

export interface BulkTask {
  id: string;
  accountId: string;
  content: string;
  createdBy: string;
  createdAt: string;
  projectId?: string | null;
  description?: string | null;
  priority?: number;
  /** JSON array text, e.g. '["bug"]'. */
  labels?: string;
  dueDate?: string | null;
  assignedTo?: string | null;
  completed?: boolean;
  completedAt?: string | null;
  completedBy?: string | null;
  claimedBy?: string | null;
  claimedAt?: string | null;
  leaseExpiresAt?: string | null;
}

const ROWS_PER_INSERT = 250;
const STATEMENTS_PER_BATCH = 20;

const literal = (v: string | number | null | undefined) =>
  v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`;

export async function bulkInsertTasks(seeds: BulkTask[]): Promise<void> {
  const statements: D1PreparedStatement[] = [];
  for (let start = 0; start < seeds.length; start += ROWS_PER_INSERT) {
    const values = seeds
      .slice(start, start + ROWS_PER_INSERT)
      .map(
        (t) =>
          `(${[
            t.id,
            t.accountId,
            t.projectId,
            t.id,
            t.content,
            t.description,
            t.priority ?? 1,
            t.labels ?? '[]',
            t.dueDate,
            t.assignedTo,
            t.createdBy,
            t.completed ? 1 : 0,
            t.completedAt,
            t.completedBy,
            t.claimedBy,
            t.claimedAt,
            t.leaseExpiresAt,
            t.createdAt,
            t.createdAt,
          ]
            .map(literal)
            .join(', ')})`,
      );
    statements.push(
      env.DB.prepare(
        `INSERT INTO tasks (id, account_id, project_id, root_task_id, content, description, priority, labels, due_date, assigned_to_agent_id, created_by_agent_id, completed, completed_at, completed_by_agent_id, claimed_by_agent_id, claimed_at, lease_expires_at, created_at, updated_at) VALUES ${values.join(', ')}`,
      ),
    );
  }
  for (let i = 0; i < statements.length; i += STATEMENTS_PER_BATCH) await env.DB.batch(statements.slice(i, i + STATEMENTS_PER_BATCH));
}
