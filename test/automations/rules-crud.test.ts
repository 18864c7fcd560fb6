/** /v1/automations as the MCP tools call it: admin-only CRUD, a closed vocabulary, other accounts' rules invisible. */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createAutomation } from '../../src/automations/store';
import { authenticate } from '../../src/access/authentication';
import { principalCache } from '../../src/access/key-gate';
import { api, db, makeAccount, makeAgent } from '../helpers/fixtures';
import { makeRule } from './helpers';

describe('automation rules CRUD', () => {
  it('creates, lists, replaces and deletes a rule, with counters in every answer', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const res = await api('POST', '/v1/automations', acct.adminKey, {
      name: 'Route bugs',
      event: 'task.created',
      conditions: [{ field: 'label', op: 'has', value: 'bug' }],
      actions: [
        { type: 'assign', agent_id: worker.id },
        { type: 'set_priority', priority: 3 },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Route bugs',
      event: 'task.created',
      conditions: [{ field: 'label', op: 'has', value: 'bug' }],
      actions: [
        { type: 'assign', agent_id: worker.id },
        { type: 'set_priority', priority: 3 },
      ],
      active: true,
      run_count: 0,
      failure_count: 0,
      last_run_at: null,
    });
    const id = res.body.id;
    expect(id).toMatch(/^aut_/);

    const listed = await api('GET', '/v1/automations', acct.adminKey);
    expect(listed.body.map((r: any) => r.id)).toEqual([id]);

    const put = await api('PUT', `/v1/automations/${id}`, acct.adminKey, {
      conditions: [{ field: 'priority', op: 'gte', value: 2 }],
      actions: [{ type: 'add_label', label: 'triage' }],
    });
    expect(put.status).toBe(200);
    expect(put.body.conditions).toEqual([{ field: 'priority', op: 'gte', value: 2 }]);
    expect(put.body.actions).toEqual([{ type: 'add_label', label: 'triage' }]);
    expect(put.body.name).toBe('Route bugs');

    const del = await api('DELETE', `/v1/automations/${id}`, acct.adminKey);
    expect(del.body).toEqual({ deleted: true, id });
    expect((await api('GET', `/v1/automations/${id}`, acct.adminKey)).status).toBe(404);
    expect((await api('GET', `/v1/automations/${id}/runs`, acct.adminKey)).status).toBe(404);
  });

  it('is admin-only', async () => {
    const acct = await makeAccount();
    for (const role of ['worker', 'coordinator'] as const) {
      const agent = await makeAgent(acct, role);
      const res = await api('POST', '/v1/automations', agent.key, {
        name: 'x',
        event: 'task.created',
        actions: [{ type: 'add_label', label: 'x' }],
      });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('INSUFFICIENT_ROLE');
      expect((await api('GET', '/v1/automations', agent.key)).status).toBe(403);
    }
    expect((await api('GET', '/v1/automations', acct.adminKey)).body).toEqual([]);
  });

  it('refuses what is outside the vocabulary, each a 400 that creates nothing', async () => {
    const acct = await makeAccount();
    const other = await makeAccount();
    const base = { name: 'r', event: 'task.created', actions: [{ type: 'add_label', label: 'x' }] };
    const bad: [string, Record<string, unknown>][] = [
      ['unknown event', { ...base, event: 'task.exploded' }],
      ['name over 80', { ...base, name: 'n'.repeat(81) }],
      ['unknown field', { ...base, conditions: [{ field: 'content', op: 'eq', value: 'x' }] }],
      ['op that does not fit the field', { ...base, conditions: [{ field: 'label', op: 'gte', value: 'x' }] }],
      ['priority outside 1-4', { ...base, conditions: [{ field: 'priority', op: 'eq', value: 9 }] }],
      ['missing value', { ...base, conditions: [{ field: 'project_id', op: 'eq' }] }],
      ['unknown source', { ...base, conditions: [{ field: 'source', op: 'eq', value: 'email' }] }],
      ['11 conditions', { ...base, conditions: Array.from({ length: 11 }, () => ({ field: 'label', op: 'has', value: 'x' })) }],
      ['no actions', { ...base, actions: [] }],
      ['6 actions', { ...base, actions: Array.from({ length: 6 }, () => ({ type: 'add_label', label: 'x' })) }],
      ['unknown action', { ...base, actions: [{ type: 'close_task' }] }],
      ['action without what it needs', { ...base, actions: [{ type: 'assign' }] }],
      ['evidence policy other than required', { ...base, actions: [{ type: 'set_evidence_policy', policy: 'none' }] }],
      ['another account’s agent', { ...base, actions: [{ type: 'assign', agent_id: other.adminId }] }],
      ['another account’s project', { ...base, actions: [{ type: 'create_task', content: 'x', project_id: other.projectId }] }],
      ['wrong types', { ...base, actions: 'assign' }],
    ];
    for (const [why, body] of bad) {
      const res = await api('POST', '/v1/automations', acct.adminKey, body);
      expect(res.status, why).toBe(400);
      expect(res.body.error, why).toBeTruthy();
    }
    expect((await api('GET', '/v1/automations', acct.adminKey)).body).toEqual([]);
  });

  it('hides other accounts’ rules', async () => {
    const a = await makeAccount();
    const b = await makeAccount();
    const rule = await makeRule(a, { event: 'task.created', actions: [{ type: 'add_label', label: 'x' }] });
    expect((await api('GET', `/v1/automations/${rule.id}`, b.adminKey)).status).toBe(404);
    expect((await api('PUT', `/v1/automations/${rule.id}`, b.adminKey, { active: false })).status).toBe(404);
    expect((await api('DELETE', `/v1/automations/${rule.id}`, b.adminKey)).status).toBe(404);
    expect((await api('GET', `/v1/automations/${rule.id}`, a.adminKey)).body.active).toBe(true);
  });

  it('stops at the account’s limit of rules, checked by the insert itself', async () => {
    const acct = await makeAccount();
    const p = await authenticate(db(), env.KEY_PEPPER!, acct.adminKey);
    const input = { name: 'r', event: 'task.created', actions: [{ type: 'add_label' as const, label: 'x' }] };
    await Promise.all(
      [0, 1, 2].map(() =>
        createAutomation(db(), p, { cache: principalCache(env), input, maxRules: 2, now: Date.now() }).catch((e: unknown) => e),
      ),
    );
    expect((await api('GET', '/v1/automations', acct.adminKey)).body).toHaveLength(2);
    await expect(createAutomation(db(), p, { cache: principalCache(env), input, maxRules: 2, now: Date.now() })).rejects.toMatchObject({
      status: 403,
      code: 'AUTOMATION_LIMIT_REACHED',
    });
  });
});
