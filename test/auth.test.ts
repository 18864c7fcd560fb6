import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { hashKey, issueKey, looksLikeKey } from '../src/domain/api-keys';
import { api, agentRow, makeAccount } from './helpers/fixtures';

describe('API keys', () => {
  it('are dlg_ + 32+ base62 characters, stored only as an HMAC under the server secret', async () => {
    const account = await makeAccount();
    expect(account.adminKey).toMatch(/^dlg_[0-9A-Za-z]{32,}$/);
    const row = await agentRow(account.adminId);
    expect(row?.keyHash).toBe(await hashKey(env.KEY_PEPPER!, account.adminKey));
    expect(JSON.stringify(row)).not.toContain(account.adminKey.slice(4));
    expect(row?.keyPrefix).toBe(account.adminKey.slice(0, 10));
  });

  it('hash differently under another secret, so a leaked table is useless without it', async () => {
    const key = await issueKey('pepper-one');
    expect(await hashKey('pepper-two', key.plaintext)).not.toBe(key.hash);
    expect(looksLikeKey(key.plaintext)).toBe(true);
    expect(looksLikeKey('dlg_short')).toBe(false);
  });

  it('authenticate through X-Agent-Key and through Authorization: Bearer', async () => {
    const account = await makeAccount();
    const viaHeader = await api('GET', '/v1/capabilities', account.adminKey);
    const viaBearer = await api('GET', '/v1/capabilities', null, undefined, { Authorization: `Bearer ${account.adminKey}` });
    expect(viaHeader.status).toBe(200);
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.body.agent_id).toBe(account.adminId);
  });

  it.each([
    ['no key', {}],
    ['an unknown key', { 'X-Agent-Key': 'dlg_' + 'A'.repeat(40) }],
    ['a malformed key', { 'X-Agent-Key': 'not-a-key' }],
    ['a bearer token of another scheme', { Authorization: 'Basic dXNlcjpwYXNz' }],
  ])('answer 401 in the envelope for %s', async (_name, headers) => {
    const res = await api('GET', '/v1/agents', null, undefined, headers as Record<string, string>);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: expect.any(String), code: 'UNAUTHORIZED' });
  });

  it('authenticates before validating, so a bad body without a key is still 401', async () => {
    const res = await api('POST', '/v1/agents', null, '{not json');
    expect(res.status).toBe(401);
  });
});
