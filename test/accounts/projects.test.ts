import { describe, expect, it } from 'vitest';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';

describe('projects', () => {
  it('admin creates, reads, updates (PUT/PATCH) and deletes projects', async () => {
    const account = await makeAccount();
    const created = await api('POST', '/v1/projects', account.adminKey, { name: 'Backend', emoji: '⚙️', color: '#3498db' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Backend', emoji: '⚙️', color: '#3498db', sort_order: 0, is_sandbox: false });
    expect(created.body.id).toMatch(/^prj_/);

    const updated = await api('PUT', `/v1/projects/${created.body.id}`, account.adminKey, { sort_order: -1, color: null });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: 'Backend', sort_order: -1, color: null });
    const patched = await api('PATCH', `/v1/projects/${created.body.id}`, account.adminKey, { name: 'API' });
    expect(patched.body.name).toBe('API');

    const list = await api('GET', '/v1/projects', account.adminKey);
    expect(list.body.map((p: { name: string }) => p.name)).toEqual(['API', 'Inbox']);

    const removed = await api('DELETE', `/v1/projects/${created.body.id}`, account.adminKey);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ deleted: true, id: created.body.id });
    expect((await api('GET', `/v1/projects/${created.body.id}`, account.adminKey)).status).toBe(404);
  });

  it('writes are admin-only; full agents read', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    expect((await api('GET', '/v1/projects', worker.key)).status).toBe(200);
    expect((await api('GET', `/v1/projects/${account.projectId}`, worker.key)).status).toBe(200);
    const refused = await api('POST', '/v1/projects', worker.key, { name: 'Nope' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('INSUFFICIENT_ROLE');
    expect((await api('GET', '/v1/projects', account.adminKey)).body).toHaveLength(1);
  });

  it('restricted keys see only their sandbox project and cannot write', async () => {
    const restricted = await makeAccount({ status: 'restricted' });
    const list = await api('GET', '/v1/projects', restricted.adminKey);
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(1);
    expect(list.body[0]).toMatchObject({ id: restricted.projectId, is_sandbox: true });
    const create = await api('POST', '/v1/projects', restricted.adminKey, { name: 'More' });
    expect(create.status).toBe(403);
    expect(create.body.code).toBe('CLAIM_REQUIRED');
    expect(create.body.error).toMatch(/human/i);
  });

  it('validates input: wrong types, unknown fields, oversize strings', async () => {
    const account = await makeAccount();
    const cases: [unknown, string][] = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 5 }, 'name'],
      [{ name: 'x'.repeat(201) }, 'name'],
      [{ name: 'ok', sort_order: 1.5 }, 'sort_order'],
      [{ name: 'ok', sort_order: '3' }, 'sort_order'],
      [{ name: 'ok', owner: 'me' }, 'owner'],
    ];
    for (const [body, field] of cases) {
      const res = await api('POST', '/v1/projects', account.adminKey, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    expect((await api('GET', '/v1/projects', account.adminKey)).body).toHaveLength(1);
  });

  it('other accounts’ projects are 404 for every verb', async () => {
    const mine = await makeAccount();
    const theirs = await makeAccount();
    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', { name: 'x' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await api(method, `/v1/projects/${theirs.projectId}`, mine.adminKey, body);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('PROJECT_NOT_FOUND');
    }
    expect((await api('GET', `/v1/projects/${theirs.projectId}`, theirs.adminKey)).body.name).toBe('Inbox');
  });
});
