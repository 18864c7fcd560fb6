/**
 * Account-level lockout for one-time codes: asking for new codes does not buy more guesses.
 * After LIMIT_CODE_FAILURES_BEFORE_LOCKOUT wrong codes (any code of the account) every code is
 * refused, even the right one, for a while that doubles with each lockout; the owner is told by email.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { codeLockouts } from '../../src/db/schema';
import { LIMIT_DEFAULTS } from '../../src/platform/config';
import { db } from '../helpers/fixtures';
import { agentFirst, anon, freshEmail, freshIp, latestMail, mailCount } from '../helpers/onboarding';

const FAILURES = 6;
const app = createApp();

/** A request with a lower lockout threshold (and room in the per-address try limit). */
async function call(path: string, body: unknown, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`https://api.test${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': freshIp(), ...headers },
      body: JSON.stringify(body),
    }),
    { ...env, LIMIT_CODE_FAILURES_BEFORE_LOCKOUT: String(FAILURES), LIMIT_ONBOARDING_RATE_PER_MINUTE: '100' },
    ctx,
  );
  const json = (await res.json()) as any;
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: json, headers: res.headers };
}

const wrongFor = (code: string | null) => (code === '000000' ? '111111' : '000000');

async function newRecoveryCode(email: string, after?: string) {
  expect((await call('/v1/recover', { email })).status).toBe(200);
  return latestMail(email, { subject: /recovery/, newerThan: after });
}

describe('account lockout after repeated wrong codes', () => {
  it('recovery: new codes do not reset the count; the lock refuses even the right code and tells the owner', async () => {
    const email = freshEmail('lock');
    expect((await anon('POST', '/v1/signup', { email })).status).toBe(201);
    const first = await newRecoveryCode(email);
    for (let i = 0; i < 5; i++) expect((await call('/v1/recover', { email, code: wrongFor(first.code) })).status).toBe(400);
    // The first code is dead; a fresh one gets one more wrong guess before the account locks.
    const second = await newRecoveryCode(email, first.id);
    const locking = await call('/v1/recover', { email, code: wrongFor(second.code) });
    expect(locking.status).toBe(429);
    expect(locking.body.code).toBe('CODE_ATTEMPTS_LOCKED');
    expect(Number(locking.headers.get('Retry-After'))).toBeGreaterThan(LIMIT_DEFAULTS.CODE_LOCKOUT_SECONDS - 5);
    const right = await call('/v1/recover', { email, code: second.code });
    expect(right.status).toBe(429);
    expect(right.body.api_key).toBeUndefined();
    const notice = await latestMail(email, { subject: /too many wrong codes/ });
    expect(notice.text).toContain(locking.body.locked_until);
    // The lock is mailed once, not on every refused attempt.
    const mails = await mailCount(email);
    await call('/v1/recover', { email, code: wrongFor(second.code) });
    expect(await mailCount(email)).toBe(mails);

    // When the lock has run out (its time moved back), the right code works and clears the record.
    await db()
      .update(codeLockouts)
      .set({ lockedUntil: '2000-01-01T00:00:00Z' })
      .where(eq(codeLockouts.accountId, (await lockoutOf(email)).accountId));
    const ok = await call('/v1/recover', { email, code: second.code });
    expect(ok.status).toBe(200);
    expect(ok.body.api_key).toMatch(/^dlg_/);
    expect(await lockoutOf(email).catch(() => null)).toBeNull();
  });

  it('each further lockout lasts twice as long', async () => {
    const email = freshEmail('backoff');
    expect((await anon('POST', '/v1/signup', { email })).status).toBe(201);
    let last: string | undefined;
    const lockDurations: number[] = [];
    for (let round = 0; round < 2; round++) {
      let locked: Awaited<ReturnType<typeof call>> | undefined;
      while (!locked) {
        const mail = await newRecoveryCode(email, last);
        last = mail.id;
        for (let i = 0; i < 5 && !locked; i++) {
          const res = await call('/v1/recover', { email, code: wrongFor(mail.code) });
          if (res.status === 429) locked = res;
        }
      }
      lockDurations.push(Number(locked.headers.get('Retry-After')));
      const row = await lockoutOf(email);
      await db().update(codeLockouts).set({ lockedUntil: '2000-01-01T00:00:00Z' }).where(eq(codeLockouts.accountId, row.accountId));
    }
    expect(lockDurations[1]! / lockDurations[0]!).toBeCloseTo(2, 1);
  });

  it('the claim code relayed by the agent counts and locks the same way', async () => {
    const { key, email, mail } = await agentFirst();
    let res: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 5; i++) res = await call('/v1/agent/claim/verify', { otp: wrongFor(mail.code) }, { 'X-Agent-Key': key });
    expect(res!.body.code).toBe('CODE_LOCKED');
    expect((await call('/v1/agent/claim/resend', {}, { 'X-Agent-Key': key })).status).toBe(200);
    const fresh = await latestMail(email, { newerThan: mail.id });
    expect((await call('/v1/agent/claim/verify', { otp: wrongFor(fresh.code) }, { 'X-Agent-Key': key })).status).toBe(429);
    const right = await call('/v1/agent/claim/verify', { otp: fresh.code }, { 'X-Agent-Key': key });
    expect(right.status).toBe(429);
    expect(right.body.code).toBe('CODE_ATTEMPTS_LOCKED');
    expect((await latestMail(email, { subject: /too many wrong codes/ })).to).toBe(email);
  });
});

async function lockoutOf(email: string) {
  const row = await env.DB.prepare(
    'select l.account_id as accountId from code_lockouts l join users u on u.account_id = l.account_id where u.email = ?',
  )
    .bind(email)
    .first<{ accountId: string }>();
  if (!row) throw new Error('no lockout record');
  return row;
}
