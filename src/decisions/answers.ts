/**
 * Decision answers (the link is mailed by work-queue/decision-mail.ts when a claim enters
 * `waiting_input`). The reply becomes
 * a comment by the human and a `human_decision` context entry with source `human_stated`; when
 * the context cannot take it (full, or the task completed) the comment alone keeps it.
 */
import { and, eq, sql } from 'drizzle-orm';
import { database } from '../db/client';
import { decisionLinks, tasks } from '../db/schema';
import type { Env } from '../env';
import { limit } from '../platform/config';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { sqlBatch } from '../db/sql-batch';
import { taskJson } from '../tasks/task-json';
import { taskFromRaw } from '../tasks/tasks';
import { afterCommit, type WaitUntil } from '../events/after-commit';
import { eventsOf } from '../events/effects';
import { outboxInsert, planEvents, recorded } from '../events/outbox';
import { tokenHash, type Decision } from '../work-queue/decision-mail';

export {
  answerLinkBase,
  COOLDOWN_SECONDS,
  escalate,
  escalateIfWaiting,
  LINK_TTL_SECONDS,
  parseDecision,
  type Decision,
} from '../work-queue/decision-mail';

/** The context key an answer is written to. */
export const DECISION_KEY = 'human_decision';
export const MAX_ANSWER_CHARS = 2000;

export interface LinkPreview {
  task: { id: string; content: string; description: string | null; stateDetail: string | null };
  decision: Decision;
  expiresAt: string;
}

export type LinkLookup = { status: 'pending'; preview: LinkPreview } | { status: 'unknown' | 'expired' | 'used' };

/** What the page shows: reads only. */
export async function lookupLink(env: Env, token: string, now: number): Promise<LinkLookup> {
  const db = database(env.DB);
  const link = await db
    .select()
    .from(decisionLinks)
    .where(eq(decisionLinks.tokenHash, await tokenHash(env, token)))
    .get();
  if (!link) return { status: 'unknown' };
  if (link.usedAt) return { status: 'used' };
  if (link.expiresAt <= isoSeconds(now)) return { status: 'expired' };
  const task = await db
    .select({ id: tasks.id, content: tasks.content, description: tasks.description, stateDetail: tasks.stateDetail })
    .from(tasks)
    .where(and(eq(tasks.id, link.taskId), eq(tasks.accountId, link.accountId)))
    .get();
  if (!task) return { status: 'unknown' };
  return {
    status: 'pending',
    preview: { task, decision: { question: link.question, options: JSON.parse(link.options) as string[] }, expiresAt: link.expiresAt },
  };
}

export type AnswerOutcome = { status: 'recorded'; inContext: boolean } | { status: 'unknown' | 'expired' | 'used' };

export interface AnswerToRecord {
  /** The decision link's token. */
  token: string;
  /** The option the human chose. */
  answer: string;
  now: number;
}

/**
 * Records the answer once. The link's update wins for exactly one POST (used_at was null) and
 * marks it with the new comment's id; the comment and the context merge are conditions on that
 * mark, all in one batch, so a replay or a race records nothing.
 */
export async function recordAnswer(env: Env, ctx: WaitUntil, { token, answer, now }: AnswerToRecord): Promise<AnswerOutcome> {
  const db = database(env.DB);
  const link = await db
    .select()
    .from(decisionLinks)
    .where(eq(decisionLinks.tokenHash, await tokenHash(env, token)))
    .get();
  if (!link) return { status: 'unknown' };
  if (link.usedAt) return { status: 'used' };
  if (link.expiresAt <= isoSeconds(now)) return { status: 'expired' };

  const ts = isoSeconds(now);
  const commentId = newId('cmt', now);
  const won = sql`exists (select 1 from ${decisionLinks} where id = ${link.id} and comment_id = ${commentId})`;
  const comment = link.question ? `Human answer to "${link.question}": ${answer}` : `Human answer: ${answer}`;
  const value = { ...(link.question ? { question: link.question } : {}), answer, answered_by: link.email, answered_at: ts };
  // A merge patch merges objects key by key: question null removes an earlier decision's question.
  const patch = JSON.stringify({ [DECISION_KEY]: { question: link.question, answer, answered_by: link.email, answered_at: ts } });
  const fits = (t: string) =>
    sql`${sql.raw(t)}.id = ${link.taskId} and ${sql.raw(t)}.completed = 0 and length(cast(json_patch(${sql.raw(t)}.context, ${patch}) as blob)) <= ${limit(env, 'CONTEXT_BYTES')} and ${won}`;
  // task.commented by nobody (the human is not an agent), recorded when this answer won.
  const events = planEvents({
    accountId: link.accountId,
    agentId: null,
    taskId: link.taskId,
    events: eventsOf('decisions.answer'),
    listeners: {},
    now,
  });
  const [claimed, , , merged, taskRows] = await sqlBatch(db, [
    sql`update ${decisionLinks} set used_at = ${ts}, comment_id = ${commentId} where id = ${link.id} and used_at is null and expires_at > ${ts} returning id`,
    sql`insert into comments (id, task_id, account_id, agent_id, author, content, created_at)
      select ${commentId}, ${link.taskId}, ${link.accountId}, null, ${link.email}, ${comment}, ${ts} where ${won}`,
    sql`insert into task_context_history (id, task_id, account_id, key, value, version, source, agent_id, created_at)
      select ${`ctx_${commentId.slice(4)}`}, t.id, t.account_id, ${DECISION_KEY}, ${JSON.stringify(value)}, t.context_version + 1, 'human_stated', null, ${ts}
      from ${tasks} t where ${fits('t')}`,
    sql`update ${tasks} set context = json_patch(context, ${patch}), context_version = context_version + 1, updated_at = ${ts} where ${fits('tasks')} returning id`,
    sql`select * from ${tasks} where id = ${link.taskId} and ${won}`,
    outboxInsert(events, { now, when: won })!,
  ]);
  if (!claimed![0]) {
    const current = await db.select({ usedAt: decisionLinks.usedAt }).from(decisionLinks).where(eq(decisionLinks.id, link.id)).get();
    return { status: current?.usedAt ? 'used' : 'expired' };
  }
  const task = taskRows![0];
  if (task) afterCommit({ env, ctx }, { events: recorded(events, taskJson(taskFromRaw(task), now)), now });
  return { status: 'recorded', inContext: Boolean(merged![0]) };
}
