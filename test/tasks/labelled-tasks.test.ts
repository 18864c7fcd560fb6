/**
 * labelled_tasks (migration 0006) must always hold exactly one copy of each task row per label,
 * equal to the task row: checked after every kind of task write, through the API.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';

/** Rows in one table and not the other, both ways, for the account. */
async function drift(accountId: string): Promise<number> {
  const cols = (
    await env.DB.prepare(`SELECT name FROM pragma_table_info('labelled_tasks') WHERE name <> 'label'`).all<{ name: string }>()
  ).results.map((c) => `"${c.name}"`);
  const fromTasks = `SELECT j.value AS label, ${cols.map((c) => `t.${c}`).join(', ')} FROM tasks t, json_each(t.labels) j WHERE t.account_id = ?1 AND j.type = 'text'`;
  const copies = `SELECT label, ${cols.join(', ')} FROM labelled_tasks WHERE account_id = ?1`;
  const row = await env.DB.prepare(
    `SELECT (SELECT count(*) FROM (${fromTasks} EXCEPT ${copies})) + (SELECT count(*) FROM (${copies} EXCEPT ${fromTasks})) AS n`,
  )
    .bind(accountId)
    .first<{ n: number }>();
  return row!.n;
}

const copiesOf = async (taskId: string) =>
  (await env.DB.prepare(`SELECT label FROM labelled_tasks WHERE id = ? ORDER BY label`).bind(taskId).all<{ label: string }>()).results.map(
    (r) => r.label,
  );

async function ok(account: TestAccount, method: string, path: string, body?: unknown, key = account.adminKey) {
  const res = await api(method, path, key, body);
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  expect(await drift(account.accountId), `after ${method} ${path}`).toBe(0);
  return res.body;
}

describe('labelled_tasks', () => {
  it('follows every task write', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const a = await ok(account, 'POST', '/v1/tasks', { content: 'first', labels: ['bug', 'ui'] });
    const b = await ok(account, 'POST', '/v1/tasks', { content: 'second', labels: ['ops'] });
    await ok(account, 'POST', '/v1/tasks', { content: 'no labels' });
    expect(await copiesOf(a.id)).toEqual(['bug', 'ui']);

    await ok(account, 'PATCH', `/v1/tasks/${a.id}`, { content: 'first, edited', priority: 4 });
    await ok(account, 'PATCH', `/v1/tasks/${a.id}`, { labels: ['ui', 'backend'] });
    expect(await copiesOf(a.id)).toEqual(['backend', 'ui']);
    await ok(account, 'PATCH', `/v1/tasks/${a.id}/context`, { step: 1 });
    await ok(account, 'PATCH', `/v1/tasks/${b.id}`, { assigned_to_agent_id: worker.id });
    await ok(account, 'POST', `/v1/tasks/${b.id}/claim`, {}, worker.key);
    await ok(account, 'POST', `/v1/tasks/${b.id}/heartbeat`, { state: 'waiting_input', detail: 'needs a human' }, worker.key);
    await ok(account, 'POST', `/v1/tasks/${b.id}/release`, { handoff: 'over to you' }, worker.key);
    await ok(account, 'POST', '/v1/tasks/claim', { labels: ['ops'] }, worker.key);
    await ok(account, 'POST', `/v1/tasks/${b.id}/complete`, {}, worker.key);
    await ok(account, 'POST', `/v1/tasks/${b.id}/uncomplete`);
    const child = await ok(account, 'POST', `/v1/tasks/${a.id}/delegate`, { content: 'child', labels: ['bug'] });
    expect(await copiesOf(child.id)).toEqual(['bug']);
    await ok(account, 'PATCH', `/v1/tasks/${a.id}`, { labels: [] });
    expect(await copiesOf(a.id)).toEqual([]);
    await ok(account, 'DELETE', `/v1/tasks/${child.id}`);
    await ok(account, 'DELETE', `/v1/tasks/${b.id}`);
    expect(await copiesOf(b.id)).toEqual([]);

    // The label listing answers from the copies exactly what each task's GET answers.
    const c = await ok(account, 'POST', '/v1/tasks', { content: 'third', labels: ['bug'], description: 'd' });
    const listed = await api('GET', '/v1/tasks?label=bug', account.adminKey);
    // (The task's own GET adds its context and checklist.)
    const { context: _context, subtasks: _subtasks, ...own } = (await api('GET', `/v1/tasks/${c.id}`, account.adminKey)).body;
    expect(listed.body).toEqual([own]);
  });
});
