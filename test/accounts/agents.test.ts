import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { tasks } from '../../src/db/schema';
import { api, db, makeAccount, makeAgent } from '../helpers/fixtures';

describe('agents', () => {
  it('creates an agent as a least-privilege worker and shows its key only once', async () => {
    const account = await makeAccount();
    const created = await api('POST', '/v1/agents', account.adminKey, { name: 'deploy-bot', display_name: 'Deploy Bot' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'deploy-bot', display_name: 'Deploy Bot', role: 'worker', active: true, is_default: false });
    expect(created.body.id).toMatch(/^agt_/);
    expect(created.body.api_key).toMatch(/^dlg_/);

    const list = await api('GET', '/v1/agents', account.adminKey);
    expect(list.status).toBe(200);
    expect(list.body.map((a: { name: string }) => a.name)).toEqual(['admin-agent', 'deploy-bot']);
    expect(JSON.stringify(list.body)).not.toContain(created.body.api_key);
    expect(list.body.every((a: object) => !('api_key' in a))).toBe(true);

    const one = await api('GET', `/v1/agents/${created.body.id}`, account.adminKey);
    expect(one.status).toBe(200);
    expect(one.body).not.toHaveProperty('api_key');

    const mine = await api('GET', '/v1/capabilities', created.body.api_key);
    expect(mine.body).toMatchObject({ agent_id: created.body.id, role: 'worker', mode: 'full' });
  });

  it('refuses a duplicate slug with 409 and bad slugs with 400 per field', async () => {
    const account = await makeAccount();
    await makeAgent(account, 'worker', 'twin');
    const dup = await api('POST', '/v1/agents', account.adminKey, { name: 'twin' });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('AGENT_NAME_TAKEN');

    for (const name of ['ab', 'UPPER', 'has space', 'x'.repeat(33), 42, null]) {
      const res = await api('POST', '/v1/agents', account.adminKey, { name });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.details[0].field).toBe('name');
    }
    const unknownField = await api('POST', '/v1/agents', account.adminKey, { name: 'okname', scopes: ['x'] });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.details).toEqual([{ field: 'scopes', message: 'Unknown field' }]);
    const badRole = await api('POST', '/v1/agents', account.adminKey, { name: 'okname', role: 'root' });
    expect(badRole.status).toBe(400);
    expect((await api('GET', '/v1/agents', account.adminKey)).body).toHaveLength(2);
  });

  it('lets any full agent edit its own profile, only admins the rest, with PUT or PATCH', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const other = await makeAgent(account, 'worker');

    const own = await api('PATCH', `/v1/agents/${worker.id}`, worker.key, { display_name: 'Me', description: 'does things' });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ display_name: 'Me', description: 'does things' });

    const rename = await api('PUT', `/v1/agents/${worker.id}`, worker.key, { name: 'new-name' });
    expect(rename.status).toBe(403);
    expect(rename.body.code).toBe('INSUFFICIENT_ROLE');
    const promote = await api('PUT', `/v1/agents/${worker.id}`, worker.key, { role: 'admin' });
    expect(promote.status).toBe(403);
    const others = await api('PUT', `/v1/agents/${other.id}`, worker.key, { display_name: 'x' });
    expect(others.status).toBe(404);

    const byAdmin = await api('PUT', `/v1/agents/${worker.id}`, account.adminKey, { name: 'renamed', role: 'coordinator' });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body).toMatchObject({ name: 'renamed', role: 'coordinator', display_name: 'Me' });
    const caps = await api('GET', '/v1/capabilities', worker.key);
    expect(caps.body.role).toBe('coordinator');
  });

  it('rotate-key kills the old key at once and returns the new one once', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const rotated = await api('POST', `/v1/agents/${worker.id}/rotate-key`, account.adminKey);
    expect(rotated.status).toBe(200);
    expect(rotated.body.api_key).toMatch(/^dlg_/);
    expect(rotated.body.api_key).not.toBe(worker.key);
    expect((await api('GET', '/v1/capabilities', worker.key)).status).toBe(401);
    expect((await api('GET', '/v1/capabilities', rotated.body.api_key)).status).toBe(200);

    const self = await api('POST', `/v1/agents/${worker.id}/rotate-key`, rotated.body.api_key, '', { 'Content-Type': 'application/json' });
    expect(self.status).toBe(200);
    expect((await api('GET', '/v1/capabilities', rotated.body.api_key)).status).toBe(401);

    const other = await makeAgent(account, 'coordinator');
    const notMine = await api('POST', `/v1/agents/${worker.id}/rotate-key`, other.key);
    expect(notMine.status).toBe(403);
    expect((await api('GET', '/v1/capabilities', self.body.api_key)).status).toBe(200);
  });

  it('delete refuses the recovery agent, itself, and agents tasks reference; deletes the rest', async () => {
    const account = await makeAccount();
    const second = await makeAgent(account, 'admin');
    const recovery = await api('DELETE', `/v1/agents/${account.adminId}`, second.key);
    expect(recovery.status).toBe(409);
    expect(recovery.body.code).toBe('AGENT_IS_RECOVERY');
    const self = await api('DELETE', `/v1/agents/${second.id}`, second.key);
    expect(self.status).toBe(409);
    expect(self.body.code).toBe('AGENT_IS_SELF');

    const busy = await makeAgent(account, 'worker');
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await db().insert(tasks).values({
      id: 'tsk_ref1',
      accountId: account.accountId,
      rootTaskId: 'tsk_ref1',
      content: 'x',
      createdByAgentId: account.adminId,
      assignedToAgentId: busy.id,
      createdAt: now,
      updatedAt: now,
    });
    const referenced = await api('DELETE', `/v1/agents/${busy.id}`, account.adminKey);
    expect(referenced.status).toBe(409);
    expect(referenced.body.code).toBe('AGENT_REFERENCED');
    expect(referenced.body.error).toContain('assigned');

    const idle = await makeAgent(account, 'worker');
    const ok = await api('DELETE', `/v1/agents/${idle.id}`, account.adminKey);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ deleted: true, id: idle.id });
    expect((await api('GET', '/v1/capabilities', idle.key)).status).toBe(401);
    expect((await api('GET', `/v1/agents/${idle.id}`, account.adminKey)).status).toBe(404);
    await db().delete(tasks).where(eq(tasks.id, 'tsk_ref1'));
  });

  it('delete refuses an agent that recurrences, automation rules or ingress sources act as or assign to, naming them; nothing changes', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const ruleMaker = await makeAgent(account, 'admin');
    const recurrence = await api('POST', '/v1/recurrences', account.adminKey, {
      content: 'weekly report',
      rule_type: 'weekly',
      assigned_to_agent_id: worker.id,
    });
    expect(recurrence.status, JSON.stringify(recurrence.body)).toBe(201);
    const ownRecurrence = await api('POST', '/v1/recurrences', worker.key, { content: 'my standup', rule_type: 'daily' });
    expect(ownRecurrence.status).toBe(201);
    const rule = await api('POST', '/v1/automations', ruleMaker.key, {
      name: 'route bugs',
      event: 'task.created',
      actions: [{ type: 'assign', agent_id: worker.id }],
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const source = await api('POST', '/v1/ingress-sources', account.adminKey, {
      name: 'ci',
      template: { content: '{{title}}' },
      default_assignee_agent_id: worker.id,
    });
    expect(source.status, JSON.stringify(source.body)).toBe(201);

    const refused = await api('DELETE', `/v1/agents/${worker.id}`, account.adminKey);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('AGENT_REFERENCED');
    expect(refused.body.references).toEqual({
      tasks: [],
      recurrences: [recurrence.body.id, ownRecurrence.body.id].sort(),
      automations: [rule.body.id],
      ingress_sources: [source.body.id],
    });
    for (const id of [recurrence.body.id, ownRecurrence.body.id, rule.body.id, source.body.id]) expect(refused.body.error).toContain(id);
    expect(refused.body.error).toMatch(/deactivate/);
    // The rule's maker acts through it: it cannot go either.
    const maker = await api('DELETE', `/v1/agents/${ruleMaker.id}`, account.adminKey);
    expect(maker.status).toBe(409);
    expect(maker.body.references).toEqual({ tasks: [], recurrences: [], automations: [rule.body.id], ingress_sources: [] });
    // Nothing changed: the agents and their keys live.
    expect((await api('GET', '/v1/capabilities', worker.key)).status).toBe(200);
    expect((await api('GET', '/v1/capabilities', ruleMaker.key)).status).toBe(200);

    // Detached, it goes.
    expect((await api('DELETE', `/v1/recurrences/${recurrence.body.id}`, account.adminKey)).status).toBe(200);
    expect((await api('DELETE', `/v1/recurrences/${ownRecurrence.body.id}`, account.adminKey)).status).toBe(200);
    expect(
      (await api('PUT', `/v1/automations/${rule.body.id}`, account.adminKey, { actions: [{ type: 'add_label', label: 'bug' }] })).status,
    ).toBe(200);
    expect((await api('PUT', `/v1/ingress-sources/${source.body.id}`, account.adminKey, { default_assignee_agent_id: null })).status).toBe(
      200,
    );
    expect((await api('DELETE', `/v1/agents/${worker.id}`, account.adminKey)).status).toBe(200);
  });

  it('never shows or touches another account’s agents (404)', async () => {
    const mine = await makeAccount();
    const theirs = await makeAccount();
    const theirAgent = await makeAgent(theirs, 'worker');
    for (const [method, path, body] of [
      ['GET', `/v1/agents/${theirAgent.id}`, undefined],
      ['PUT', `/v1/agents/${theirAgent.id}`, { display_name: 'pwned' }],
      ['DELETE', `/v1/agents/${theirAgent.id}`, undefined],
      ['POST', `/v1/agents/${theirAgent.id}/rotate-key`, undefined],
    ] as const) {
      const res = await api(method, path, mine.adminKey, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.code).toBe('AGENT_NOT_FOUND');
    }
    expect((await api('GET', '/v1/capabilities', theirAgent.key)).status).toBe(200);
    expect((await api('GET', `/v1/agents/${theirAgent.id}`, theirs.adminKey)).body.display_name).toBeNull();
    expect((await api('GET', '/v1/agents', mine.adminKey)).body).toHaveLength(1);
  });

  it('lets workers read only themselves; coordinators read the directory', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const coordinator = await makeAgent(account, 'coordinator');
    expect((await api('GET', `/v1/agents/${worker.id}`, worker.key)).status).toBe(200);
    expect((await api('GET', `/v1/agents/${account.adminId}`, worker.key)).status).toBe(404);
    expect((await api('GET', '/v1/agents', worker.key)).status).toBe(403);
    expect((await api('GET', '/v1/agents', coordinator.key)).body).toHaveLength(3);
    expect((await api('GET', `/v1/agents/${account.adminId}`, coordinator.key)).body.is_default).toBe(true);
  });

  it('caps the number of agents per account (configurable limit)', async () => {
    expect(env.LIMIT_AGENTS_PER_ACCOUNT).toBeUndefined();
    const account = await makeAccount();
    for (let i = 0; i < 24; i++) await makeAgent(account, 'worker');
    const over = await api('POST', '/v1/agents', account.adminKey, { name: 'one-too-many' });
    expect(over.status).toBe(403);
    expect(over.body.code).toBe('AGENT_LIMIT_REACHED');
  });
});

describe('agent permissions (the MCP server’s register_agent)', () => {
  it('maps the scopes to a role, and refuses unknown scopes or scopes with a role', async () => {
    const a = await makeAccount();
    const scoped = await api('POST', '/v1/agents', a.adminKey, {
      name: 'reader-bot',
      permissions: ['tasks.read_all', 'tasks.comment_all'],
    });
    expect(scoped.status).toBe(201);
    expect(scoped.body.role).toBe('coordinator');
    expect((await api('POST', '/v1/agents', a.adminKey, { name: 'plain-bot', permissions: [] })).body.role).toBe('worker');
    for (const body of [
      { name: 'bad-bot', permissions: ['tasks.delete_all'] },
      { name: 'bad-bot', permissions: 'tasks.read_all' },
      { name: 'bad-bot', role: 'admin', permissions: ['tasks.read_all'] },
    ]) {
      expect((await api('POST', '/v1/agents', a.adminKey, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await api('GET', '/v1/agents', a.adminKey)).body.map((x: { name: string }) => x.name)).not.toContain('bad-bot');
  });
});
