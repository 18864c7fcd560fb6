/** /v1/ingress-sources as the MCP tools call it: admin-only CRUD, a secret shown once, pinned routing checked. */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../src/access/authentication';
import { createSource } from '../../src/ingress/sources';
import { api, db, makeAccount, makeAgent } from '../helpers/fixtures';
import { CI_TEMPLATE, ciFailure, makeSource, signedDelivery } from './helpers';

describe('ingress sources CRUD', () => {
  it('creates a source with its secret shown once, lists it without, and deletes it with its endpoint', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const source = await makeSource(acct, {
      filters: [{ path: 'workflow.conclusion', op: 'eq', value: 'failure' }],
      default_project_id: acct.projectId,
      default_assignee_agent_id: worker.id,
    });
    expect(source).toMatchObject({
      name: 'github-actions-ci',
      ingest_path: `/v1/ingress/${source.id}`,
      scheme: 'hmac-sha256',
      template: CI_TEMPLATE,
      filters: [{ path: 'workflow.conclusion', op: 'eq', value: 'failure' }],
      default_project_id: acct.projectId,
      default_assignee_agent_id: worker.id,
      active: true,
      delivery_count: 0,
      last_delivery_at: null,
    });
    expect(source.secret).toMatch(/^ingsec_[0-9A-Za-z]{32}$/);
    const listed = (await api('GET', '/v1/ingress-sources', acct.adminKey)).body;
    expect(listed).toHaveLength(1);
    expect(listed[0].secret).toBeUndefined();
    expect((await api('GET', `/v1/ingress-sources/${source.id}`, acct.adminKey)).body.secret).toBeUndefined();

    const del = await api('DELETE', `/v1/ingress-sources/${source.id}`, acct.adminKey);
    expect(del.body).toEqual({ deleted: true, id: source.id });
    const after = await signedDelivery(source, ciFailure(1));
    expect(after.status).toBe(404);
    expect(after.body.code).toBe('INGRESS_SOURCE_NOT_FOUND');
  });

  it('rotates the secret: the new one is shown once and the old one stops working', async () => {
    const acct = await makeAccount();
    const source = await makeSource(acct);
    const rotated = await api('PUT', `/v1/ingress-sources/${source.id}`, acct.adminKey, { rotate_secret: true, name: 'renamed' });
    expect(rotated.status).toBe(200);
    expect(rotated.body.name).toBe('renamed');
    expect(rotated.body.secret).toMatch(/^ingsec_/);
    expect(rotated.body.secret).not.toBe(source.secret);
    expect((await api('PUT', `/v1/ingress-sources/${source.id}`, acct.adminKey, { active: true })).body.secret).toBeUndefined();
    expect((await signedDelivery(source, ciFailure(1))).status).toBe(401);
    expect((await signedDelivery({ id: source.id, secret: rotated.body.secret }, ciFailure(1))).status).toBe(201);
  });

  it('is admin-only and refuses bad input and other accounts’ ids, creating nothing', async () => {
    const acct = await makeAccount();
    const other = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    expect((await api('POST', '/v1/ingress-sources', worker.key, { name: 'x', template: CI_TEMPLATE })).status).toBe(403);
    expect((await api('GET', '/v1/ingress-sources', worker.key)).status).toBe(403);
    const bad: [string, Record<string, unknown>][] = [
      ['no template', { name: 'x' }],
      ['template without content', { name: 'x', template: { description: 'd' } }],
      ['template field outside the vocabulary', { name: 'x', template: { content: 'c', project_id: '{{p}}' } }],
      ['priority out of range', { name: 'x', template: { content: 'c', priority: 7 } }],
      ['11 labels', { name: 'x', template: { content: 'c', labels: Array.from({ length: 11 }, (_, i) => `l${i}`) } }],
      ['name over 80', { name: 'n'.repeat(81), template: CI_TEMPLATE }],
      ['unknown filter op', { name: 'x', template: CI_TEMPLATE, filters: [{ path: 'a', op: 'matches', value: 'x' }] }],
      ['eq without value', { name: 'x', template: CI_TEMPLATE, filters: [{ path: 'a', op: 'eq' }] }],
      ['bad path', { name: 'x', template: CI_TEMPLATE, filters: [{ path: 'a..b', op: 'exists' }] }],
      ['another account’s project', { name: 'x', template: CI_TEMPLATE, default_project_id: other.projectId }],
      ['another account’s agent', { name: 'x', template: CI_TEMPLATE, default_assignee_agent_id: other.adminId }],
    ];
    for (const [why, body] of bad) {
      const res = await api('POST', '/v1/ingress-sources', acct.adminKey, body);
      expect(res.status, why).toBe(400);
    }
    expect((await api('GET', '/v1/ingress-sources', acct.adminKey)).body).toEqual([]);
    const mine = await makeSource(acct);
    expect((await api('GET', `/v1/ingress-sources/${mine.id}`, other.adminKey)).status).toBe(404);
    expect((await api('PUT', `/v1/ingress-sources/${mine.id}`, other.adminKey, { rotate_secret: true })).status).toBe(404);
    expect((await api('DELETE', `/v1/ingress-sources/${mine.id}`, other.adminKey)).status).toBe(404);
    expect((await api('GET', `/v1/ingress-sources/${mine.id}/deliveries`, other.adminKey)).status).toBe(404);
  });

  it('stops at the account’s limit of sources, checked by the insert itself', async () => {
    const acct = await makeAccount();
    const p = await authenticate(db(), env.KEY_PEPPER!, acct.adminKey);
    const input = { name: 's', template: CI_TEMPLATE };
    await Promise.all([0, 1, 2].map(() => createSource(db(), p, { input, maxSources: 2, now: Date.now() }).catch((e: unknown) => e)));
    expect((await api('GET', '/v1/ingress-sources', acct.adminKey)).body).toHaveLength(2);
    await expect(createSource(db(), p, { input, maxSources: 2, now: Date.now() })).rejects.toMatchObject({
      status: 403,
      code: 'INGRESS_SOURCE_LIMIT_REACHED',
    });
  });
});
