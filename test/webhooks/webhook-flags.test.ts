/** accounts.active_webhooks follows the webhooks table, so writes skip lookups only when safe. */
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { accounts, webhooks } from '../../src/db/schema';
import { api, db, makeAccount } from '../helpers/fixtures';

const activeCount = async (accountId: string) =>
  (await db().select().from(accounts).where(eq(accounts.id, accountId)).get())!.activeWebhooks;

describe('active webhook count on the account', () => {
  it('follows create, deactivate, reactivate, disable by the system and delete', async () => {
    const account = await makeAccount();
    expect(await activeCount(account.accountId)).toBe(0);
    const a = await api('POST', '/v1/webhooks', account.adminKey, { url: 'https://hooks.example.com/a', events: ['task.created'] });
    const b = await api('POST', '/v1/webhooks', account.adminKey, { url: 'https://hooks.example.com/b', events: ['task.created'] });
    expect(a.status).toBe(201);
    expect(await activeCount(account.accountId)).toBe(2);
    await api('PUT', `/v1/webhooks/${a.body.id}`, account.adminKey, { active: false });
    expect(await activeCount(account.accountId)).toBe(1);
    await api('PUT', `/v1/webhooks/${a.body.id}`, account.adminKey, { active: false });
    expect(await activeCount(account.accountId)).toBe(1);
    await api('PUT', `/v1/webhooks/${a.body.id}`, account.adminKey, { active: true });
    expect(await activeCount(account.accountId)).toBe(2);
    // The delivery consumer disables a failing webhook with a direct write.
    await db().update(webhooks).set({ active: false, disabledReason: 'failing' }).where(eq(webhooks.id, b.body.id));
    expect(await activeCount(account.accountId)).toBe(1);
    await api('DELETE', `/v1/webhooks/${a.body.id}`, account.adminKey);
    expect(await activeCount(account.accountId)).toBe(0);
    await api('DELETE', `/v1/webhooks/${b.body.id}`, account.adminKey);
    expect(await activeCount(account.accountId)).toBe(0);
    const caps = await api('GET', '/v1/capabilities', account.adminKey);
    expect(caps.status).toBe(200);
  });
});
