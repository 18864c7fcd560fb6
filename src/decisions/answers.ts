/**
 * Decision answers: a task entering `waiting_input` mails the account's human a single-use answer
 * link (the token hashed at rest, 72 hours, one mail per task per 30 minutes). The reply becomes
 * a comment by the human and a `human_decision` context entry with source `human_stated`; when
 * the context cannot take it (full, or the task completed) the comment alone keeps it.
 */
import { and, asc, eq, isNotNull, sql } from 'drizzle-orm';
import { database, type Db } from '../db/client';
import { decisionLinks, tasks, users } from '../db/schema';
import type { Env } from '../env';
import { isDevelopment, keyPepper, limit } from '../platform/config';
import { hmacSha256Hex, randomBase62 } from '../platform/crypto';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { sqlBatch } from '../db/sql-batch';
import type { ClaimWrite } from '../work-queue/claims';
import { taskJson, type TaskRow } from '../tasks/task-json';
import { taskFromRaw } from '../tasks/tasks';
import { mailerFor } from '../email/mailer';
import { enqueueTaskEvents, type WaitUntil } from '../webhooks/events';
import { decisionEmail } from './email';

export const LINK_TTL_SECONDS = 72 * 3600;
export const COOLDOWN_SECONDS = 30 * 60;
/** The context key an answer is written to. */
export const DECISION_KEY = 'human_decision';
const MAX_OPTIONS = 8;
const MAX_OPTION_CHARS = 200;
const MAX_QUESTION_CHARS = 1000;
export const MAX_ANSWER_CHARS = 2000;

export interface Decision {
  question: string | null;
  options: string[];
}

/** `QUESTION: … / OPTIONS: a / b` (on one line or two) from the state detail; options split on `/` or `|`. */
export function parseDecision(detail: string | null): Decision {
  if (!detail) return { question: null, options: [] };
  const question = /QUESTION:\s*([\s\S]*?)\s*(?:\/\s*)?(?=OPTIONS:|$)/i.exec(detail)?.[1]?.trim() || null;
  const optionText = /OPTIONS:\s*([^\n]*)/i.exec(detail)?.[1] ?? '';
  const options = [...new Set(optionText.split(/[/|]/).map((o) => o.trim()).filter((o) => o !== ''))]
    .slice(0, MAX_OPTIONS)
    .map((o) => o.slice(0, MAX_OPTION_CHARS));
  return { question: question?.slice(0, MAX_QUESTION_CHARS) ?? null, options };
}

const tokenHash = (env: Env, token: string) => hmacSha256Hex(keyPepper(env), `decision:${token}`);

/** The account's human: its oldest verified user (an unverified address is never mailed links). */
async function humanEmail(db: Db, accountId: string): Promise<string | null> {
  const user = await db.select({ email: users.email }).from(users).where(and(eq(users.accountId, accountId), isNotNull(users.verifiedAt))).orderBy(asc(users.createdAt)).get();
  return user?.email ?? null;
}

/**
 * Where the answer link points: the request's own origin in development (any port); elsewhere
 * only PUBLIC_BASE_URL, never the request's Host (null when it is not set: no link is mailed).
 */
export function answerLinkBase(env: Env, requestUrl: string): string | null {
  if (isDevelopment(env)) return new URL(requestUrl).origin;
  return env.PUBLIC_BASE_URL ? env.PUBLIC_BASE_URL.replace(/\/+$/, '') : null;
}

/** Mails the answer link when the write moved the task into `waiting_input`. Off the request path; never throws. */
export function escalateIfWaiting(env: Env, ctx: WaitUntil, write: ClaimWrite, opts: { now: number; linkBase: string | null }): void {
  if (write.row.sessionState !== 'waiting_input' || write.before.sessionState === 'waiting_input') return;
  const { linkBase } = opts;
  if (linkBase === null) {
    console.error(JSON.stringify({ level: 'error', event: 'mail_not_configured', message: 'PUBLIC_BASE_URL is not set: no decision email', taskId: write.row.id }));
    return;
  }
  ctx.waitUntil(
    escalate(env, write.row, { now: opts.now, linkBase }).catch((e: unknown) => console.error(JSON.stringify({ level: 'error', message: 'decision escalation failed', taskId: write.row.id, error: String(e) }))),
  );
}

/** Records a link (unless one was made for the task within the cooldown) and mails it. Answers whether it did. */
export async function escalate(env: Env, task: TaskRow, { now, linkBase }: { now: number; linkBase: string }): Promise<boolean> {
  const db = database(env.DB);
  const email = await humanEmail(db, task.accountId);
  if (!email) return false;
  const parsed = parseDecision(task.stateDetail);
  // Without a QUESTION: line the detail itself is the question, as it stood when the link was made.
  const decision = { ...parsed, question: parsed.question ?? (task.stateDetail?.trim().slice(0, MAX_QUESTION_CHARS) || null) };
  const token = randomBase62(40);
  const ts = isoSeconds(now);
  const id = newId('dec', now);
  // The cooldown is a condition of the insert: two waiting_input reports at once make one link.
  const [inserted] = await sqlBatch(db, [
    sql`insert into ${decisionLinks} (id, account_id, task_id, token_hash, email, question, options, expires_at, created_at)
      select ${id}, ${task.accountId}, ${task.id}, ${await tokenHash(env, token)}, ${email}, ${decision.question}, ${JSON.stringify(decision.options)}, ${isoSeconds(now + LINK_TTL_SECONDS * 1000)}, ${ts}
      where not exists (select 1 from ${decisionLinks} where task_id = ${task.id} and created_at > ${isoSeconds(now - COOLDOWN_SECONDS * 1000)})
      returning id`,
  ]);
  if (!inserted![0]) return false;
  const link = `${linkBase.replace(/\/$/, '')}/answer?token=${token}`;
  await mailerFor(env).send(decisionEmail({ to: email, task: task.content, decision, detail: task.stateDetail, link, ttlHours: LINK_TTL_SECONDS / 3600 }));
  return true;
}

export interface LinkPreview {
  task: { id: string; content: string; description: string | null; stateDetail: string | null };
  decision: Decision;
  expiresAt: string;
}

export type LinkLookup = { status: 'pending'; preview: LinkPreview } | { status: 'unknown' | 'expired' | 'used' };

/** What the page shows: reads only. */
export async function lookupLink(env: Env, token: string, now: number): Promise<LinkLookup> {
  const db = database(env.DB);
  const link = await db.select().from(decisionLinks).where(eq(decisionLinks.tokenHash, await tokenHash(env, token))).get();
  if (!link) return { status: 'unknown' };
  if (link.usedAt) return { status: 'used' };
  if (link.expiresAt <= isoSeconds(now)) return { status: 'expired' };
  const task = await db.select({ id: tasks.id, content: tasks.content, description: tasks.description, stateDetail: tasks.stateDetail }).from(tasks).where(and(eq(tasks.id, link.taskId), eq(tasks.accountId, link.accountId))).get();
  if (!task) return { status: 'unknown' };
  return { status: 'pending', preview: { task, decision: { question: link.question, options: JSON.parse(link.options) as string[] }, expiresAt: link.expiresAt } };
}

export type AnswerOutcome = { status: 'recorded'; inContext: boolean } | { status: 'unknown' | 'expired' | 'used' };

/**
 * Records the answer once. The link's update wins for exactly one POST (used_at was null) and
 * marks it with the new comment's id; the comment and the context merge are conditions on that
 * mark, all in one batch, so a replay or a race records nothing.
 */
export async function recordAnswer(env: Env, ctx: WaitUntil, token: string, answer: string, now: number): Promise<AnswerOutcome> {
  const db = database(env.DB);
  const link = await db.select().from(decisionLinks).where(eq(decisionLinks.tokenHash, await tokenHash(env, token))).get();
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
  const fits = (t: string) => sql`${sql.raw(t)}.id = ${link.taskId} and ${sql.raw(t)}.completed = 0 and length(cast(json_patch(${sql.raw(t)}.context, ${patch}) as blob)) <= ${limit(env, 'CONTEXT_BYTES')} and ${won}`;
  const [claimed, , , merged, taskRows] = await sqlBatch(db, [
    sql`update ${decisionLinks} set used_at = ${ts}, comment_id = ${commentId} where id = ${link.id} and used_at is null and expires_at > ${ts} returning id`,
    sql`insert into comments (id, task_id, account_id, agent_id, author, content, created_at)
      select ${commentId}, ${link.taskId}, ${link.accountId}, null, ${link.email}, ${comment}, ${ts} where ${won}`,
    sql`insert into task_context_history (id, task_id, account_id, key, value, version, source, agent_id, created_at)
      select ${`ctx_${commentId.slice(4)}`}, t.id, t.account_id, ${DECISION_KEY}, ${JSON.stringify(value)}, t.context_version + 1, 'human_stated', null, ${ts}
      from ${tasks} t where ${fits('t')}`,
    sql`update ${tasks} set context = json_patch(context, ${patch}), context_version = context_version + 1, updated_at = ${ts} where ${fits('tasks')} returning id`,
    sql`select * from ${tasks} where id = ${link.taskId} and ${won}`,
  ]);
  if (!claimed![0]) {
    const current = await db.select({ usedAt: decisionLinks.usedAt }).from(decisionLinks).where(eq(decisionLinks.id, link.id)).get();
    return { status: current?.usedAt ? 'used' : 'expired' };
  }
  const task = taskRows![0];
  if (task) {
    const row = taskFromRaw(task);
    ctx.waitUntil(enqueueTaskEvents(env, [{ event: 'task.commented', accountId: row.accountId, agentId: null, task: taskJson(row, now) }], now));
  }
  return { status: 'recorded', inContext: Boolean(merged![0]) };
}
