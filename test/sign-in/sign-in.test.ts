/** The magic-link sign-in rules in workerd with real D1: one use, expiry, guesses, sessions that cannot be forged. */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { users } from '../../src/db/schema';
import type { EmailMessage } from '../../src/email/mailer';
import { rateCounter } from '../../src/limits/rate-limiter';
import { confirmSignIn, readSession, requestSignIn, safeNext, sessionCookie, SESSION_TTL_SECONDS, type SignInDeps } from '../../src/sign-in/sign-in';
import { db, makeAccount, unique } from '../helpers/fixtures';

const NOW = Date.parse('2026-06-01T10:00:00Z');

async function setup() {
  const account = await makeAccount();
  const email = `${unique('human')}@example.com`;
  await db().insert(users).values({ id: unique('usr'), accountId: account.accountId, email, createdAt: '2026-06-01T00:00:00Z' });
  const sent: EmailMessage[] = [];
  const deps: SignInDeps = {
    db: db(),
    pepper: env.KEY_PEPPER!,
    mailer: { send: async (m) => void sent.push(m) },
    rate: rateCounter(env),
    linkBase: 'https://api.test',
    limits: { perMinute: 100, emailsPerHour: 5, lockout: { failures: 20, baseSeconds: 60, maxSeconds: 3600 } },
  };
  const linkCode = () => new URL(sent.at(-1)!.text.match(/https:\S+/)![0]).searchParams;
  return { account, email, sent, deps, linkCode };
}

describe('magic-link sign-in', () => {
  it('mails a link for a known address and signs in once with it', async () => {
    const { account, email, sent, deps, linkCode } = await setup();
    await requestSignIn(deps, { email: email.toUpperCase(), next: '/authorize?x=1', ip: unique('ip') }, NOW);
    expect(sent).toHaveLength(1);
    expect(linkCode().get('next')).toBe('/authorize?x=1');
    const code = linkCode().get('code')!;
    const session = await confirmSignIn(deps, { email, code }, NOW + 60_000);
    expect(session).toMatchObject({ accountId: account.accountId, email, expiresAt: Math.floor((NOW + 60_000) / 1000) + SESSION_TTL_SECONDS });
    expect(await confirmSignIn(deps, { email, code }, NOW + 61_000)).toBeNull();
  });

  it('says nothing and sends nothing for an unknown address', async () => {
    const { sent, deps } = await setup();
    await requestSignIn(deps, { email: 'nobody@example.com', next: '/', ip: unique('ip') }, NOW);
    expect(sent).toHaveLength(0);
  });

  it('refuses an expired link, and a code after five wrong guesses', async () => {
    const { email, deps, linkCode } = await setup();
    await requestSignIn(deps, { email, next: '/', ip: unique('ip') }, NOW);
    expect(await confirmSignIn(deps, { email, code: linkCode().get('code')! }, NOW + 16 * 60_000)).toBeNull();

    await requestSignIn(deps, { email, next: '/', ip: unique('ip') }, NOW);
    const code = linkCode().get('code')!;
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) expect(await confirmSignIn(deps, { email, code: wrong }, NOW)).toBeNull();
    expect(await confirmSignIn(deps, { email, code }, NOW)).toBeNull();
  });

  it('keeps a session only with its signature and until it expires', async () => {
    const session = { userId: 'usr_1', accountId: 'acc_1', email: 'a@example.com', expiresAt: Math.floor(NOW / 1000) + 60 };
    const cookie = (await sessionCookie(env.KEY_PEPPER!, session, true)).split(';')[0]!;
    expect(await readSession(env.KEY_PEPPER!, `other=1; ${cookie}`, NOW)).toEqual(session);
    expect(await readSession(env.KEY_PEPPER!, cookie, NOW + 61_000)).toBeNull();
    const [name, value] = cookie.split('=');
    const [payload, mac] = value!.split('.');
    const tampered = Buffer.from(JSON.stringify({ ...session, accountId: 'acc_2' })).toString('base64url');
    expect(await readSession(env.KEY_PEPPER!, `${name}=${tampered}.${mac}`, NOW)).toBeNull();
    expect(await readSession('another-secret', `${name}=${payload}.${mac}`, NOW)).toBeNull();
    expect(await readSession(env.KEY_PEPPER!, undefined, NOW)).toBeNull();
  });

  it('sends the browser only to paths on this site after sign-in', () => {
    expect(safeNext('/authorize?a=1')).toBe('/authorize?a=1');
    for (const evil of ['https://evil.example', '//evil.example', '/\\evil.example', '', undefined]) expect(safeNext(evil)).toBe('/');
  });
});
