import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, makeAccount } from '../helpers/fixtures';
import { freshEmail, freshIp, mailCount } from '../helpers/onboarding';

const withKey = (key: string) => ({ 'Idempotency-Key': key });

describe('Idempotency-Key', () => {
  it('replays the first answer for a retry and creates nothing twice', async () => {
    const account = await makeAccount();
    const first = await api('POST', '/v1/projects', account.adminKey, { name: 'Once' }, withKey('create-once'));
    const retry = await api('POST', '/v1/projects', account.adminKey, { name: 'Once' }, withKey('create-once'));
    const viaApi = await api('POST', '/api/projects', account.adminKey, { name: 'Once' }, withKey('create-once'));
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('Idempotent-Replayed')).toBe('true');
    expect(viaApi.body).toEqual(first.body);
    const names = (await api('GET', '/v1/projects', account.adminKey)).body.map((p: { name: string }) => p.name);
    expect(names.filter((n: string) => n === 'Once')).toHaveLength(1);
  });

  it('refuses the same key with another body (422) and changes nothing', async () => {
    const account = await makeAccount();
    await api('POST', '/v1/projects', account.adminKey, { name: 'A' }, withKey('k1'));
    const reused = await api('POST', '/v1/projects', account.adminKey, { name: 'B' }, withKey('k1'));
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const names = (await api('GET', '/v1/projects', account.adminKey)).body.map((p: { name: string }) => p.name);
    expect(names).not.toContain('B');
  });

  it('runs two concurrent requests with one key once', async () => {
    const account = await makeAccount();
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => api('POST', '/v1/projects', account.adminKey, { name: 'Race' }, withKey('race'))),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses).toContain(201);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.code).toBe('IDEMPOTENCY_IN_PROGRESS');
    const created = answers.filter((a) => a.status === 201).map((a) => a.body.id);
    expect(new Set(created).size).toBe(1);
    const names = (await api('GET', '/v1/projects', account.adminKey)).body.map((p: { name: string }) => p.name);
    expect(names.filter((n: string) => n === 'Race')).toHaveLength(1);
  });

  it('keys are scoped per agent, and a stored 4xx is replayed too', async () => {
    const a = await makeAccount();
    const b = await makeAccount();
    const one = await api('POST', '/v1/projects', a.adminKey, { name: 'Same' }, withKey('shared'));
    const two = await api('POST', '/v1/projects', b.adminKey, { name: 'Same' }, withKey('shared'));
    expect(one.status).toBe(201);
    expect(two.status).toBe(201);
    expect(two.body.id).not.toBe(one.body.id);

    const bad = await api('POST', '/v1/projects', a.adminKey, { name: '' }, withKey('bad'));
    const badAgain = await api('POST', '/v1/projects', a.adminKey, { name: '' }, withKey('bad'));
    expect(bad.status).toBe(400);
    expect(badAgain.status).toBe(400);
    expect(badAgain.headers.get('Idempotent-Replayed')).toBe('true');
  });

  it('rejects a malformed key', async () => {
    const account = await makeAccount();
    const res = await api('POST', '/v1/projects', account.adminKey, { name: 'x' }, withKey('x'.repeat(256)));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_IDEMPOTENCY_KEY');
  });

  it('stores no secret in the clear: a replayed agent key is sealed in D1', async () => {
    const account = await makeAccount();
    const first = await api('POST', '/v1/agents', account.adminKey, { name: 'sealed-bot' }, withKey('agent-once'));
    const retry = await api('POST', '/v1/agents', account.adminKey, { name: 'sealed-bot' }, withKey('agent-once'));
    expect(first.status).toBe(201);
    expect(retry.body.api_key).toBe(first.body.api_key);
    const stored = await env.DB.prepare('select * from idempotency_keys').all();
    const dump = JSON.stringify(stored.results);
    expect(dump).not.toContain(first.body.api_key);
    expect(dump).not.toContain('agent-once');
    expect(dump).not.toContain('sealed-bot');
  });

  it('lets a retry run when the first request died unanswered (stale after a minute)', async () => {
    const account = await makeAccount();
    const first = await api('POST', '/v1/projects', account.adminKey, { name: 'Orphan' }, withKey('orphan'));
    expect(first.status).toBe(201);
    // As if the isolate died before storing the answer: the key is held with no answer.
    await env.DB.prepare('update idempotency_keys set status = null, body = null, created_at = ?1')
      .bind(new Date(Date.now() - 30_000).toISOString().replace(/\.\d{3}Z$/, 'Z'))
      .run();
    const soon = await api('POST', '/v1/projects', account.adminKey, { name: 'Orphan' }, withKey('orphan'));
    expect(soon.status).toBe(409);
    expect(soon.body.code).toBe('IDEMPOTENCY_IN_PROGRESS');
    await env.DB.prepare('update idempotency_keys set created_at = ?1')
      .bind(new Date(Date.now() - 120_000).toISOString().replace(/\.\d{3}Z$/, 'Z'))
      .run();
    const later = await api('POST', '/v1/projects', account.adminKey, { name: 'Orphan' }, withKey('orphan'));
    expect(later.status).toBe(201);
    const replay = await api('POST', '/v1/projects', account.adminKey, { name: 'Orphan' }, withKey('orphan'));
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true');
    expect(replay.body.id).toBe(later.body.id);
  });
});

describe('Idempotency-Key on the public routes (signup, claim, recovery)', () => {
  it('a retried agent signup creates nothing twice, and its key is never replayed: one account, one key, one claim email', async () => {
    const email = freshEmail('retry');
    const body = { human_email: email, agent_name: 'retry-bot' };
    const ip = freshIp();
    const first = await api('POST', '/v1/agent/signup', null, body, { 'CF-Connecting-IP': ip, ...withKey('signup-once') });
    // Anyone can send the same key and body, so the answer holding the key is withheld.
    const retry = await api('POST', '/v1/agent/signup', null, body, { 'CF-Connecting-IP': freshIp(), ...withKey('signup-once') });
    expect(first.status).toBe(201);
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe('IDEMPOTENT_ANSWER_WITHHELD');
    expect(retry.headers.get('Idempotent-Replayed')).toBe('true');
    expect(JSON.stringify(retry.body)).not.toContain(first.body.api_key);
    expect(await mailCount(email)).toBe(1);
    // The key works, and the stored answer does not hold it in the clear.
    expect((await api('GET', '/v1/agent/me', first.body.api_key)).status).toBe(200);
    const dump = JSON.stringify((await env.DB.prepare('select * from idempotency_keys').all()).results);
    expect(dump).not.toContain(first.body.api_key);
    expect(dump).not.toContain('signup-once');
  });

  it('the same key with another body is a 422 and creates nothing', async () => {
    const email = freshEmail('reuse');
    const first = await anonWithKey('POST', '/v1/agent/signup', { human_email: email, agent_name: 'one-bot' }, 'signup-reused');
    expect(first.status).toBe(201);
    const other = freshEmail('reuse-other');
    const reused = await anonWithKey('POST', '/v1/agent/signup', { human_email: other, agent_name: 'two-bot' }, 'signup-reused');
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await mailCount(other)).toBe(0);
  });

  it('public and authenticated scopes never meet: an agent reusing a signup key runs its own request', async () => {
    const account = await makeAccount();
    const signup = await anonWithKey(
      'POST',
      '/v1/agent/signup',
      { human_email: freshEmail('scope'), agent_name: 'scope-bot' },
      'shared-scope',
    );
    const project = await api('POST', '/v1/projects', account.adminKey, { name: 'Scoped' }, withKey('shared-scope'));
    expect(signup.status).toBe(201);
    expect(project.status).toBe(201);
    expect(project.body.name).toBe('Scoped');
  });

  it('a refused request is replayed as refused', async () => {
    const bad = await anonWithKey('POST', '/v1/agent/signup', { human_email: 'not-an-email', agent_name: 'x' }, 'bad-signup');
    const badAgain = await anonWithKey('POST', '/v1/agent/signup', { human_email: 'not-an-email', agent_name: 'x' }, 'bad-signup');
    expect(bad.status).toBe(400);
    expect(badAgain.status).toBe(400);
    expect(badAgain.headers.get('Idempotent-Replayed')).toBe('true');
  });

  it('the OpenAPI document offers the header, 409 and 422 on every write, and on no read', async () => {
    const doc = (await api('GET', '/v1/openapi.json')).body as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, unknown> }>>;
    };
    let writes = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      // Signed ingress deliveries are made idempotent by the source's dedupe key instead.
      if (path === '/v1/ingress/{sourceId}') continue;
      for (const [method, op] of Object.entries(item)) {
        const header = (op.parameters ?? []).some((p) => p.in === 'header' && p.name === 'Idempotency-Key');
        if (['post', 'put', 'patch', 'delete'].includes(method)) {
          writes++;
          expect(header, `${method} ${path}`).toBe(true);
          expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['409', '422']));
        } else {
          expect(header, `${method} ${path}`).toBe(false);
        }
      }
    }
    expect(writes).toBeGreaterThan(30);
  });
});

function anonWithKey(method: string, path: string, body: unknown, key: string) {
  return api(method, path, null, body, { 'CF-Connecting-IP': freshIp(), ...withKey(key) });
}
