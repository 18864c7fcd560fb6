/** A signed-in human and form requests to the dashboard, through the Worker (workerd). */
import { env, SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { BASE, db } from './fixtures';
import { freshEmail, freshIp, latestMail } from './onboarding';

export interface Page {
  status: number;
  headers: Headers;
  html: string;
}

export async function send(
  path: string,
  init: { method?: string; form?: Record<string, string> | [string, string][]; cookie?: string; origin?: string | null } = {},
): Promise<Page> {
  const headers: Record<string, string> = { 'CF-Connecting-IP': freshIp() };
  if (init.cookie) headers.Cookie = `delega_human=${init.cookie}`;
  if (init.form) headers['Content-Type'] = 'application/x-www-form-urlencoded';
  if (init.origin !== null && init.method === 'POST') headers.Origin = init.origin ?? BASE;
  const res = await SELF.fetch(`${BASE}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    redirect: 'manual',
  });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

export const post = (path: string, form: Record<string, string> | [string, string][], cookie?: string) =>
  send(path, { method: 'POST', form, cookie });

/** An active account whose human (a user row) can sign in, signed in. */
export async function signedInHuman(): Promise<{ email: string; accountId: string; agentId: string; apiKey: string; cookie: string }> {
  const email = freshEmail('human');
  const made = await createAccount(db(), {
    pepper: env.KEY_PEPPER!,
    input: { status: 'active', agentName: 'default', projectName: 'Inbox', sandbox: false, user: { email, name: 'Ada' } },
    now: Date.now(),
  });
  expect((await post('/app/sign-in', { email })).status).toBe(200);
  const { token } = await latestMail(email);
  const signedIn = await post('/app/sign-in/link', { token: token! });
  const cookie = signedIn.headers.get('Set-Cookie')?.match(/delega_human=([^;]*)/)?.[1];
  if (!cookie) throw new Error('no session cookie');
  return { email, ...made, cookie };
}
