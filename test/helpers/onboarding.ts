/**
 * Onboarding test helpers: unique emails and client IPs (so the per-IP and per-email limits of
 * one test never touch another's), and reading what the dev mailer "sent" straight from D1.
 */
import { desc, eq } from 'drizzle-orm';
import { devMailbox } from '../../src/db/schema';
import { api, db, unique } from './fixtures';

/** A fresh client address, as Cloudflare's edge would report it (random, so files never collide). */
export function freshIp(): string {
  const [a, b, c] = crypto.getRandomValues(new Uint8Array(3));
  return `10.${a}.${b}.${c}`;
}

export const freshEmail = (tag = 'user') => `${unique(tag)}@example.com`.toLowerCase();

/**
 * The newest message to `to`, with its 6-digit code and link pulled out of the text. Routes that
 * must not reveal whether an address exists send after their answer (waitUntil), so this waits
 * for the message to appear, up to a second.
 */
export async function latestMail(to: string, opts: { newerThan?: string; subject?: RegExp } = {}) {
  const newest = async () => {
    const row = await db().select().from(devMailbox).where(eq(devMailbox.to, to.toLowerCase())).orderBy(desc(devMailbox.id)).limit(1).get();
    const wanted = row && (!opts.newerThan || row.id > opts.newerThan) && (!opts.subject || opts.subject.test(row.subject));
    return wanted ? row : undefined;
  };
  let row = await newest();
  for (let i = 0; !row && i < 50; i++) {
    await scheduler.wait(20);
    row = await newest();
  }
  if (!row) throw new Error(`no mail to ${to}`);
  const link = row.text.match(/https?:\/\/\S+/)?.[0] ?? null;
  const withoutLink = link ? row.text.replace(link, ' ') : row.text;
  const code = withoutLink.match(/\b\d{6}\b/)?.[0] ?? null;
  const token = link ? new URL(link).searchParams.get('token') : null;
  return { ...row, link, code, token };
}

export async function mailCount(to: string): Promise<number> {
  const rows = await db().select({ id: devMailbox.id }).from(devMailbox).where(eq(devMailbox.to, to.toLowerCase()));
  return rows.length;
}

/** An unauthenticated onboarding call from its own client address. */
export function anon<T = any>(method: string, path: string, body?: unknown, ip = freshIp()) {
  return api<T>(method, path, null, body, { 'CF-Connecting-IP': ip });
}

/** Agent-first signup; returns the restricted key and the claim email's link, token and code. */
export async function agentFirst(overrides: Record<string, unknown> = {}) {
  const email = freshEmail('human');
  const res = await anon('POST', '/v1/agent/signup', { human_email: email, agent_name: 'helper-bot', ...overrides });
  if (res.status !== 201) throw new Error(`agent signup: ${res.status} ${JSON.stringify(res.body)}`);
  const mail = await latestMail((overrides.human_email as string | undefined) ?? email);
  return { email, res, key: res.body.api_key as string, mail };
}
