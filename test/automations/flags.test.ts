/**
 * accounts.active_automations follows the rules table, so an account's writes emit events when
 * it has active rules (even without webhooks) and nothing when it has neither.
 */
import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { runAutomations } from '../../src/automations/engine';
import { accounts } from '../../src/db/schema';
import { authenticate } from '../../src/access/authentication';
import { api, db, makeAccount } from '../helpers/fixtures';
import { makeRule, makeTask, messageFor, ruleOf } from './helpers';

const activeCount = async (accountId: string) =>
  (await db().select().from(accounts).where(eq(accounts.id, accountId)).get())!.activeAutomations;

describe('active automation count on the account', () => {
  it('follows create, deactivate, reactivate, disable by the engine and delete, and the principal says so', async () => {
    const acct = await makeAccount();
    expect(await activeCount(acct.accountId)).toBe(0);
    expect((await authenticate(db(), env.KEY_PEPPER!, acct.adminKey)).hasAutomations).toBe(false);
    const a = await makeRule(acct, { event: 'task.created', actions: [{ type: 'add_label', label: 'a' }] });
    const b = await makeRule(acct, { event: 'task.updated', actions: [{ type: 'assign', agent_id: acct.adminId }] });
    await makeRule(acct, { event: 'task.created', active: false, actions: [{ type: 'add_label', label: 'c' }] });
    expect(await activeCount(acct.accountId)).toBe(2);
    expect((await authenticate(db(), env.KEY_PEPPER!, acct.adminKey)).hasAutomations).toBe(true);
    await api('PUT', `/v1/automations/${a.id}`, acct.adminKey, { active: false });
    await api('PUT', `/v1/automations/${a.id}`, acct.adminKey, { active: false });
    expect(await activeCount(acct.accountId)).toBe(1);
    await api('PUT', `/v1/automations/${a.id}`, acct.adminKey, { active: true });
    expect(await activeCount(acct.accountId)).toBe(2);

    // The engine deactivates b after 10 failed runs (its task is completed, so assigning fails).
    const task = await makeTask(acct);
    expect((await api('POST', `/v1/tasks/${task.id}/complete`, acct.adminKey)).status).toBe(200);
    for (let i = 0; i < 10; i++) await runAutomations(env, await messageFor(acct, 'task.updated', task.id), Date.now());
    expect((await ruleOf(acct, b.id)).active).toBe(false);
    expect(await activeCount(acct.accountId)).toBe(1);

    await api('DELETE', `/v1/automations/${a.id}`, acct.adminKey);
    expect(await activeCount(acct.accountId)).toBe(0);
    expect((await authenticate(db(), env.KEY_PEPPER!, acct.adminKey)).hasAutomations).toBe(false);
  });
});
