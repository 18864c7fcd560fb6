import { env, listDurableObjectIds } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { accountOfKey, hashKey, hasValidTag, issueKey, looksLikeKey } from '../../src/access/api-keys';
import { newId } from '../../src/platform/ids';
import { api, agentRow, makeAccount } from '../helpers/fixtures';

describe('API keys', () => {
  it('are dlg_ + 62 base62 characters (34 random, the account id, a tag), stored only as an HMAC under the server secret', async () => {
    const account = await makeAccount();
    expect(account.adminKey).toMatch(/^dlg_[0-9A-Za-z]{62}$/);
    expect(account.adminKey.slice(38, 60)).toBe(account.accountId.slice(4));
    expect(accountOfKey(account.adminKey)).toBe(account.accountId);
    const row = await agentRow(account.adminId);
    expect(row?.keyHash).toBe(await hashKey(env.KEY_PEPPER!, account.adminKey));
    expect(JSON.stringify(row)).not.toContain(account.adminKey.slice(4));
    expect(row?.keyPrefix).toBe(account.adminKey.slice(0, 10));
  });

  it('hash differently under another secret, so a leaked table is useless without it', async () => {
    const key = await issueKey('pepper-one', newId('acc'));
    expect(await hashKey('pepper-two', key.plaintext)).not.toBe(key.hash);
    expect(looksLikeKey(key.plaintext)).toBe(true);
    expect(looksLikeKey('dlg_short')).toBe(false);
  });

  it('end in a tag only this server can make: any other change of a key breaks it', async () => {
    const pepper = 'pepper-one';
    const { plaintext } = await issueKey(pepper, newId('acc'));
    expect(await hasValidTag(pepper, plaintext)).toBe(true);
    expect(await hasValidTag('pepper-two', plaintext)).toBe(false);
    const flip = (i: number) => plaintext.slice(0, i) + (plaintext[i] === 'a' ? 'b' : 'a') + plaintext.slice(i + 1);
    // A changed character of the random part, of the account it names (so no key can be sent to another account's gate), or of the tag itself.
    for (const i of [4, 20, 37, 38, 50, 59, 60, 65]) expect(await hasValidTag(pepper, flip(i)), `position ${i}`).toBe(false);
    expect(await hasValidTag(pepper, plaintext.slice(0, -1))).toBe(false);
    expect(await hasValidTag(pepper, `${plaintext}0`)).toBe(false);
  });

  it('a made-up key of the right shape is refused before any lookup: no Durable Object is made for it', async () => {
    const forged = `dlg_${'Q'.repeat(40)}`;
    expect(looksLikeKey(forged)).toBe(true);
    const before = await listDurableObjectIds(env.KEY_GATE);
    const res = await api('GET', '/v1/capabilities', forged, undefined, { 'CF-Connecting-IP': '203.0.113.77' });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'UNAUTHORIZED', error: 'Invalid API key' });
    const after = await listDurableObjectIds(env.KEY_GATE);
    expect(after.map((id) => id.toString()).sort()).toEqual(before.map((id) => id.toString()).sort());
    // A real key still makes its object (the control for the check above).
    const account = await makeAccount();
    expect((await api('GET', '/v1/capabilities', account.adminKey)).status).toBe(200);
    expect((await listDurableObjectIds(env.KEY_GATE)).length).toBe(after.length + 1);
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
    ['an unknown key', { 'X-Agent-Key': `dlg_${'A'.repeat(40)}` }],
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
