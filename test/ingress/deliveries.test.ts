/**
 * The public endpoint: a signed delivery makes a task in the source's pinned project and
 * assignee, a retry makes nothing new, and every kind of bad input is a clear 4xx that makes
 * nothing. The delivery log keeps outcome, hash and size, never the payload.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { receiveDelivery } from '../../src/ingress/receive';
import { database } from '../../src/db/client';
import { ApiError } from '../../src/platform/errors';
import { rateCounter } from '../../src/access/rate-limiter';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';
import { commentsOf, makeRule, ruleOf, runsOf, taskOf, until } from '../automations/helpers';
import { accountTasks, ciFailure, deliver, makeSource, nowSeconds, sha256, signature, signedDelivery } from './helpers';

describe('a signed delivery', () => {
  it('creates a task pinned to the source’s project and assignee, whatever the payload says', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const project = (await api('POST', '/v1/projects', acct.adminKey, { name: 'CI' })).body;
    const source = await makeSource(acct, { default_project_id: project.id, default_assignee_agent_id: worker.id });
    const payload = ciFailure(101, { project_id: acct.projectId, assigned_to_agent_id: acct.adminId, labels: ['urgent'] });
    const body = JSON.stringify(payload);
    const res = await deliver(source.id, body, await signature(source.secret, body));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ outcome: 'created', task_id: expect.stringMatching(/^tsk_/) });
    expect(res.headers.get('X-RateLimit-Limit')).toBe('60');
    expect(Number(res.headers.get('X-RateLimit-Remaining'))).toBe(59);

    const task = await taskOf(acct, res.body.task_id);
    expect(task).toMatchObject({
      content: 'CI failed: test on main',
      description: 'Run 101 concluded failure',
      priority: 3,
      project_id: project.id,
      assigned_to_agent_id: worker.id,
      source_ingress_id: source.id,
      created_by_agent_id: acct.adminId,
    });
    expect(task.labels.sort()).toEqual(['ci', 'ingress']);

    const log = (await api('GET', `/v1/ingress-sources/${source.id}/deliveries`, acct.adminKey)).body;
    expect(log).toEqual([
      {
        id: res.body.delivery_id,
        source_id: source.id,
        outcome: 'created',
        status_code: 201,
        body_sha256: await sha256(body),
        body_bytes: body.length,
        task_id: task.id,
        created_at: expect.any(String),
      },
    ]);
    const counted = (await api('GET', `/v1/ingress-sources/${source.id}`, acct.adminKey)).body;
    expect(counted.delivery_count).toBe(1);
    expect(counted.last_delivery_at).toBeTruthy();
  });

  it('makes nothing new for a retried delivery (same dedupe key, signed anew), nor for the same body without a dedupe key', async () => {
    const acct = await makeAccount();
    const keyed = await makeSource(acct);
    const first = await signedDelivery(keyed, ciFailure(7));
    // The sender retries a moment later: new timestamp and signature, same run id.
    const body = JSON.stringify(ciFailure(7, { attempt: 2 }));
    const retry = await deliver(keyed.id, body, await signature(keyed.secret, body, nowSeconds() - 1));
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ outcome: 'duplicate', task_id: first.body.task_id });

    const unkeyed = await makeSource(acct, { template: { content: 'Alert {{alert}}' } });
    const alert = JSON.stringify({ alert: 'disk full' });
    expect((await deliver(unkeyed.id, alert, await signature(unkeyed.secret, alert))).status).toBe(201);
    const again = await deliver(unkeyed.id, alert, await signature(unkeyed.secret, alert, nowSeconds() - 30));
    expect(again.body.outcome).toBe('duplicate');
    expect(await accountTasks(acct)).toHaveLength(2);
    const outcomes = (await api('GET', `/v1/ingress-sources/${keyed.id}/deliveries`, acct.adminKey)).body.map((d: any) => d.outcome);
    expect(outcomes).toEqual(['duplicate', 'created']);
  });

  it('applies the filters: a payload that fails one is logged as filtered and makes nothing', async () => {
    const acct = await makeAccount();
    const source = await makeSource(acct, {
      filters: [
        { path: 'workflow.conclusion', op: 'eq', value: 'failure' },
        { path: 'branch', op: 'neq', value: 'scratch' },
        { path: 'run.id', op: 'exists' },
        { path: 'skip', op: 'not_exists' },
      ],
    });
    for (const [i, payload] of [
      ciFailure(1, { workflow: { name: 'test', conclusion: 'success' } }),
      ciFailure(2, { branch: 'scratch' }),
      { workflow: { name: 'test', conclusion: 'failure' }, branch: 'main' },
      ciFailure(4, { skip: true }),
    ].entries()) {
      const res = await signedDelivery(source, payload);
      expect(res.status, `payload ${i}`).toBe(202);
      expect(res.body).toMatchObject({ outcome: 'filtered', task_id: null });
    }
    expect(await accountTasks(acct)).toHaveLength(0);
    expect((await signedDelivery(source, ciFailure(5))).status).toBe(201);
  });
});

describe('bad deliveries', () => {
  it('are each a clear 4xx that creates nothing', async () => {
    const acct = await makeAccount();
    const source = await makeSource(acct);
    const paused = await makeSource(acct, { active: false });
    const body = JSON.stringify(ciFailure(9));
    const replayed = await signature(source.secret, body);
    expect((await deliver(source.id, body, replayed)).status).toBe(201);
    const tasksBefore = (await accountTasks(acct)).length;

    const cases: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
      ['unsigned', () => deliver(source.id, JSON.stringify(ciFailure(10)), null), 401, 'INGRESS_SIGNATURE_MISSING'],
      ['malformed signature', () => deliver(source.id, JSON.stringify(ciFailure(10)), 'sha256=abc'), 401, 'INGRESS_SIGNATURE_MALFORMED'],
      [
        'wrong secret',
        async () => deliver(source.id, JSON.stringify(ciFailure(10)), await signature('ingsec_wrong', JSON.stringify(ciFailure(10)))),
        401,
        'INGRESS_SIGNATURE_INVALID',
      ],
      [
        'body changed after signing',
        async () => deliver(source.id, JSON.stringify(ciFailure(11)), await signature(source.secret, JSON.stringify(ciFailure(10)))),
        401,
        'INGRESS_SIGNATURE_INVALID',
      ],
      [
        'stale (6 minutes old)',
        async () =>
          deliver(
            source.id,
            JSON.stringify(ciFailure(10)),
            await signature(source.secret, JSON.stringify(ciFailure(10)), nowSeconds() - 360),
          ),
        401,
        'INGRESS_SIGNATURE_STALE',
      ],
      [
        'from the future',
        async () =>
          deliver(
            source.id,
            JSON.stringify(ciFailure(10)),
            await signature(source.secret, JSON.stringify(ciFailure(10)), nowSeconds() + 360),
          ),
        401,
        'INGRESS_SIGNATURE_STALE',
      ],
      ['replayed', () => deliver(source.id, body, replayed), 409, 'INGRESS_REPLAYED'],
      [
        'non-JSON',
        async () => deliver(source.id, 'workflow=failed', await signature(source.secret, 'workflow=failed')),
        400,
        'INGRESS_BODY_NOT_JSON',
      ],
      ['a JSON scalar', async () => deliver(source.id, '42', await signature(source.secret, '42')), 400, 'INGRESS_BODY_NOT_JSON'],
      [
        'missing template path',
        async () => signedDelivery(source, { workflow: { name: 'test' }, run: { id: 12 } }),
        422,
        'INGRESS_TEMPLATE_PATH_MISSING',
      ],
      [
        'object where a primitive goes',
        async () => signedDelivery(source, ciFailure(13, { branch: { name: 'main' } })),
        422,
        'INGRESS_TEMPLATE_PATH_MISSING',
      ],
      ['paused source', async () => signedDelivery(paused, ciFailure(14)), 409, 'INGRESS_SOURCE_PAUSED'],
      [
        'unknown source',
        async () => signedDelivery({ id: 'ing_doesnotexist', secret: source.secret }, ciFailure(15)),
        404,
        'INGRESS_SOURCE_NOT_FOUND',
      ],
      [
        'oversized',
        async () => {
          const big = JSON.stringify({ ...ciFailure(16), pad: 'x'.repeat(70_000) });
          return deliver(source.id, big, await signature(source.secret, big));
        },
        413,
        'PAYLOAD_TOO_LARGE',
      ],
    ];
    for (const [why, send, status, code] of cases) {
      const res = await send();
      expect(res.status, why).toBe(status);
      expect(res.body.code, why).toBe(code);
      expect(res.body.error, why).toBeTruthy();
    }
    expect(await accountTasks(acct)).toHaveLength(tasksBefore);
    const holes = JSON.stringify({ workflow: { name: 'test' }, run: { id: 12 } });
    const missing = await deliver(source.id, holes, await signature(source.secret, holes, nowSeconds() - 100));
    expect(missing.body.details.map((d: any) => d.field)).toEqual(['template.content', 'template.description']);
    // The log records refusals (a known source's), never payloads.
    const log = (await api('GET', `/v1/ingress-sources/${source.id}/deliveries?limit=100`, acct.adminKey)).body;
    expect(log.map((d: any) => d.outcome)).toContain('ingress_signature_missing');
    expect(JSON.stringify(log)).not.toContain('workflow');
  });

  it('limits deliveries per source, with the usual headers', async () => {
    const acct = await makeAccount();
    const source = await makeSource(acct);
    const deps = {
      db: database(env.DB),
      env: { ...env, LIMIT_INGRESS_RATE_PER_MINUTE: '2' },
      ctx: { waitUntil: () => {} },
      rate: rateCounter(env),
      now: Date.now(),
    };
    const send = async (run: number) => {
      const body = JSON.stringify(ciFailure(run));
      return receiveDelivery(deps, {
        sourceId: source.id,
        signature: await signature(source.secret, body),
        body: new TextEncoder().encode(body),
      });
    };
    expect((await send(1)).headers['X-RateLimit-Remaining']).toBe('1');
    expect((await send(2)).headers['X-RateLimit-Remaining']).toBe('0');
    const refused = await send(3).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(429);
    expect((refused as ApiError).headers).toMatchObject({
      'X-RateLimit-Limit': '2',
      'X-RateLimit-Remaining': '0',
      'Retry-After': expect.any(String),
    });
    expect(await accountTasks(acct)).toHaveLength(2);
  });
});

describe('a flood of unverified deliveries', () => {
  it('never uses up the genuine sender’s minute: only verified, new deliveries count against it', async () => {
    const acct = await makeAccount();
    const source = await makeSource(acct);
    const body = JSON.stringify(ciFailure(7));
    const forged = await signature('not-the-secret', body);
    // More than the source's 60 a minute, unsigned, forged and malformed, from anyone who knows the id.
    const statuses: number[] = [];
    for (let i = 0; i < 70; i++) {
      const sig = [null, forged, 't=1,v1=zz'][i % 3]!;
      statuses.push((await deliver(source.id, body, sig)).status);
    }
    expect(new Set(statuses)).toEqual(new Set([401, 429]));
    // Their own smaller minute (20), worked off in at most two windows if the minute turns mid-flood.
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(40);
    const flooded = await deliver(source.id, body, null);
    expect(flooded.status).toBe(429);
    expect(flooded.body.error).toMatch(/unsigned, badly signed or replayed/);

    const genuine = await deliver(source.id, body, await signature(source.secret, body));
    expect(genuine.status, JSON.stringify(genuine.body)).toBe(201);
    expect(genuine.headers.get('X-RateLimit-Limit')).toBe('60');
    expect(genuine.headers.get('X-RateLimit-Remaining')).toBe('59');
    // Past their limit, refused deliveries are not even logged.
    const log = (await api('GET', `/v1/ingress-sources/${source.id}/deliveries?limit=100`, acct.adminKey)).body;
    expect(log.filter((d: any) => d.status_code === 401).length).toBe(statuses.filter((s) => s === 401).length);
    expect(await accountTasks(acct)).toHaveLength(1);
  });
});

describe('deliveries the account cannot take', () => {
  it('count against the monthly quota (402), and a pinned assignee gone since is a 409; both logged, nothing created', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const source = await makeSource(acct);
    const pinned = await makeSource(acct, { default_assignee_agent_id: worker.id });
    const deps = (limits: Record<string, string>) => ({
      db: database(env.DB),
      env: { ...env, ...limits },
      ctx: { waitUntil: () => {} },
      rate: rateCounter(env),
      now: Date.now(),
    });
    const send = async (src: { id: string; secret: string }, run: number, limits: Record<string, string> = {}) => {
      const body = JSON.stringify(ciFailure(run));
      return receiveDelivery(deps(limits), {
        sourceId: src.id,
        signature: await signature(src.secret, body),
        body: new TextEncoder().encode(body),
      }).catch((e: unknown) => e as ApiError);
    };
    expect(await send(source, 1, { LIMIT_TASKS_PER_MONTH: '1' })).toMatchObject({ status: 201 });
    expect(await send(source, 2, { LIMIT_TASKS_PER_MONTH: '1' })).toMatchObject({ status: 402, code: 'TASK_QUOTA_EXCEEDED' });

    // Deactivated (a pinned agent cannot be deleted while the source names it).
    expect((await api('PUT', `/v1/agents/${worker.id}`, acct.adminKey, { active: false })).status).toBe(200);
    expect(await send(pinned, 3)).toMatchObject({ status: 409, code: 'INGRESS_PIN_INVALID' });
    expect(await accountTasks(acct)).toHaveLength(1);
    const outcomes = async (id: string) =>
      (await api('GET', `/v1/ingress-sources/${id}/deliveries`, acct.adminKey)).body.map((d: any) => [d.outcome, d.status_code]);
    expect(await outcomes(source.id)).toEqual([
      ['task_quota_exceeded', 402],
      ['created', 201],
    ]);
    expect(await outcomes(pinned.id)).toEqual([['ingress_pin_invalid', 409]]);
  });
});

describe('ingress tasks and automations', () => {
  it('rules ignore ingress tasks unless they opt in with source eq ingress; tasks they make keep the provenance', async () => {
    const acct = await makeAccount();
    const everyTask = await makeRule(acct, { event: 'task.created', actions: [{ type: 'add_label', label: 'seen-by-all' }] });
    const triage = await makeRule(acct, {
      event: 'task.created',
      conditions: [
        { field: 'source', op: 'eq', value: 'ingress' },
        { field: 'label', op: 'has', value: 'ci' },
      ],
      actions: [
        { type: 'add_comment', content: 'Triage {{task.content}}' },
        { type: 'create_task', content: 'Investigate: {{task.content}}' },
      ],
    });
    // Opts in too, without a label condition: it sees the task triage makes, so its run marks that event handled.
    const watcher = await makeRule(acct, {
      event: 'task.created',
      conditions: [{ field: 'source', op: 'eq', value: 'ingress' }],
      actions: [{ type: 'add_label', label: 'watched' }],
    });
    const res = await signedDelivery(await makeSource(acct), ciFailure(77));
    expect(res.status).toBe(201);
    const ingressTaskId = res.body.task_id;

    await until(async () => (await runsOf(acct, watcher.id)).length >= 2);
    expect((await commentsOf(acct, ingressTaskId)).map((c) => c.content)).toEqual(['Triage CI failed: test on main']);
    const made = (await accountTasks(acct)).find((t) => t.content === 'Investigate: CI failed: test on main');
    expect(made).toMatchObject({ source_ingress_id: expect.stringMatching(/^ing_/) });
    expect(made.labels).toContain('ingress');
    expect(made.labels).toContain('watched');
    expect((await taskOf(acct, ingressTaskId)).labels).not.toContain('seen-by-all');
    expect(await ruleOf(acct, everyTask.id)).toMatchObject({ run_count: 0 });
    expect(await ruleOf(acct, triage.id)).toMatchObject({ run_count: 1 });
  });
});
