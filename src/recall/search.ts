/**
 * Recall: ranked lexical search over every version of every context entry the caller may read.
 * The full-text index (migration context_search) is read first, scoped by an account token, then
 * each match is joined to its ledger row and task and filtered by the task visibility rule, so
 * the rows read follow the matches, not the account's task count.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client';
import type { Principal } from '../access/policy';
import type { ContextSource } from '../tasks/task-context';
import { visibleTasks } from '../tasks/task-access';
import { sqlBatch } from '../db/sql-batch';
import { writtenLimit } from '../db/written-limit';

export interface RecallQuery {
  q: string;
  project_id?: string;
  source?: ContextSource;
  key?: string;
  limit: number;
  include_superseded: boolean;
}

export interface RecallResult {
  task_id: string;
  task_content: string;
  key: string;
  value: unknown;
  source: ContextSource;
  score: number;
  version: number;
  superseded: boolean;
  recorded_at: string;
}

/**
 * Score: 1 + bm25 relevance (so a match in a tiny corpus, where bm25 is near 0, still counts),
 * times 2 for human-stated facts and 0.5 for superseded entries.
 */
const HUMAN_STATED_WEIGHT = 2;
const SUPERSEDED_WEIGHT = 0.5;
const MAX_TERMS = 16;

/** The words of `q` as an FTS5 query of quoted terms (any may match; bm25 ranks the rest). */
export function matchTerms(q: string): string[] {
  const words = q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words.filter((w) => w.length <= 64))].slice(0, MAX_TERMS);
}

function ftsQuery(accountId: string, terms: string[]): string {
  const scope = accountId.replace(/_/g, '');
  return `scope : "${scope}" AND {key value} : (${terms.map((t) => `"${t}"`).join(' OR ')})`;
}

export async function searchContext(db: Db, p: Principal, query: RecallQuery): Promise<RecallResult[]> {
  const terms = matchTerms(query.q);
  if (terms.length === 0) return [];
  const filters: SQL[] = [sql`h.account_id = ${p.accountId}`, visibleTasks(p)];
  if (query.project_id !== undefined) filters.push(sql`tasks.project_id = ${query.project_id}`);
  if (query.source !== undefined) filters.push(sql`h.source = ${query.source}`);
  if (query.key !== undefined) filters.push(sql`h.key = ${query.key}`);
  const superseded = sql`exists (select 1 from task_context_history n where n.task_id = h.task_id and n.key = h.key and n.version > h.version)`;
  if (!query.include_superseded) filters.push(sql`not ${superseded}`);
  // CROSS JOIN keeps the index first: SQLite never reorders it, so no plan starts from the account's tasks.
  const [rows] = await sqlBatch(db, [
    sql`select h.task_id, tasks.content as task_content, h.key, h.value, h.source, h.version, h.created_at, ${superseded} as superseded,
        (1 - bm25(context_fts, 0.0, 2.0, 1.0))
          * (case h.source when 'human_stated' then ${HUMAN_STATED_WEIGHT} else 1 end)
          * (case when ${superseded} then ${SUPERSEDED_WEIGHT} else 1 end) as score
      from context_fts cross join task_context_history h on h.rowid = context_fts.rowid
        cross join tasks on tasks.id = h.task_id
      where context_fts match ${ftsQuery(p.accountId, terms)} and ${sql.join(filters, sql` and `)}
      order by score desc, h.created_at desc
      limit ${writtenLimit(query.limit)}`,
  ]);
  return rows!.map((r) => ({
    task_id: String(r.task_id),
    task_content: String(r.task_content),
    key: String(r.key),
    value: parseValue(r.value as string),
    source: r.source as ContextSource,
    score: Math.round(Number(r.score) * 1000) / 1000,
    version: Number(r.version),
    superseded: Boolean(r.superseded),
    recorded_at: String(r.created_at),
  }));
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
