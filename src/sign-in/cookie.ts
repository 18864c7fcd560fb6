/**
 * The human session cookie: HttpOnly (no script reads it), Secure, SameSite=Lax (cross-site
 * form posts do not carry it), Path=/ so every human-facing page of the Worker can share it.
 */
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { SESSION_TTL_SECONDS } from './magic-link';

// One cookie for every human-facing page: the dashboard and the MCP OAuth consent page.
export const SESSION_COOKIE = 'delega_human';

export const sessionToken = (c: Context) => getCookie(c, SESSION_COOKIE);

export function setSessionCookie(c: Context, token: string): void {
  setCookie(c, SESSION_COOKIE, token, { httpOnly: true, secure: true, sameSite: 'Lax', path: '/', maxAge: SESSION_TTL_SECONDS });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
}
