import { afterEach, describe, expect, it, vi } from 'vitest';
import { eq } from 'drizzle-orm';
import { accounts, emailCodes, users } from '../../src/db/schema';
import { api, db } from '../helpers/fixtures';
import { agentFirst, anon, freshEmail, freshIp, latestMail, mailCount } from '../helpers/onboarding';

afterEach(() => vi.useRealTimers());

const MINUTE = 60_000;

/** Moves the clock (Date only: D1 and the Worker keep running normally). */
function advance(ms: number) {
  const now = Date.now();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(now + ms);
}

async function humanSignup(name: string | undefined = 'Ada') {
  const email = freshEmail('ada');
  const res = await anon('POST', '/v1/signup', { email, ...(name ? { name } : {}) });
  expect(res.status).toBe(201);
  const mail = await latestMail(email);
  return { email, res, key: res.body.api_key as string, mail };
}

describe('human signup, verification and recovery', () => {
  it('signs up: user, default admin agent, project and a key that works at once', async () => {
    const email = freshEmail('ada');
    const res = await anon('POST', '/v1/signup', { email: email.toUpperCase(), name: 'Ada Lovelace' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      user: { id: expect.stringMatching(/^usr_/), email, name: 'Ada Lovelace', verified: false },
      agent: { id: expect.stringMatching(/^agt_/), name: 'default', role: 'admin', is_default: true, sandbox_project_id: null },
      api_key: expect.stringMatching(/^dlg_[0-9A-Za-z]{32,}$/),
      account: { id: expect.stringMatching(/^acc_/), status: 'active' },
      project: { id: expect.stringMatching(/^prj_/), is_sandbox: false },
      message: expect.stringContaining('/v1/verify'),
    });
    // The CLI reads the key from agent.api_key.
    expect(res.body.agent.api_key).toBe(res.body.api_key);

    const me = await api('GET', '/v1/agent/me', res.body.api_key);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ mode: 'admin', role: 'admin', account: { status: 'active' }, sandbox_project: null, claim: null });

    // The code went by email, never in the answer.
    const mail = await latestMail(email);
    expect(mail.subject).toBe('Your Delega verification code');
    expect(mail.code).toMatch(/^\d{6}$/);
    expect(mail.html).toContain(mail.code!);
    expect(JSON.stringify(res.body)).not.toContain(mail.code!);
  });

  it('verifies with the emailed code, once', async () => {
    const { email, mail } = await humanSignup();
    const ok = await anon('POST', '/v1/verify', { email, code: mail.code });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ verified: true, email });
    const user = await db().select().from(users).where(eq(users.email, email)).get();
    expect(user?.verifiedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    const again = await anon('POST', '/v1/verify', { email, code: mail.code });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('INVALID_CODE');
  });

  it('refuses a known email with 409, whatever its case', async () => {
    const { email } = await humanSignup();
    for (const variant of [email, email.toUpperCase()]) {
      const res = await anon('POST', '/v1/signup', { email: variant });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ code: 'EMAIL_TAKEN', error: expect.stringContaining('/v1/recover') });
    }
  });

  it('lets one of two simultaneous signups for an email win; the other gets 409', async () => {
    const email = freshEmail('race');
    const answers = await Promise.all([0, 1].map(() => anon('POST', '/v1/signup', { email })));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    expect(answers.find((a) => a.status === 409)!.body.code).toBe('EMAIL_TAKEN');
  });

  it('refuses malformed emails, missing fields and unknown fields with 400 and details', async () => {
    for (const bad of ['nope', 'a@', '@example.com', 'a b@example.com', '', `${'x'.repeat(250)}@example.com`, 42, null]) {
      const res = await anon('POST', '/v1/signup', { email: bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'email' })]));
    }
    const missing = await anon('POST', '/v1/signup', {});
    expect(missing.status).toBe(400);
    expect(missing.body.details).toEqual([expect.objectContaining({ field: 'email' })]);
    const extra = await anon('POST', '/v1/signup', { email: freshEmail(), admin: true });
    expect(extra.status).toBe(400);
    expect(extra.body.details).toEqual([{ field: 'admin', message: 'Unknown field' }]);
    const notJson = await api('POST', '/v1/signup', null, '{"email":', { 'CF-Connecting-IP': freshIp() });
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe('MALFORMED_JSON');
    const longName = await anon('POST', '/v1/signup', { email: freshEmail(), name: 'n'.repeat(101) });
    expect(longName.status).toBe(400);
  });

  it('answers a wrong code and an unknown email identically', async () => {
    const { email, mail } = await humanSignup();
    const wrong = mail.code === '000000' ? '111111' : '000000';
    const wrongCode = await anon('POST', '/v1/verify', { email, code: wrong });
    const unknown = await anon('POST', '/v1/verify', { email: freshEmail('ghost'), code: wrong });
    expect(wrongCode.status).toBe(400);
    expect(unknown.status).toBe(400);
    expect(wrongCode.body).toEqual(unknown.body);
    expect(wrongCode.body).toEqual({ error: expect.stringContaining('Invalid or expired code'), code: 'INVALID_CODE' });
  });

  it('refuses codes that are not 6 digits before counting an attempt', async () => {
    const { email, mail } = await humanSignup();
    for (const bad of ['12345', '1234567', 'abcdef', '12 456', 123456]) {
      const res = await anon('POST', '/v1/verify', { email, code: bad });
      expect(res.status, String(bad)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.details).toEqual([expect.objectContaining({ field: 'code' })]);
    }
    const row = await db().select().from(emailCodes).where(eq(emailCodes.email, email)).get();
    expect(row?.attempts).toBe(0);
    // Pasted with spaces around it still works.
    const ok = await anon('POST', '/v1/verify', { email, code: ` ${mail.code} ` });
    expect(ok.status).toBe(200);
  });

  it('accepts one of several simultaneous right answers, once', async () => {
    const { email, mail } = await humanSignup();
    const verified = await Promise.all([0, 1, 2].map(() => anon('POST', '/v1/verify', { email, code: mail.code })));
    expect(verified.map((a) => a.status).sort()).toEqual([200, 400, 400]);
  });

  it('expires codes after 15 minutes', async () => {
    const { email, mail } = await humanSignup();
    advance(15 * MINUTE + 1000);
    const res = await anon('POST', '/v1/verify', { email, code: mail.code });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_CODE');
  });

  it('accepts a code just inside its 15 minutes', async () => {
    const { email, mail } = await humanSignup();
    advance(14 * MINUTE);
    const res = await anon('POST', '/v1/verify', { email, code: mail.code });
    expect(res.status).toBe(200);
  });

  it('kills a code after 5 wrong attempts: the sixth fails even when right', async () => {
    const { email, mail } = await humanSignup();
    const wrong = mail.code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      const res = await anon('POST', '/v1/verify', { email, code: wrong });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_CODE');
    }
    const sixth = await anon('POST', '/v1/verify', { email, code: mail.code });
    expect(sixth.status).toBe(400);
    expect(sixth.body.code).toBe('INVALID_CODE');
    const user = await db().select().from(users).where(eq(users.email, email)).get();
    expect(user?.verifiedAt).toBeNull();
  });

  it('resends a verification code that supersedes the old one; unknown emails get the same answer and no mail', async () => {
    const { email, mail: first } = await humanSignup();
    const known = await anon('POST', '/v1/resend-verification', { email });
    expect(known.status).toBe(200);
    const second = await latestMail(email, { newerThan: first.id });

    const ghost = freshEmail('ghost');
    const unknown = await anon('POST', '/v1/resend-verification', { email: ghost });
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual(known.body);
    expect(await mailCount(ghost)).toBe(0);

    if (first.code !== second.code) {
      const old = await anon('POST', '/v1/verify', { email, code: first.code });
      expect(old.status).toBe(400);
    }
    const ok = await anon('POST', '/v1/verify', { email, code: second.code });
    expect(ok.status).toBe(200);
  });

  it('recovers: a code by email, then a new key for the default agent; the old key dies', async () => {
    const { email, key: oldKey, res: signup } = await humanSignup();
    const asked = await anon('POST', '/v1/recover', { email });
    expect(asked.status).toBe(200);
    expect(asked.body.message).toContain('recovery code');
    const mail = await latestMail(email, { subject: /recovery/ });
    expect(mail.subject).toBe('Your Delega recovery code');

    const done = await anon('POST', '/v1/recover', { email, code: mail.code });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      recovered: true,
      api_key: expect.stringMatching(/^dlg_/),
      agent: { id: signup.body.agent.id, is_default: true },
    });
    expect(done.body.agent.api_key).toBe(done.body.api_key);
    expect(done.body.api_key).not.toBe(oldKey);

    expect((await api('GET', '/v1/agent/me', oldKey)).status).toBe(401);
    expect((await api('GET', '/v1/agent/me', done.body.api_key)).status).toBe(200);
    // Single use.
    const again = await anon('POST', '/v1/recover', { email, code: mail.code });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('INVALID_CODE');
  });

  it('does not reveal unknown emails on recovery, and refuses wrong recovery codes', async () => {
    const { email } = await humanSignup();
    const known = await anon('POST', '/v1/recover', { email });
    const ghost = freshEmail('ghost');
    const unknown = await anon('POST', '/v1/recover', { email: ghost });
    expect(unknown.status).toBe(known.status);
    expect(unknown.body).toEqual(known.body);
    expect(await mailCount(ghost)).toBe(0);

    const mail = await latestMail(email, { subject: /recovery/ });
    const wrong = mail.code === '000000' ? '111111' : '000000';
    const bad = await anon('POST', '/v1/recover', { email, code: wrong });
    const ghostCode = await anon('POST', '/v1/recover', { email: ghost, code: wrong });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual(ghostCode.body);
    // A verification code is not a recovery code.
    const signupMail = await anon('POST', '/v1/recover', { email, code: '12x456' });
    expect(signupMail.status).toBe(400);
    expect(signupMail.body.code).toBe('VALIDATION_FAILED');
  });

  it('does not accept a verification code for recovery', async () => {
    const { email, mail } = await humanSignup();
    const res = await anon('POST', '/v1/recover', { email, code: mail.code });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_CODE');
  });
});

describe('agent-first signup and the human claim', () => {
  it('runs the whole flow: restricted key, claim email, preview, claim, same key now full', async () => {
    const email = freshEmail('human');
    const res = await anon('POST', '/v1/agent/signup', {
      human_email: email,
      agent_name: 'deploy-bot',
      agent_label: 'Deploy Bot',
      use_case: 'Ships releases',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      api_key: expect.stringMatching(/^dlg_/),
      mode: 'restricted',
      agent: { name: 'deploy-bot', display_name: 'Deploy Bot', label: 'Deploy Bot', use_case: 'Ships releases', role: 'admin' },
      account: { status: 'restricted' },
      sandbox_project: { is_sandbox: true },
      claim: { status: 'pending', email: expect.stringMatching(/^h\*\*\*@example\.com$/) },
    });
    const key = res.body.api_key as string;
    const sandboxId = res.body.sandbox_project.id as string;
    expect(res.body.agent.sandbox_project_id).toBe(sandboxId);

    const mail = await latestMail(email);
    expect(mail.subject).toContain('deploy-bot');
    expect(mail.token).toMatch(/^[0-9A-Za-z]{43}$/);
    expect(mail.link).toBe(`http://127.0.0.1:8787/claim?token=${mail.token}`);
    expect(mail.code).toMatch(/^\d{6}$/);
    expect(mail.text).toContain('Ships releases');
    // Neither secret is in the answer.
    expect(JSON.stringify(res.body)).not.toContain(mail.token!);
    expect(JSON.stringify(res.body)).not.toContain(mail.code!);

    const before = await api('GET', '/v1/agent/me', key);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({
      mode: 'restricted',
      role: 'admin',
      account: { status: 'restricted', claimed_at: null },
      sandbox_project: { id: sandboxId, is_sandbox: true },
      claim: {
        status: 'pending',
        email: expect.stringContaining('***@example.com'),
        how: expect.stringContaining('/v1/agent/claim/verify'),
      },
    });
    const capsBefore = await api('GET', '/v1/capabilities', key);
    expect(capsBefore.body.mode).toBe('restricted');
    expect(capsBefore.body.operations['agents.list'].allowed).toBe(false);
    expect(capsBefore.body.operations['claim.verify'].allowed).toBe(true);

    const preview = await anon('POST', '/v1/claim/preview', { token: mail.token });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({
      claim: { status: 'pending', email: res.body.claim.email },
      agent: { name: 'deploy-bot', label: 'Deploy Bot', use_case: 'Ships releases' },
      account: { id: res.body.account.id, status: 'restricted' },
    });
    // Previewing changes nothing.
    expect((await api('GET', '/v1/agent/me', key)).body.mode).toBe('restricted');

    const done = await anon('POST', '/v1/claim/complete', { token: mail.token });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      claimed: true,
      mode: 'admin',
      account: { id: res.body.account.id, status: 'active' },
      agent: { name: 'deploy-bot' },
    });

    const after = await api('GET', '/v1/agent/me', key);
    expect(after.body).toMatchObject({
      mode: 'admin',
      account: { status: 'active', claimed_at: expect.any(String) },
      sandbox_project: { id: sandboxId },
      claim: { status: 'claimed', how: null },
    });
    const capsAfter = await api('GET', '/v1/capabilities', key);
    expect(capsAfter.body.mode).toBe('admin');
    expect(capsAfter.body.operations['agents.list'].allowed).toBe(true);
    expect(capsAfter.body.operations['claim.verify'].allowed).toBe(false);
    expect((await api('GET', '/v1/agents', key)).status).toBe(200);

    // The human is now a verified user of the account, so recovery works for them.
    const user = await db().select().from(users).where(eq(users.email, email)).get();
    expect(user).toMatchObject({ accountId: res.body.account.id, verifiedAt: expect.any(String) });
  });

  it('refuses a restricted key on full-mode operations, saying the human must claim', async () => {
    const { key } = await agentFirst();
    for (const [method, path] of [
      ['GET', '/v1/agents'],
      ['POST', '/v1/projects'],
      ['POST', '/v1/agents'],
    ] as const) {
      const res = await api(method, path, key, method === 'POST' ? { name: 'xyz' } : undefined);
      expect(res.status, path).toBe(403);
      expect(res.body.code).toBe('CLAIM_REQUIRED');
      expect(res.body.error).toMatch(/human claims/);
    }
  });

  it('refuses agent names outside [a-z0-9_-]{3,32}', async () => {
    for (const bad of ['ab', 'a'.repeat(33), 'Deploy', 'has space', 'dot.name', 'émile', '', 'x/y', 7]) {
      const res = await anon('POST', '/v1/agent/signup', { human_email: freshEmail('h'), agent_name: bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.details).toEqual([expect.objectContaining({ field: 'agent_name' })]);
    }
    for (const good of ['abc', 'a'.repeat(32), 'a_b-9']) {
      const res = await anon('POST', '/v1/agent/signup', { human_email: freshEmail('h'), agent_name: good });
      expect(res.status, good).toBe(201);
      expect(res.body.agent.name).toBe(good);
    }
  });

  it('refuses malformed human emails and unknown fields', async () => {
    for (const bad of ['human', 'human@', 'two@@example.com', '']) {
      const res = await anon('POST', '/v1/agent/signup', { human_email: bad, agent_name: 'good-bot' });
      expect(res.status, bad).toBe(400);
      expect(res.body.details).toEqual([expect.objectContaining({ field: 'human_email' })]);
    }
    const missing = await anon('POST', '/v1/agent/signup', { agent_name: 'good-bot' });
    expect(missing.status).toBe(400);
    const extra = await anon('POST', '/v1/agent/signup', { human_email: freshEmail(), agent_name: 'good-bot', role: 'admin' });
    expect(extra.status).toBe(400);
    expect(extra.body.details).toEqual([{ field: 'role', message: 'Unknown field' }]);
  });

  it('uses each magic link once', async () => {
    const { mail } = await agentFirst();
    expect((await anon('POST', '/v1/claim/complete', { token: mail.token })).status).toBe(200);
    const reused = await anon('POST', '/v1/claim/complete', { token: mail.token });
    expect(reused.status).toBe(409);
    expect(reused.body).toMatchObject({ code: 'CLAIM_TOKEN_USED', error: expect.stringContaining('already used') });
    const preview = await anon('POST', '/v1/claim/preview', { token: mail.token });
    expect(preview.status).toBe(409);
    expect(preview.body.code).toBe('CLAIM_TOKEN_USED');
  });

  it('refuses to claim an account that is already claimed', async () => {
    const { key, mail: first } = await agentFirst();
    const resend = await api('POST', '/v1/agent/claim/resend', key);
    expect(resend.status).toBe(200);
    expect(resend.body).toMatchObject({ sent: true, claim: { status: 'pending' } });
    const second = await latestMail(first.to);
    expect(second.token).not.toBe(first.token);

    expect((await anon('POST', '/v1/claim/complete', { token: first.token })).status).toBe(200);
    const late = await anon('POST', '/v1/claim/complete', { token: second.token });
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('ALREADY_CLAIMED');
    // The claim-only routes are closed to the now full key.
    const otp = await api('POST', '/v1/agent/claim/verify', key, { otp: second.code });
    expect(otp.status).toBe(403);
    expect(otp.body.code).toBe('NOT_RESTRICTED');
    expect((await api('POST', '/v1/agent/claim/resend', key)).status).toBe(403);
  });

  it('answers unknown, malformed and expired tokens clearly', async () => {
    const unknown = await anon('POST', '/v1/claim/preview', { token: 'A'.repeat(43) });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('CLAIM_TOKEN_NOT_FOUND');
    const short = await anon('POST', '/v1/claim/complete', { token: 'nope' });
    expect(short.status).toBe(404);
    for (const bad of [{}, { token: '' }, { token: 5 }, { token: 'x'.repeat(201) }]) {
      const res = await anon('POST', '/v1/claim/complete', bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }

    const { mail, key } = await agentFirst();
    advance(7 * 24 * 60 * MINUTE + 1000);
    for (const path of ['/v1/claim/preview', '/v1/claim/complete']) {
      const res = await anon('POST', path, { token: mail.token });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'CLAIM_TOKEN_EXPIRED', error: expect.stringContaining('/v1/agent/claim/resend') });
    }
    expect((await api('GET', '/v1/agent/me', key)).body.mode).toBe('restricted');
  });

  it('claims with the emailed code through the restricted key', async () => {
    const { key, mail } = await agentFirst();
    const wrong = mail.code === '000000' ? '111111' : '000000';
    const miss = await api('POST', '/v1/agent/claim/verify', key, { otp: wrong });
    expect(miss.status).toBe(400);
    expect(miss.body).toMatchObject({ code: 'INVALID_CODE', attempts_remaining: 4 });

    const ok = await api('POST', '/v1/agent/claim/verify', key, { otp: mail.code });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ claimed: true, mode: 'admin', account: { status: 'active' } });
    expect((await api('GET', '/v1/agent/me', key)).body.mode).toBe('admin');
    // The link from the same email now says the account is claimed.
    const link = await anon('POST', '/v1/claim/complete', { token: mail.token });
    expect(link.status).toBe(409);
    expect(link.body.code).toBe('ALREADY_CLAIMED');
  });

  it('locks the claim code after 5 wrong tries; a resend brings a fresh one', async () => {
    const { key, mail } = await agentFirst();
    const wrong = mail.code === '000000' ? '111111' : '000000';
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await api('POST', '/v1/agent/claim/verify', key, { otp: wrong }));
    expect(answers.map((a) => a.body.attempts_remaining ?? a.body.code)).toEqual([4, 3, 2, 1, 'CODE_LOCKED']);
    const sixth = await api('POST', '/v1/agent/claim/verify', key, { otp: mail.code });
    expect(sixth.status).toBe(400);
    expect(sixth.body).toMatchObject({ code: 'CODE_LOCKED', error: expect.stringContaining('/v1/agent/claim/resend') });

    expect((await api('POST', '/v1/agent/claim/resend', key)).status).toBe(200);
    const fresh = await latestMail(mail.to);
    const ok = await api('POST', '/v1/agent/claim/verify', key, { otp: fresh.code });
    expect(ok.status).toBe(200);
  });

  it('expires the claim code after 15 minutes while the link keeps working', async () => {
    const { key, mail } = await agentFirst();
    advance(16 * MINUTE);
    const late = await api('POST', '/v1/agent/claim/verify', key, { otp: mail.code });
    expect(late.status).toBe(400);
    expect(late.body.code).toBe('CODE_EXPIRED');
    const link = await anon('POST', '/v1/claim/complete', { token: mail.token });
    expect(link.status).toBe(200);
  });

  it('validates the OTP body', async () => {
    const { key } = await agentFirst();
    for (const bad of [{}, { otp: '12345' }, { otp: 'abcdef' }, { otp: '123456', extra: 1 }]) {
      const res = await api('POST', '/v1/agent/claim/verify', key, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    expect((await api('POST', '/v1/agent/claim/verify', null, { otp: '123456' })).status).toBe(401);
  });

  it('keeps the sandbox project after the claim, and the account row says who claimed when', async () => {
    const { key, mail, res } = await agentFirst();
    await anon('POST', '/v1/claim/complete', { token: mail.token });
    const row = await db().select().from(accounts).where(eq(accounts.id, res.body.account.id)).get();
    expect(row).toMatchObject({ status: 'active', claimedAt: expect.any(String) });
    const projects = await api('GET', '/v1/projects', key);
    expect(projects.body.map((p: { id: string }) => p.id)).toContain(res.body.sandbox_project.id);
  });

  it('claims for a human who already has an account of their own, leaving that account alone', async () => {
    const email = freshEmail('owner');
    const own = await anon('POST', '/v1/signup', { email });
    expect(own.status).toBe(201);
    const { mail, key } = await agentFirst({ human_email: email });
    expect((await anon('POST', '/v1/claim/complete', { token: mail.token })).status).toBe(200);
    expect((await api('GET', '/v1/agent/me', key)).body.mode).toBe('admin');
    const user = await db().select().from(users).where(eq(users.email, email)).get();
    expect(user?.accountId).toBe(own.body.account.id);
  });

  it('lets only one of two simultaneous claims with the same link win', async () => {
    const { mail } = await agentFirst();
    const answers = await Promise.all([0, 1, 2].map(() => anon('POST', '/v1/claim/complete', { token: mail.token })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409]);
  });

  it('serves the same onboarding routes under /api', async () => {
    const email = freshEmail('api');
    const res = await anon('POST', '/api/agent/signup', { human_email: email, agent_name: 'api-bot' });
    expect(res.status).toBe(201);
    const mail = await latestMail(email);
    expect((await anon('POST', '/api/claim/complete', { token: mail.token })).status).toBe(200);
    expect((await api('GET', '/api/agent/me', res.body.api_key)).body.mode).toBe('admin');
  });
});
