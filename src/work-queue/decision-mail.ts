/**
 * Decision mail: a claim's session state entering `waiting_input` mails the account's human a
 * single-use answer link (the token hashed at rest, 72 hours, one mail per task per 30 minutes).
 * The answer itself is recorded by decisions/answers.ts.
 */
import { and, asc, eq, isNotNull, sql } from 'drizzle-orm';
import { database, type Db } from '../db/client';
import { decisionLinks, users } from '../db/schema';
import type { Env } from '../env';
import { isDevelopment, keyPepper } from '../platform/config';
import { hmacSha256Hex, randomBase62 } from '../platform/crypto';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { sqlBatch } from '../db/sql-batch';
import type { TaskRow } from '../tasks/task-json';
import { mailerFor } from '../email/mailer';
import type { WaitUntil } from '../events/after-commit';
import type { ClaimWrite } from './claims';
import { decisionEmail } from './decision-email';

export const LINK_TTL_SECONDS = 72 * 3600;
export const COOLDOWN_SECONDS = 30 * 60;
const MAX_OPTIONS = 8;
const MAX_OPTION_CHARS = 200;
const MAX_QUESTION_CHARS = 1000;

export interface Decision {
  question: string | null;
  options: string[];
}

/** `QUESTION: … / OPTIONS: a / b` (on one line or two) from the state detail; options split on `/` or `|`. */
export function parseDecision(detail: string | null): Decision {
  if (!detail) return { question: null, options: [] };
  const question = /QUESTION:\s*([\s\S]*?)\s*(?:\/\s*)?(?=OPTIONS:|$)/i.exec(detail)?.[1]?.trim() || null;
  const optionText = /OPTIONS:\s*([^\n]*)/i.exec(detail)?.[1] ?? '';
  const options = [
    ...new Set(
      optionText
        .split(/[/|]/)
        .map((o) => o.trim())
        .filter((o) => o !== ''),
    ),
  ]
    .slice(0, MAX_OPTIONS)
    .map((o) => o.slice(0, MAX_OPTION_CHARS));
  return { question: question?.slice(0, MAX_QUESTION_CHARS) ?? null, options };
}

export const tokenHash = (env: Env, token: string) => hmacSha256Hex(keyPepper(env), `decision:${token}`);

/** The account's human: its oldest verified user (an unverified address is never mailed links). */
async function humanEmail(db: Db, accountId: string): Promise<string | null> {
  const user = await db
    .select({ email: users.email })
    .from(users)
    .where(and(eq(users.accountId, accountId), isNotNull(users.verifiedAt)))
    .orderBy(asc(users.createdAt))
    .get();
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
export function escalateIfWaiting(env: Env, ctx: WaitUntil, opts: { write: ClaimWrite; now: number; linkBase: string | null }): void {
  const { write, linkBase } = opts;
  if (write.row.sessionState !== 'waiting_input' || write.before.sessionState === 'waiting_input') return;
  if (linkBase === null) {
    console.error(
      JSON.stringify({
        level: 'error',
        event: 'mail_not_configured',
        message: 'PUBLIC_BASE_URL is not set: no decision email',
        taskId: write.row.id,
      }),
    );
    return;
  }
  ctx.waitUntil(
    escalate(env, write.row, { now: opts.now, linkBase }).catch((e: unknown) =>
      console.error(JSON.stringify({ level: 'error', message: 'decision escalation failed', taskId: write.row.id, error: String(e) })),
    ),
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
  await mailerFor(env).send(
    decisionEmail({ to: email, task: task.content, decision, detail: task.stateDetail, link, ttlHours: LINK_TTL_SECONDS / 3600 }),
  );
  return true;
}
