/**
 * Human sign-in by magic link, and the sessions it opens. A link is random, stored only as an
 * HMAC, single use and short-lived; the session cookie holds another random token, also stored
 * only as an HMAC, revocable one by one or all at once. Asking for a link never says whether
 * the address is known, and counts against the same per-address mail limit as onboarding.
 *
 * The dashboard and the MCP OAuth consent page share this one sign-in: `next` (a path on this
 * site, see safeNext) rides along in the link so the human lands back where they started.
 *
 *   await requestSignIn(deps, { email, next }, now);             // emails a link if the user exists
 *   const { token, expiresAt } = await consumeSignIn(deps, link, now); // the session token for the cookie
 *   const human = await loadHuman(db, pepper, cookieToken, now); // null when unknown, expired or revoked
 */
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { accounts, agents, humanSessions, signInTokens, users } from '../db/schema';
import type { Mailer } from '../email/mailer';
import { modeFor, type Principal } from '../access/policy';
import { hitRates } from '../accounts/onboarding-rate';
import { hmacSha256Hex, randomBase62 } from '../platform/crypto';
import { newId } from '../platform/ids';
import { addSeconds, isoSeconds } from '../platform/time';
import type { RateCounter } from '../access/rate-limiter';
import { SIGN_IN_TTL_SECONDS, signInEmail } from './sign-in-email';

export { SIGN_IN_TTL_SECONDS };

export const SESSION_TTL_SECONDS = 14 * 24 * 3600;
const TOKEN_PATTERN = /^[0-9A-Za-z]{43}$/;

const DEFAULT_NEXT = '/app';

/**
 * Where to send the browser after sign-in: only a path on this site (never `//host`, a scheme, a
 * backslash or a control character, any of which could leave it); anything else is the board.
 */
export function safeNext(next: string | null | undefined): string {
  return next && next.length <= 2048 && /^\/(?![/\\])[^\\\s\u0000-\u001f\u007f]*$/.test(next) ? next : DEFAULT_NEXT;
}

/** The emailed link: the token, and `next` only when it is not the board. */
export function signInLink(linkUrl: string, token: string, next: string): string {
  const target = safeNext(next);
  return `${linkUrl}?${new URLSearchParams(target === DEFAULT_NEXT ? { token } : { token, next: target })}`;
}

const linkHash = (pepper: string, token: string) => hmacSha256Hex(pepper, `sign-in-link:${token}`);
const sessionHash = (pepper: string, token: string) => hmacSha256Hex(pepper, `human-session:${token}`);

export interface SignInDeps {
  db: Db;
  pepper: string;
  mailer: Mailer;
  rate: RateCounter;
  /** Where the link points, e.g. `https://api.delega.dev/app/sign-in/link`. */
  linkUrl: string;
  emailsPerHour: number;
}

export const SIGN_IN_SENT = 'If an account uses that email, a sign-in link is on its way. It works once, for 15 minutes.';

/** Emails a link when the address belongs to a user; answers the same either way. */
export async function requestSignIn(deps: SignInDeps, input: { email: string; next?: string }, now: number): Promise<{ message: string }> {
  const email = input.email.trim().toLowerCase();
  // Counted before the lookup (and under the onboarding mail scope), so known and unknown
  // addresses are limited alike and sign-in cannot flood an inbox past onboarding's limit.
  await hitRates(deps.rate, [{ scope: `mail:${email}`, windowSeconds: 3600, max: deps.emailsPerHour }], now);
  const user = await deps.db
    .select({ id: users.id, accountId: users.accountId, status: accounts.status })
    .from(users)
    .innerJoin(accounts, eq(accounts.id, users.accountId))
    .where(eq(users.email, email))
    .get();
  if (user && user.status === 'active') {
    const token = randomBase62(43);
    await deps.db.insert(signInTokens).values({
      id: newId('sin', now),
      userId: user.id,
      accountId: user.accountId,
      tokenHash: await linkHash(deps.pepper, token),
      expiresAt: isoSeconds(addSeconds(now, SIGN_IN_TTL_SECONDS)),
      createdAt: isoSeconds(now),
    });
    try {
      await deps.mailer.send(signInEmail(email, signInLink(deps.linkUrl, token, input.next ?? DEFAULT_NEXT)));
    } catch (err) {
      console.error(
        JSON.stringify({
          level: 'error',
          event: 'mail_failed',
          purpose: 'sign_in',
          message: err instanceof Error ? err.message : String(err),
        }),
      );
    }
  }
  return { message: SIGN_IN_SENT };
}

export interface NewSession {
  /** The cookie value; only its HMAC is stored. */
  token: string;
  expiresAt: string;
  userId: string;
}

/** Spends a link and opens a session; null for an unknown, expired or used link (one answer for all). */
export async function consumeSignIn(deps: Pick<SignInDeps, 'db' | 'pepper'>, token: string, now: number): Promise<NewSession | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  const { db } = deps;
  const ts = isoSeconds(now);
  // Conditional on being unused and unexpired, so two clicks at once open one session.
  const [spent] = await db
    .update(signInTokens)
    .set({ usedAt: ts })
    .where(and(eq(signInTokens.tokenHash, await linkHash(deps.pepper, token)), isNull(signInTokens.usedAt), gt(signInTokens.expiresAt, ts)))
    .returning({ userId: signInTokens.userId, accountId: signInTokens.accountId });
  if (!spent) return null;
  return openSession(db, { pepper: deps.pepper, who: { userId: spent.userId, accountId: spent.accountId }, now });
}

export interface OpenSessionOptions {
  pepper: string;
  who: { userId: string; accountId: string };
  now: number;
}

/** A fresh session (a new random token each sign-in: the cookie is rotated). */
export async function openSession(db: Db, { pepper, who, now }: OpenSessionOptions): Promise<NewSession> {
  const token = randomBase62(43);
  const expiresAt = isoSeconds(addSeconds(now, SESSION_TTL_SECONDS));
  await db.insert(humanSessions).values({
    id: newId('ses', now),
    tokenHash: await sessionHash(pepper, token),
    userId: who.userId,
    accountId: who.accountId,
    expiresAt,
    createdAt: isoSeconds(now),
  });
  return { token, expiresAt, userId: who.userId };
}

/** The signed-in human: who they are, and the principal they act as. */
export interface Human {
  sessionId: string;
  userId: string;
  email: string;
  name: string | null;
  /**
   * A human is the account's admin: they act as the account's default (recovery) agent with the
   * admin role, so the authorisation table decides what a session may do exactly as for an admin key.
   */
  principal: Principal;
}

export interface LoadHumanOptions {
  pepper: string;
  /** The session cookie's value. */
  token: string | undefined;
  now: number;
}

/** The session's human in one query, or null when the token is unknown, expired or revoked. */
export async function loadHuman(db: Db, { pepper, token, now }: LoadHumanOptions): Promise<Human | null> {
  if (!token || !TOKEN_PATTERN.test(token)) return null;
  const row = await db
    .select({
      // Distinct column names only (several tables have id and name): some D1 wrappers read rows as objects.
      sessionId: humanSessions.id,
      userId: humanSessions.userId,
      email: users.email,
      name: sql<string | null>`${users.name}`.as('user_name'),
      accountId: humanSessions.accountId,
      status: accounts.status,
      plan: accounts.plan,
      activeWebhooks: accounts.activeWebhooks,
      activeAutomations: accounts.activeAutomations,
      agentId: accounts.defaultAgentId,
      agentName: sql<string>`${agents.name}`.as('agent_name'),
    })
    .from(humanSessions)
    .innerJoin(users, eq(users.id, humanSessions.userId))
    .innerJoin(accounts, and(eq(accounts.id, humanSessions.accountId), eq(accounts.id, users.accountId)))
    .innerJoin(agents, eq(agents.id, accounts.defaultAgentId))
    .where(
      and(
        eq(humanSessions.tokenHash, await sessionHash(pepper, token)),
        isNull(humanSessions.revokedAt),
        gt(humanSessions.expiresAt, isoSeconds(now)),
      ),
    )
    .get();
  if (row?.status !== 'active' || !row.agentId) return null;
  return {
    sessionId: row.sessionId,
    userId: row.userId,
    email: row.email,
    name: row.name,
    principal: {
      agentId: row.agentId,
      agentName: row.agentName,
      accountId: row.accountId,
      role: 'admin',
      mode: modeFor(row.status, 'admin'),
      plan: row.plan,
      sandboxProjectId: null,
      isDefaultAgent: true,
      hasWebhooks: row.activeWebhooks > 0,
      hasAutomations: row.activeAutomations > 0,
    },
  };
}

/** Signs out one session. */
export async function revokeSession(db: Db, sessionId: string, now: number): Promise<void> {
  await db
    .update(humanSessions)
    .set({ revokedAt: isoSeconds(now) })
    .where(and(eq(humanSessions.id, sessionId), isNull(humanSessions.revokedAt)));
}

/** Signs the human out everywhere. */
export async function revokeAllSessions(db: Db, userId: string, now: number): Promise<void> {
  await db
    .update(humanSessions)
    .set({ revokedAt: isoSeconds(now) })
    .where(and(eq(humanSessions.userId, userId), isNull(humanSessions.revokedAt)));
}

export interface RevokeSessionOptions {
  pepper: string;
  /** The session cookie's value. */
  token: string | undefined;
  now: number;
}

/** Ends the session a cookie names, if any (signing in again replaces it, never keeps both). */
export async function revokeSessionToken(db: Db, { pepper, token, now }: RevokeSessionOptions): Promise<void> {
  if (!token || !TOKEN_PATTERN.test(token)) return;
  await db
    .update(humanSessions)
    .set({ revokedAt: isoSeconds(now) })
    .where(and(eq(humanSessions.tokenHash, await sessionHash(pepper, token)), isNull(humanSessions.revokedAt)));
}
