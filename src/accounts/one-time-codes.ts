/**
 * One-time secrets sent by email: 6-digit codes (verification, recovery, claim OTP) and
 * magic-link claim tokens. Both are random, stored only as an HMAC under KEY_PEPPER, single use
 * and short-lived; a code dies after MAX_CODE_ATTEMPTS wrong tries, and an account whose codes
 * keep failing (across codes: new ones can be asked for) is locked for a while, the lock doubling
 * each time until a code succeeds. Outcomes come back as values
 * so each route decides how much to say (unauthenticated routes never reveal whether an email exists).
 *
 *   const { code } = await issueCode(db, pepper, { accountId, email, purpose: 'verify' }, now);
 *   const result = await consumeCode(db, pepper, { email, purpose: 'verify', code }, now);
 */
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { claimTokens, codeLockouts, emailCodes } from '../db/schema';
import { hmacSha256Hex, randomBase62, randomDigits, timingSafeEqual } from '../platform/crypto';
import { newId } from '../platform/ids';
import { addSeconds, isoSeconds } from '../platform/time';
import { writtenLimit } from '../db/written-limit';

export const CODE_TTL_SECONDS = 15 * 60;
export const TOKEN_TTL_SECONDS = 7 * 24 * 3600;
export const MAX_CODE_ATTEMPTS = 5;
const CODE_PATTERN = /^\d{6}$/;
const TOKEN_PATTERN = /^[0-9A-Za-z]{43}$/;

export type CodePurpose = 'verify' | 'recover' | 'claim' | 'sign_in';

// The row id is mixed in so two equal codes never share a hash.
const codeHash = (pepper: string, id: string, code: string) => hmacSha256Hex(pepper, `email-code:${id}:${code}`);
const tokenHash = (pepper: string, token: string) => hmacSha256Hex(pepper, `claim-token:${token}`);

export interface IssueCodeOptions {
  pepper: string;
  input: { accountId: string; email: string; purpose: CodePurpose };
  now: number;
}

export async function issueCode(db: Db, { pepper, input, now }: IssueCodeOptions): Promise<{ code: string; expiresAt: string }> {
  const id = newId('cod', now);
  const code = randomDigits(6);
  const expiresAt = isoSeconds(addSeconds(now, CODE_TTL_SECONDS));
  await db.insert(emailCodes).values({
    id,
    accountId: input.accountId,
    email: input.email.toLowerCase(),
    purpose: input.purpose,
    codeHash: await codeHash(pepper, id, code),
    expiresAt,
    createdAt: isoSeconds(now),
  });
  return { code, expiresAt };
}

export type CodeResult =
  | { status: 'ok'; accountId: string }
  | { status: 'invalid'; attemptsRemaining: number }
  | { status: 'expired' | 'locked' | 'none' }
  /** The account refuses codes until `until`; `justLocked` when this attempt locked it (tell the owner). */
  | { status: 'locked_out'; until: string; justLocked: boolean; email: string };

/** Wrong codes per account before a lockout, and how long the first lockout lasts (doubling up to `maxSeconds`). */
export interface LockoutPolicy {
  failures: number;
  baseSeconds: number;
  maxSeconds: number;
}

export interface ConsumeCodeOptions {
  pepper: string;
  input: { email: string; purpose: CodePurpose; code: string; accountId?: string; lockout: LockoutPolicy };
  now: number;
}

/**
 * Checks `code` against the newest code sent to `email` for `purpose` (a resend supersedes older
 * codes). A match marks it used; a miss counts an attempt, and the fifth miss kills it.
 */
export async function consumeCode(db: Db, { pepper, input, now }: ConsumeCodeOptions): Promise<CodeResult> {
  const email = input.email.toLowerCase();
  const conditions = [eq(emailCodes.email, email), eq(emailCodes.purpose, input.purpose)];
  if (input.accountId) conditions.push(eq(emailCodes.accountId, input.accountId));
  const row = await db
    .select({
      id: emailCodes.id,
      accountId: emailCodes.accountId,
      codeHash: emailCodes.codeHash,
      attempts: emailCodes.attempts,
      expiresAt: emailCodes.expiresAt,
      usedAt: emailCodes.usedAt,
      lockedUntil: codeLockouts.lockedUntil,
    })
    .from(emailCodes)
    .leftJoin(codeLockouts, eq(codeLockouts.accountId, emailCodes.accountId))
    .where(and(...conditions))
    .orderBy(desc(emailCodes.createdAt), desc(emailCodes.id))
    .limit(writtenLimit(1))
    .get();
  if (!row) return { status: 'none' };
  // Checked before anything else: while locked, even the right code is refused.
  if (row.lockedUntil && row.lockedUntil > isoSeconds(now))
    return { status: 'locked_out', until: row.lockedUntil, justLocked: false, email };
  if (row.usedAt) return { status: 'none' };
  if (row.attempts >= MAX_CODE_ATTEMPTS) return { status: 'locked' };
  if (row.expiresAt <= isoSeconds(now)) return { status: 'expired' };

  const candidate = CODE_PATTERN.test(input.code) ? await codeHash(pepper, row.id, input.code) : '';
  if (candidate && timingSafeEqual(candidate, row.codeHash)) {
    // Conditional on still being live, so two concurrent correct guesses cannot both succeed.
    const [used] = await db.batch([
      db
        .update(emailCodes)
        .set({ usedAt: isoSeconds(now) })
        .where(and(eq(emailCodes.id, row.id), isNull(emailCodes.usedAt), lt(emailCodes.attempts, MAX_CODE_ATTEMPTS)))
        .returning({ id: emailCodes.id }),
      // A success clears the account's record of failures and past lockouts.
      db.delete(codeLockouts).where(eq(codeLockouts.accountId, row.accountId)),
    ]);
    return used.length ? { status: 'ok', accountId: row.accountId } : { status: 'none' };
  }
  const ts = isoSeconds(now);
  const [[counted], [failed]] = await db.batch([
    db
      .update(emailCodes)
      .set({ attempts: sql`${emailCodes.attempts} + 1` })
      .where(eq(emailCodes.id, row.id))
      .returning({ attempts: emailCodes.attempts }),
    db
      .insert(codeLockouts)
      .values({ accountId: row.accountId, failures: 1, updatedAt: ts })
      .onConflictDoUpdate({ target: codeLockouts.accountId, set: { failures: sql`${codeLockouts.failures} + 1`, updatedAt: ts } })
      .returning({ failures: codeLockouts.failures, lockouts: codeLockouts.lockouts }),
  ]);
  if (failed && failed.failures >= input.lockout.failures) {
    const seconds = Math.min(input.lockout.maxSeconds, input.lockout.baseSeconds * 2 ** failed.lockouts);
    const until = isoSeconds(addSeconds(now, seconds));
    // Conditional, so of parallel misses crossing the threshold one locks and tells the owner.
    const [locked] = await db
      .update(codeLockouts)
      .set({ failures: 0, lockouts: sql`${codeLockouts.lockouts} + 1`, lockedUntil: until, updatedAt: ts })
      .where(and(eq(codeLockouts.accountId, row.accountId), sql`${codeLockouts.failures} >= ${input.lockout.failures}`))
      .returning({ until: codeLockouts.lockedUntil });
    return { status: 'locked_out', until: locked?.until ?? until, justLocked: Boolean(locked), email };
  }
  const remaining = Math.max(0, MAX_CODE_ATTEMPTS - (counted?.attempts ?? MAX_CODE_ATTEMPTS));
  return remaining === 0 ? { status: 'locked' } : { status: 'invalid', attemptsRemaining: remaining };
}

export interface IssueClaimTokenOptions {
  pepper: string;
  input: { accountId: string; agentId: string; email: string };
  now: number;
}

export async function issueClaimToken(
  db: Db,
  { pepper, input, now }: IssueClaimTokenOptions,
): Promise<{ token: string; expiresAt: string }> {
  const token = randomBase62(43);
  const expiresAt = isoSeconds(addSeconds(now, TOKEN_TTL_SECONDS));
  await db.insert(claimTokens).values({
    id: newId('clm', now),
    accountId: input.accountId,
    agentId: input.agentId,
    email: input.email.toLowerCase(),
    tokenHash: await tokenHash(pepper, token),
    expiresAt,
    createdAt: isoSeconds(now),
  });
  return { token, expiresAt };
}

export type ClaimTokenRow = typeof claimTokens.$inferSelect;

/** The token's row, found by its hash; malformed tokens are never hashed or looked up. */
export async function findClaimToken(db: Db, pepper: string, token: string): Promise<ClaimTokenRow | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  const row = await db
    .select()
    .from(claimTokens)
    .where(eq(claimTokens.tokenHash, await tokenHash(pepper, token)))
    .get();
  return row ?? null;
}
