/**
 * Runs: one row per claim session, from claim to completion, release or lease expiry.
 * Workers read their own; coordinators and admins read any agent of the account.
 */
import { z } from '@hono/zod-openapi';
import { and, count, desc, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client';
import { agents, runs } from '../db/schema';
import { notFound } from '../platform/errors';
import { isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { answerColumns, type ColumnsJson } from '../http/answer-columns';
import { writtenLimit } from '../db/written-limit';

export type RunRow = typeof runs.$inferSelect;

export interface RunEnd {
  taskId: string;
  outcome: 'completed' | 'released';
  now: number;
  /** Ends the run only when this condition holds too. */
  onlyIf?: SQL;
}

/** Ends the task's open run, if any, as one statement for the caller's batch. */
export function endOpenRun(db: Db, { taskId, outcome, now, onlyIf }: RunEnd) {
  return db
    .update(runs)
    .set({ endedAt: isoSeconds(now), outcome, durationMs: sql`max(0, ${now} - ${runs.claimedAtMs})` })
    .where(and(eq(runs.taskId, taskId), isNull(runs.endedAt), onlyIf));
}

/** A run as the API shows it (see answer-columns.ts). */
const runColumns = answerColumns(runs, {
  hide: ['accountId', 'claimedAtMs'],
  describe: { id: { example: 'run_0Nf3aB1c2D3e4F5g6H7i8J9' }, endedAt: { description: 'null while the claim is live' } },
});

export const RunSchema = z.object(runColumns.shape).openapi('Run');
export type RunJson = ColumnsJson<typeof runs, 'accountId' | 'claimedAtMs'>;
export const runJson = (row: RunRow): RunJson => runColumns.json(row);

export interface RunPage {
  runs: RunJson[];
  total: number;
}

export interface ListAgentRunsOptions {
  agentId: string;
  page: { limit: number; offset: number };
}

/** The agent's runs, newest first. An agent the caller may not see is a 404. */
export async function listAgentRuns(db: Db, p: Principal, { agentId, page }: ListAgentRunsOptions): Promise<RunPage> {
  if (agentId !== p.agentId && p.role === 'worker') throw notFound('agent');
  const mine = and(eq(runs.agentId, agentId), eq(runs.accountId, p.accountId));
  const [agent, rows, total] = await db.batch([
    db
      .select({ id: agents.id })
      .from(agents)
      .where(and(eq(agents.id, agentId), eq(agents.accountId, p.accountId))),
    db
      .select()
      .from(runs)
      .where(mine)
      .orderBy(desc(runs.claimedAt), desc(runs.claimedAtMs), desc(runs.id))
      .limit(writtenLimit(page.limit))
      .offset(page.offset),
    db.select({ n: count() }).from(runs).where(mine),
  ]);
  if (!agent[0]) throw notFound('agent');
  return { runs: rows.map(runJson), total: total[0]?.n ?? 0 };
}
