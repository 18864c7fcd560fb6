/**
 * A human signs in by email: a magic link (an emailed one-time code, single use, 15 minutes,
 * five tries) whose confirmation sets a signed session cookie. Used by the MCP OAuth consent
 * page; the web dashboard will use the same. The answer to a sign-in request never says
 * whether the address has an account.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { users } from '../db/schema';
import { hitRates } from '../domain/onboarding-rate';
import type { RateCounter } from '../limits/rate-limiter';
import { consumeCode, issueCode, CODE_TTL_SECONDS, type LockoutPolicy } from '../domain/one-time-codes';
import { escapeHtml } from '../email/html';
import type { EmailMessage, Mailer } from '../email/mailer';
import { hmacSha256Hex, timingSafeEqual } from '../lib/crypto';
import { ApiError } from '../lib/errors';

export const SESSION_COOKIE = 'delega_session';
export const SESSION_TTL_SECONDS = 3600;

export interface SignInDeps {
  db: Db;
  pepper: string;
  mailer: Mailer;
  rate: RateCounter;
  /** Origin the magic link points at. */
  linkBase: string;
  limits: { perMinute: number; emailsPerHour: number; lockout: LockoutPolicy };
}

export interface Session {
  userId: string;
  accountId: string;
  email: string;
  /** Unix seconds. */
  expiresAt: number;
}

/** A form posted from another site (login CSRF) is refused; browsers send Origin with every POST. */
export function sameOrigin(requestUrl: string, origin: string | undefined): boolean {
  return origin === undefined || origin === new URL(requestUrl).origin;
}

/** Only a path on this origin: never `//host` or a scheme, so the link cannot send the human elsewhere. */
export function safeNext(next: string | null | undefined): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.includes('\\') ? next : '/';
}

function signInEmail(to: string, link: string): EmailMessage {
  const minutes = CODE_TTL_SECONDS / 60;
  return {
    to,
    subject: 'Sign in to Delega',
    text: `Open this link to sign in to Delega (it works once, for ${minutes} minutes):\n\n${link}\n\nIf you did not try to sign in, you can ignore this email.\n`,
    html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in to Delega</title></head><body style="font-family:system-ui,sans-serif;max-width:560px;margin:0 auto;padding:24px"><h1 style="font-size:20px">Sign in to Delega</h1><p><a href="${escapeHtml(link)}">Sign in</a> (the link works once, for ${minutes} minutes).</p><p style="color:#555;font-size:13px">If you did not try to sign in, you can ignore this email.</p></body></html>`,
  };
}

/** Emails a magic link when the address belongs to a user; says nothing either way. */
export async function requestSignIn(deps: SignInDeps, input: { email: string; next: string; ip: string }, now: number): Promise<void> {
  const email = input.email.trim().toLowerCase();
  const [perIp, perEmail] = await hitRates(
    deps.rate,
    [
      { scope: `ip:${input.ip}`, windowSeconds: 60, max: deps.limits.perMinute },
      { scope: `mail:${email}`, windowSeconds: 3600, max: deps.limits.emailsPerHour },
    ],
    now,
  );
  if (!perIp!.allowed) throw new ApiError(429, 'RATE_LIMITED', 'Too many sign-in requests from this address; wait a minute.');
  if (!perEmail!.allowed) return;
  const user = await deps.db.select({ accountId: users.accountId }).from(users).where(eq(users.email, email)).get();
  if (!user) return;
  const { code } = await issueCode(deps.db, deps.pepper, { accountId: user.accountId, email, purpose: 'sign_in' }, now);
  const link = `${deps.linkBase}/sign-in/confirm?${new URLSearchParams({ email, code, next: safeNext(input.next) })}`;
  try {
    await deps.mailer.send(signInEmail(email, link));
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', event: 'mail_failed', purpose: 'sign_in', message: err instanceof Error ? err.message : String(err) }));
  }
}

/** Uses the link's code: the session of its user, or null for a wrong, used, expired or locked code. */
export async function confirmSignIn(deps: Pick<SignInDeps, 'db' | 'pepper' | 'limits'>, input: { email: string; code: string }, now: number): Promise<Session | null> {
  const email = input.email.trim().toLowerCase();
  // Wrong codes count toward the account's lockout, like every other emailed code.
  const result = await consumeCode(deps.db, deps.pepper, { email, purpose: 'sign_in', code: input.code, lockout: deps.limits.lockout }, now);
  if (result.status !== 'ok') return null;
  const user = await deps.db.select({ id: users.id, accountId: users.accountId }).from(users).where(eq(users.email, email)).get();
  if (!user || user.accountId !== result.accountId) return null;
  return { userId: user.id, accountId: user.accountId, email, expiresAt: Math.floor(now / 1000) + SESSION_TTL_SECONDS };
}

const b64url = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s))).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
const fromB64url = (s: string) => new TextDecoder().decode(Uint8Array.from(atob(s.replaceAll('-', '+').replaceAll('_', '/')), (ch) => ch.charCodeAt(0)));
const sign = (pepper: string, payload: string) => hmacSha256Hex(pepper, `sign-in-session:${payload}`);

/** The Set-Cookie value for a session: its JSON and an HMAC under the server secret. */
export async function sessionCookie(pepper: string, session: Session, secure: boolean): Promise<string> {
  const payload = b64url(JSON.stringify(session));
  return `${SESSION_COOKIE}=${payload}.${await sign(pepper, payload)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_TTL_SECONDS}${secure ? '; Secure' : ''}`;
}

/** The signed-in session from the Cookie header, or null (none, forged or expired). */
export async function readSession(pepper: string, cookieHeader: string | undefined, now: number): Promise<Session | null> {
  const raw = cookieHeader
    ?.split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`))
    ?.slice(SESSION_COOKIE.length + 1);
  const [payload, mac] = raw?.split('.') ?? [];
  if (!payload || !mac || !timingSafeEqual(await sign(pepper, payload), mac)) return null;
  try {
    const session = JSON.parse(fromB64url(payload)) as Session;
    return session.expiresAt > Math.floor(now / 1000) ? session : null;
  } catch {
    return null;
  }
}
