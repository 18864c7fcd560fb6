import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { limit } from '../../src/platform/config';
import { api } from '../helpers/fixtures';
import { agentFirst, anon, freshEmail, freshIp, mailCount } from '../helpers/onboarding';

afterEach(() => vi.useRealTimers());

const perMinute = limit(env, 'ONBOARDING_RATE_PER_MINUTE');
const perHour = limit(env, 'EMAILS_PER_HOUR');

/** Pins the clock to the start of a minute, so a test's window cannot roll over mid-way. */
function pinToMinute() {
  vi.useFakeTimers({ toFake: ['Date'] });
  const start = Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
  vi.setSystemTime(start);
  return start;
}

describe('onboarding rate limits', () => {
  it('limits each IP per minute with 429 and Retry-After; other IPs and the next minute are unaffected', async () => {
    const start = pinToMinute();
    const ip = freshIp();
    for (let i = 0; i < perMinute; i++) {
      const res = await anon('POST', '/v1/resend-verification', { email: freshEmail('rl') }, ip);
      expect(res.status).toBe(200);
    }
    vi.setSystemTime(start + 15_000);
    const over = await anon('POST', '/v1/verify', { email: freshEmail('rl'), code: '123456' }, ip);
    expect(over.status).toBe(429);
    expect(over.body).toEqual({ error: expect.stringContaining('Too many requests'), code: 'RATE_LIMITED', retry_after: 45 });
    expect(over.headers.get('Retry-After')).toBe('45');

    expect((await anon('POST', '/v1/resend-verification', { email: freshEmail('rl') })).status).toBe(200);
    vi.setSystemTime(start + 60_000);
    expect((await anon('POST', '/v1/resend-verification', { email: freshEmail('rl') }, ip)).status).toBe(200);
  });

  it('limits signups per IP too', async () => {
    pinToMinute();
    const ip = freshIp();
    const answers = [];
    for (let i = 0; i <= perMinute; i++)
      answers.push(await anon('POST', '/v1/agent/signup', { human_email: freshEmail('h'), agent_name: 'rate-bot' }, ip));
    expect(answers.slice(0, perMinute).every((a) => a.status === 201)).toBe(true);
    expect(answers[perMinute]!.status).toBe(429);
  });

  it('limits emails per address per hour, for known and unknown addresses alike', async () => {
    pinToMinute();
    const known = freshEmail('known');
    expect((await anon('POST', '/v1/signup', { email: known })).status).toBe(201);
    const ghost = freshEmail('ghost');
    const knownAnswers = [];
    const ghostAnswers = [];
    for (let i = 0; i < perHour; i++) {
      knownAnswers.push(await anon('POST', '/v1/resend-verification', { email: known }));
      ghostAnswers.push(await anon('POST', '/v1/resend-verification', { email: ghost }));
    }
    // Signup itself sent the first email, so the known address hits the limit one call earlier.
    expect(knownAnswers.map((a) => a.status)).toEqual([...Array(perHour - 1).fill(200), 429]);
    expect(ghostAnswers.map((a) => a.status)).toEqual(Array(perHour).fill(200));
    expect((await anon('POST', '/v1/resend-verification', { email: ghost })).status).toBe(429);
    expect(await mailCount(known)).toBe(perHour);
    expect(await mailCount(ghost)).toBe(0);
    const last = knownAnswers[perHour - 1]!;
    expect(Number(last.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(Number(last.headers.get('Retry-After'))).toBeLessThanOrEqual(3600);
  });

  it('limits code guesses per address, whatever the IP', async () => {
    pinToMinute();
    const email = freshEmail('guess');
    const answers = [];
    for (let i = 0; i <= perMinute; i++) answers.push(await anon('POST', '/v1/verify', { email, code: '000000' }));
    expect(answers.slice(0, perMinute).every((a) => a.status === 400)).toBe(true);
    expect(answers[perMinute]!.status).toBe(429);
  });

  it('limits claim emails resent by a restricted key', async () => {
    pinToMinute();
    const { key, email } = await agentFirst();
    const answers = [];
    for (let i = 0; i < perHour; i++) answers.push(await api('POST', '/v1/agent/claim/resend', key));
    expect(answers.map((a) => a.status)).toEqual([...Array(perHour - 1).fill(200), 429]);
    expect(await mailCount(email)).toBe(perHour);
  });
});
