/**
 * Answers that carry a secret (an API key, a webhook signing secret): never cached
 * (`Cache-Control: no-store`), and on public routes never replayed to whoever repeats the
 * Idempotency-Key and body; the per-IP onboarding limit counts replays too.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { createApp } from '../../src/app';
import { describe, expect, it } from 'vitest';
import { api, makeAccount } from '../helpers/fixtures';
import { anon, freshEmail, freshIp, latestMail } from '../helpers/onboarding';

const withKey = (key: string, ip = freshIp()) => ({ 'Idempotency-Key': key, 'CF-Connecting-IP': ip });

describe('public replays never hand out keys', () => {
  it.each([
    ['human signup', '/v1/signup', () => ({ email: freshEmail('replay-h') })],
    ['agent signup', '/v1/agent/signup', () => ({ human_email: freshEmail('replay-a'), agent_name: 'replay-bot' })],
  ])('%s: an attacker repeating the key and body gets 409, not the key', async (_, path, body) => {
    const sent = body();
    const key = `replay-${crypto.randomUUID()}`;
    const first = await api('POST', path, null, sent, withKey(key));
    expect(first.status).toBe(201);
    const attacker = await api('POST', path, null, sent, withKey(key));
    expect(attacker.status).toBe(409);
    expect(attacker.body.code).toBe('IDEMPOTENT_ANSWER_WITHHELD');
    expect(JSON.stringify(attacker.body)).not.toContain(first.body.api_key);
    expect(JSON.stringify(attacker.body)).not.toMatch(/dlg_/);
  });

  it('recovery: the new key is not replayed', async () => {
    const email = freshEmail('replay-r');
    expect((await anon('POST', '/v1/signup', { email })).status).toBe(201);
    expect((await anon('POST', '/v1/recover', { email })).status).toBe(200);
    const { code } = await latestMail(email, { subject: /recovery/ });
    const key = `recover-${crypto.randomUUID()}`;
    const first = await api('POST', '/v1/recover', null, { email, code }, withKey(key));
    expect(first.status).toBe(200);
    expect(first.body.api_key).toMatch(/^dlg_/);
    const again = await api('POST', '/v1/recover', null, { email, code }, withKey(key));
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.body)).not.toContain(first.body.api_key);
  });

  it('the per-IP onboarding limit applies before any replay', async () => {
    const ip = freshIp();
    const key = `limit-${crypto.randomUUID()}`;
    const sent = { email: freshEmail('limit') };
    expect((await api('POST', '/v1/resend-verification', null, sent, withKey(key, ip))).status).toBe(200);
    const max = Number(env.LIMIT_ONBOARDING_RATE_PER_MINUTE ?? 10);
    for (let i = 1; i < max; i++)
      await api('POST', '/v1/resend-verification', null, { email: freshEmail('filler') }, { 'CF-Connecting-IP': ip });
    const replay = await api('POST', '/v1/resend-verification', null, sent, withKey(key, ip));
    expect(replay.status).toBe(429);
  });
});

describe('Cache-Control: no-store on every answer that carries a secret', () => {
  it('signup, agent signup, recovery, agent create, rotate-key and webhook create', async () => {
    const email = freshEmail('nostore');
    const signup = await anon('POST', '/v1/signup', { email });
    const agentSignup = await anon('POST', '/v1/agent/signup', { human_email: freshEmail('nostore-a'), agent_name: 'nostore-bot' });
    await anon('POST', '/v1/recover', { email });
    const recovered = await anon('POST', '/v1/recover', { email, code: (await latestMail(email, { subject: /recovery/ })).code });
    const account = await makeAccount();
    const agent = await api('POST', '/v1/agents', account.adminKey, { name: 'nostore-agent' });
    const rotated = await api('POST', `/v1/agents/${agent.body.id}/rotate-key`, account.adminKey);
    const hook = await api('POST', '/v1/webhooks', account.adminKey, { url: 'https://hooks.example.com/n', events: ['task.created'] });
    for (const [name, res, status] of [
      ['signup', signup, 201],
      ['agent signup', agentSignup, 201],
      ['recover', recovered, 200],
      ['agent create', agent, 201],
      ['rotate-key', rotated, 200],
      ['webhook create', hook, 201],
    ] as const) {
      expect(res.status, name).toBe(status);
      expect(res.headers.get('Cache-Control'), name).toBe('no-store');
    }
  });

  it('an authenticated replay of a new key reaches only its own agent and is not cacheable', async () => {
    const account = await makeAccount();
    const first = await api('POST', '/v1/agents', account.adminKey, { name: 'replayed-agent' }, { 'Idempotency-Key': 'agent-once' });
    const again = await api('POST', '/v1/agents', account.adminKey, { name: 'replayed-agent' }, { 'Idempotency-Key': 'agent-once' });
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('Cache-Control')).toBe('no-store');
  });
});

describe('magic links use PUBLIC_BASE_URL only', () => {
  it('never the request Host', async () => {
    const email = freshEmail('host');
    const res = await api(
      'POST',
      '/v1/agent/signup',
      null,
      { human_email: email, agent_name: 'host-bot' },
      { 'CF-Connecting-IP': freshIp(), Host: 'evil.example' },
    );
    expect(res.status).toBe(201);
    const mail = await latestMail(email);
    expect(mail.link!.startsWith(`${env.PUBLIC_BASE_URL}/`)).toBe(true);
  });
});

describe('without PUBLIC_BASE_URL outside development', () => {
  it('refuses to send mail (503) and creates nothing, whatever the Host', async () => {
    const email = freshEmail('nobase');
    const ctx = createExecutionContext();
    const res = await createApp().fetch(
      new Request('https://evil.example/v1/agent/signup', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': freshIp() },
        body: JSON.stringify({ human_email: email, agent_name: 'nobase-bot' }),
      }),
      // ENVIRONMENT stays 'test' (not development), so only the missing base URL can refuse.
      { ...env, PUBLIC_BASE_URL: undefined },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe('EMAIL_NOT_CONFIGURED');
    await expect(latestMail(email)).rejects.toThrow(/no mail/);
  });
});

describe('parallel key rotations', () => {
  it('every key answered is the live one; the losers get 409', async () => {
    const account = await makeAccount();
    const agent = await api('POST', '/v1/agents', account.adminKey, { name: 'rotated-in-parallel' });
    const results = await Promise.all(
      Array.from({ length: 6 }, () => api('POST', `/v1/agents/${agent.body.id}/rotate-key`, account.adminKey)),
    );
    const won = results.filter((r) => r.status === 200);
    expect(won.length).toBeGreaterThanOrEqual(1);
    for (const r of results.filter((r) => r.status !== 200)) expect(r.body.code).toBe('KEY_ROTATION_CONFLICT');
    // Only the last rotation to commit can be live: every 200 must hand out a working key.
    const working = await Promise.all(won.map((r) => api('GET', '/v1/agent/me', r.body.api_key)));
    expect(working.map((r) => r.status)).toEqual(won.map(() => 200));
  });
});
