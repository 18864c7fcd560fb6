/** The magic-link sign-in rules in workerd with real D1: one use, expiry, guesses, sessions that cannot be forged, and where the browser goes after. */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import type { EmailMessage } from '../../src/email/mailer';
import { rateCounter } from '../../src/access/rate-limiter';
import {
  consumeSignIn,
  loadHuman,
  requestSignIn,
  revokeSession,
  safeNext,
  SESSION_TTL_SECONDS,
  SIGN_IN_TTL_SECONDS,
  type SignInDeps,
} from '../../src/sign-in/magic-link';
import { db, unique } from '../helpers/fixtures';

const NOW = Date.parse('2026-06-01T10:00:00Z');

async function setup() {
  const email = `${unique('human')}@example.com`;
  const account = await createAccount(db(), {
    pepper: env.KEY_PEPPER!,
    input: { status: 'active', agentName: 'default', projectName: 'Inbox', sandbox: false, user: { email, name: 'Ada' } },
    now: NOW,
  });
  const sent: EmailMessage[] = [];
  const deps: SignInDeps = {
    db: db(),
    pepper: env.KEY_PEPPER!,
    mailer: { send: async (m) => void sent.push(m) },
    rate: rateCounter(env),
    linkUrl: 'https://api.test/app/sign-in/link',
    emailsPerHour: 5,
  };
  const link = () => new URL(sent.at(-1)!.text.match(/https:\S+/)![0]);
  return { account, email, sent, deps, link };
}

describe('magic-link sign-in', () => {
  it('mails a link for a known address that carries next, and opens one revocable session with it', async () => {
    const { account, email, sent, deps, link } = await setup();
    await requestSignIn(deps, { email: email.toUpperCase(), next: '/authorize?x=1' }, NOW);
    expect(sent).toHaveLength(1);
    expect(link().pathname).toBe('/app/sign-in/link');
    expect(link().searchParams.get('next')).toBe('/authorize?x=1');
    const token = link().searchParams.get('token')!;
    const session = await consumeSignIn(deps, token, NOW + 60_000);
    expect(session).toMatchObject({
      expiresAt: new Date(NOW + 60_000 + SESSION_TTL_SECONDS * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    expect(await consumeSignIn(deps, token, NOW + 61_000)).toBeNull();

    const human = await loadHuman(db(), { pepper: env.KEY_PEPPER!, token: session!.token, now: NOW + 62_000 });
    expect(human).toMatchObject({ email, principal: { accountId: account.accountId, role: 'admin' } });
    await revokeSession(db(), human!.sessionId, NOW + 63_000);
    expect(await loadHuman(db(), { pepper: env.KEY_PEPPER!, token: session!.token, now: NOW + 64_000 })).toBeNull();
  });

  it('leaves next out of the link when it is the board, or not a path on this site', async () => {
    const { email, deps, link } = await setup();
    await requestSignIn(deps, { email }, NOW);
    expect(link().searchParams.has('next')).toBe(false);
    await requestSignIn(deps, { email, next: 'https://evil.example/' }, NOW);
    expect(link().searchParams.has('next')).toBe(false);
  });

  it('says nothing and sends nothing for an unknown address', async () => {
    const { email, sent, deps } = await setup();
    const unknown = await requestSignIn(deps, { email: 'nobody@example.com', next: '/authorize' }, NOW);
    expect(sent).toHaveLength(0);
    expect(unknown).toEqual(await requestSignIn(deps, { email }, NOW));
    expect(sent).toHaveLength(1);
  });

  it('refuses an expired link and a guessed or malformed token', async () => {
    const { email, deps, link } = await setup();
    await requestSignIn(deps, { email }, NOW);
    expect(await consumeSignIn(deps, link().searchParams.get('token')!, NOW + (SIGN_IN_TTL_SECONDS + 1) * 1000)).toBeNull();
    for (const guess of ['A'.repeat(43), 'short', 'x'.repeat(5000), '']) expect(await consumeSignIn(deps, guess, NOW)).toBeNull();
  });

  it('keeps a session only for its exact token and until it expires', async () => {
    const { email, deps, link } = await setup();
    await requestSignIn(deps, { email }, NOW);
    const { token } = (await consumeSignIn(deps, link().searchParams.get('token')!, NOW))!;
    expect(await loadHuman(db(), { pepper: env.KEY_PEPPER!, token, now: NOW })).not.toBeNull();
    expect(await loadHuman(db(), { pepper: env.KEY_PEPPER!, token, now: NOW + (SESSION_TTL_SECONDS + 1) * 1000 })).toBeNull();
    const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect(await loadHuman(db(), { pepper: env.KEY_PEPPER!, token: forged, now: NOW })).toBeNull();
    expect(await loadHuman(db(), { pepper: 'another-secret', token, now: NOW })).toBeNull();
    expect(await loadHuman(db(), { pepper: env.KEY_PEPPER!, token: undefined, now: NOW })).toBeNull();
  });

  it('sends the browser only to paths on this site after sign-in', () => {
    expect(safeNext('/authorize?a=1&b=%2F')).toBe('/authorize?a=1&b=%2F');
    expect(safeNext('/app/agents')).toBe('/app/agents');
    for (const evil of [
      'https://evil.example',
      '//evil.example',
      '/\\evil.example',
      '/a\nb',
      `/${'a'.repeat(3000)}`,
      'javascript:alert(1)',
      '',
      undefined,
    ])
      expect(safeNext(evil)).toBe('/app');
  });
});
