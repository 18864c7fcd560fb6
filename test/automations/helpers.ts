/** Rule fixtures and the engine called directly with a message, as the queue consumer would. */
import { env } from 'cloudflare:test';
import { expect, vi } from 'vitest';
import { automationMessage, type AutomationMessage } from '../../src/automations/messages';
import { api, type TestAccount } from '../helpers/fixtures';

export async function makeRule(acct: TestAccount, rule: Record<string, unknown>): Promise<{ id: string }> {
  const res = await api('POST', '/v1/automations', acct.adminKey, { name: 'rule', ...rule });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

export async function makeTask(acct: TestAccount, body: Record<string, unknown> = {}, key = acct.adminKey): Promise<any> {
  const res = await api('POST', '/v1/tasks', key, { content: 'A task', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

export async function runsOf(acct: TestAccount, ruleId: string): Promise<any[]> {
  const res = await api('GET', `/v1/automations/${ruleId}/runs?limit=100`, acct.adminKey);
  expect(res.status).toBe(200);
  return res.body;
}

export async function ruleOf(acct: TestAccount, ruleId: string): Promise<any> {
  return (await api('GET', `/v1/automations/${ruleId}`, acct.adminKey)).body;
}

export async function taskOf(acct: TestAccount, id: string): Promise<any> {
  return (await api('GET', `/v1/tasks/${id}`, acct.adminKey)).body;
}

export async function commentsOf(acct: TestAccount, id: string): Promise<any[]> {
  return (await api('GET', `/v1/tasks/${id}/comments?limit=100`, acct.adminKey)).body;
}

/** Waits (on observable state, never a fixed sleep) until `check` holds. */
export const until = (check: () => Promise<boolean>, timeout = 15_000) => vi.waitUntil(check, { timeout, interval: 50 });

let seq = 0;

/** A queue message for `event` on the task as it is now. */
export async function messageFor(
  acct: TestAccount,
  event: string,
  taskId: string,
  extra: Partial<AutomationMessage> = {},
): Promise<AutomationMessage> {
  const task = await taskOf(acct, taskId);
  const eventId = `evt_test${Date.now().toString(36)}${(seq++).toString(36)}`;
  return { ...automationMessage({ eventId, accountId: acct.accountId, event, agentId: acct.adminId, task }).body, ...extra };
}

export const testEnv = (limits: Record<string, string> = {}) => ({ ...env, ...limits });
