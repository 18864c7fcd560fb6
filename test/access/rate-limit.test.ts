import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RateLimiter } from '../../src/access/rate-limiter';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';

afterEach(() => vi.useRealTimers());

describe('rate limits per key', () => {
  it('every authenticated answer carries X-RateLimit-* and counts down', async () => {
    const account = await makeAccount();
    const first = await api('GET', '/v1/capabilities', account.adminKey);
    const second = await api('GET', '/v1/projects', account.adminKey);
    const limit = Number(env.LIMIT_RATE_PER_MINUTE);
    expect(first.headers.get('X-RateLimit-Limit')).toBe(String(limit));
    expect(Number(first.headers.get('X-RateLimit-Remaining'))).toBe(limit - 1);
    expect(Number(second.headers.get('X-RateLimit-Remaining'))).toBe(limit - 2);
    const reset = Number(first.headers.get('X-RateLimit-Reset'));
    expect(reset).toBeGreaterThan(Date.now() / 1000);
    expect(reset).toBeLessThanOrEqual(Date.now() / 1000 + 60);
    // Error answers carry them too.
    const missing = await api('GET', '/v1/agents/agt_missing', account.adminKey);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('X-RateLimit-Remaining')).toBe(String(limit - 3));
    // And so do refusals of the authorisation table.
    const worker = await makeAgent(account, 'worker');
    const refused = await api('POST', '/v1/webhooks', worker.key, { url: 'https://hooks.example.com/x', events: ['task.created'] });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('X-RateLimit-Remaining')).toBe(String(limit - 1));
  });

  it('answers 429 with Retry-After past the limit, per key, and resets with the next window', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-03-01T10:00:05Z'));
    const account = await makeAccount();
    const other = await makeAgent(account, 'worker');
    const limit = Number(env.LIMIT_RATE_PER_MINUTE);
    const batch = 50;
    // makeAgent spent one request of the admin key's window.
    for (let sent = 1; sent < limit; sent += batch) {
      const answers = await Promise.all(
        Array.from({ length: Math.min(batch, limit - sent) }, () => api('GET', '/v1/capabilities', account.adminKey)),
      );
      expect(
        answers
          .filter((a) => a.status !== 200)
          .map((a) => `${a.status} ${JSON.stringify(a.body)}`)
          .slice(0, 3),
      ).toEqual([]);
    }
    const over = await api('GET', '/v1/capabilities', account.adminKey);
    expect(over.status).toBe(429);
    expect(over.body).toEqual({ error: expect.stringContaining('Rate limit'), code: 'RATE_LIMITED' });
    expect(over.headers.get('Retry-After')).toBe('55');
    expect(over.headers.get('X-RateLimit-Remaining')).toBe('0');
    // Another key of the same account is unaffected.
    expect((await api('GET', '/v1/capabilities', other.key)).status).toBe(200);

    vi.setSystemTime(new Date('2026-03-01T10:01:00Z'));
    const next = await api('GET', '/v1/capabilities', account.adminKey);
    expect(next.status).toBe(200);
    expect(next.headers.get('X-RateLimit-Remaining')).toBe(String(limit - 1));
  });

  it('too many failed authentications from one address answer 429; valid keys and other addresses are unaffected', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-03-01T11:00:10Z'));
    const account = await makeAccount();
    const ip = `203.0.113.${Math.floor(Math.random() * 250)}`;
    const limit = Number(env.LIMIT_AUTH_FAILURES_PER_MINUTE);
    const bad = (i: number) =>
      api('GET', '/v1/capabilities', `dlg_${'x'.repeat(30)}${String(i).padStart(10, '0')}`, undefined, { 'CF-Connecting-IP': ip });
    for (let sent = 0; sent < limit; sent += 50) {
      const answers = await Promise.all(Array.from({ length: Math.min(50, limit - sent) }, (_, i) => bad(sent + i)));
      expect(
        answers
          .filter((a) => a.status !== 401)
          .map((a) => a.status)
          .slice(0, 3),
      ).toEqual([]);
    }
    const over = await bad(limit);
    expect(over.status).toBe(429);
    expect(over.body).toEqual({ error: expect.stringContaining('invalid API key'), code: 'TOO_MANY_FAILED_AUTHENTICATIONS' });
    expect(over.headers.get('Retry-After')).toBe('50');
    // A missing key counts too; a valid key from the same address still works.
    expect((await api('GET', '/v1/capabilities', null, undefined, { 'CF-Connecting-IP': ip })).status).toBe(429);
    expect((await api('GET', '/v1/capabilities', account.adminKey, undefined, { 'CF-Connecting-IP': ip })).status).toBe(200);
    // Another address is unaffected, and the window ends.
    expect((await api('GET', '/v1/capabilities', `dlg_${'y'.repeat(40)}`, undefined, { 'CF-Connecting-IP': `${ip}9` })).status).toBe(401);
    vi.setSystemTime(new Date('2026-03-01T11:01:00Z'));
    expect((await bad(0)).status).toBe(401);
  });

  it('unauthenticated onboarding answers carry the per-IP limit headers', async () => {
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}`;
    const first = await api('POST', '/v1/resend-verification', null, { email: 'nobody@example.com' }, { 'CF-Connecting-IP': ip });
    const second = await api('POST', '/v1/recover', null, { email: 'nobody@example.com' }, { 'CF-Connecting-IP': ip });
    const limit = Number(env.LIMIT_ONBOARDING_RATE_PER_MINUTE ?? 10);
    expect(first.status).toBe(200);
    expect(first.headers.get('X-RateLimit-Limit')).toBe(String(limit));
    expect(first.headers.get('X-RateLimit-Remaining')).toBe(String(limit - 1));
    expect(second.headers.get('X-RateLimit-Remaining')).toBe(String(limit - 2));
  });

  it('a refused request does not count and changes nothing', async () => {
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName('unit-subject'));
    const t = Date.parse('2026-03-01T10:00:00Z');
    const decisions = await runInDurableObject(stub, (limiter: RateLimiter) => [1, 2, 3, 4].map(() => limiter.hit(3, 60, t)));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0, 0]);
    const later = await runInDurableObject(stub, (limiter: RateLimiter) => limiter.hit(3, 60, t + 60_000));
    expect(later).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('checkpoints counts to storage, so an evicted object resumes its window exactly', async () => {
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName('checkpoint-subject'));
    const t = Date.parse('2026-03-01T10:00:00Z');
    await runInDurableObject(stub, (limiter: RateLimiter) => [1, 2, 3].forEach(() => limiter.hit(5, 60, t)));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const stored = await runInDurableObject(stub, (_limiter: RateLimiter, state) => state.storage.kv.get('w'));
    expect(stored).toEqual({ window: Math.floor(t / 60_000), count: 3 });
    // A fresh instance (memory gone, as after eviction) reads the checkpoint.
    await evictDurableObject(stub);
    const afterEviction = await runInDurableObject(stub, (limiter: RateLimiter) => limiter.hit(5, 60, t));
    expect(afterEviction).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('a key that calls now and then is written at once, with no alarm (a parked claimer every 30 s costs one write)', async () => {
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName('sparse-subject'));
    const t = Date.parse('2026-03-01T10:00:00Z');
    const stored = await runInDurableObject(stub, (limiter: RateLimiter, state) => {
      limiter.hit(5, 60, t);
      return state.storage.kv.get('w');
    });
    expect(stored).toEqual({ window: Math.floor(t / 60_000), count: 1 });
    expect(await runInDurableObject(stub, (_limiter: RateLimiter, state) => state.storage.getAlarm())).toBeNull();
    expect(await runDurableObjectAlarm(stub)).toBe(false);
  });
});
