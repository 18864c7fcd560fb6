/** GET /v1/context/search (recall): ranking, superseded entries, filters, scoping and its cost at 20,000 tasks. */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { database } from '../../src/db/client';
import { authenticate } from '../../src/access/authentication';
import { countingD1 } from '../../src/platform/d1-metrics';
import { searchContext } from '../../src/recall/search';
import { api, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';
import { bulkInsertTasks } from '../helpers/bulk-tasks';

async function task(key: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await api('POST', '/v1/tasks', key, { content: 'Auth work', ...body });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function remember(key: string, taskId: string, context: Record<string, unknown>, source = 'agent_inferred') {
  const res = await api('PATCH', `/v1/tasks/${taskId}/context?source=${source}`, key, context);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

const recall = (key: string, query: string) => api('GET', `/v1/context/search?${query}`, key);

describe('recall', () => {
  let acct: TestAccount;
  let decided: string;
  let guessed: string;

  beforeAll(async () => {
    acct = await makeAccount();
    decided = await task(acct.adminKey, { content: 'Token policy', project_id: acct.projectId });
    guessed = await task(acct.adminKey, { content: 'Session cleanup' });
    await remember(acct.adminKey, guessed, { token_expiry: 'probably 60 minutes for the auth token' });
    await remember(
      acct.adminKey,
      decided,
      { token_expiry: 'auth token expiry is 15 minutes', owner: { team: 'identity' } },
      'human_stated',
    );
  });

  it('answers {query, count, results} ranked, human-stated first, with the task content', async () => {
    const res = await recall(acct.adminKey, 'q=auth%20token%20expiry');
    expect(res.status).toBe(200);
    expect(res.body.query).toBe('auth token expiry');
    expect(res.body.count).toBe(2);
    expect(res.body.results.map((r: { task_id: string }) => r.task_id)).toEqual([decided, guessed]);
    expect(res.body.results[0]).toMatchObject({
      task_content: 'Token policy',
      key: 'token_expiry',
      value: 'auth token expiry is 15 minutes',
      source: 'human_stated',
      superseded: false,
    });
    expect(res.body.results[0].score).toBeGreaterThan(res.body.results[1].score);
    // Object values come back parsed; keys are searched too.
    const owner = await recall(acct.adminKey, 'q=identity');
    expect(owner.body.results).toMatchObject([{ key: 'owner', value: { team: 'identity' } }]);
    expect((await recall(acct.adminKey, 'q=expiry')).body.count).toBe(2);
  });

  it('leaves superseded versions out unless asked, and marks them', async () => {
    const t = await task(acct.adminKey, { content: 'Retry policy' });
    await remember(acct.adminKey, t, { retry_budget: 'three retries with jitter' });
    await remember(acct.adminKey, t, { retry_budget: 'five retries with jitter' });
    const current = await recall(acct.adminKey, 'q=retries%20jitter');
    expect(current.body.results).toMatchObject([{ value: 'five retries with jitter', superseded: false }]);
    const all = await recall(acct.adminKey, 'q=retries%20jitter&include_superseded=true');
    expect(all.body.results.map((r: { value: string; superseded: boolean }) => [r.value, r.superseded])).toEqual([
      ['five retries with jitter', false],
      ['three retries with jitter', true],
    ]);
    // A removed key is superseded too.
    await remember(acct.adminKey, t, { retry_budget: null });
    expect((await recall(acct.adminKey, 'q=jitter')).body.count).toBe(0);
    expect((await recall(acct.adminKey, 'q=jitter&include_superseded=true')).body.count).toBe(2);
  });

  it('filters by project, source, key and limit', async () => {
    expect(
      (await recall(acct.adminKey, `q=token&project_id=${acct.projectId}`)).body.results.map((r: { task_id: string }) => r.task_id),
    ).toEqual([decided]);
    expect((await recall(acct.adminKey, 'q=token&source=agent_inferred')).body.results.map((r: { task_id: string }) => r.task_id)).toEqual([
      guessed,
    ]);
    expect((await recall(acct.adminKey, 'q=token&key=owner')).body.count).toBe(0);
    expect((await recall(acct.adminKey, 'q=token&limit=1')).body.count).toBe(1);
  });

  it('takes any text as words, never as query syntax', async () => {
    for (const q of ['"', 'token" OR scope:*', 'NEAR(a b)', '*', 'token AND (', '-', '😀']) {
      const res = await recall(acct.adminKey, `q=${encodeURIComponent(q)}`);
      expect(res.status, q).toBe(200);
    }
    expect((await recall(acct.adminKey, `q=${encodeURIComponent('token" OR scope:*')}`)).body.count).toBe(2);
  });

  it('refuses bad queries with 400', async () => {
    for (const query of [
      '',
      'q=',
      'q=x&limit=0',
      'q=x&limit=101',
      'q=x&limit=ten',
      'q=x&source=rumour',
      `q=${'x'.repeat(501)}`,
      'q=x&include_superseded=maybe',
    ]) {
      const res = await recall(acct.adminKey, query);
      expect(res.status, query).toBe(400);
    }
  });

  it('shows a worker only the context of tasks it may see, and no account another’s', async () => {
    const worker = await makeAgent(acct, 'worker');
    const mine = await task(worker.key, { content: 'Worker task' });
    await remember(worker.key, mine, { finding: 'the token cache leaks' });
    const workerView = await recall(worker.key, 'q=token');
    expect(workerView.body.results.map((r: { task_id: string }) => r.task_id)).toEqual([mine]);
    // Assigned to it later, the admin's decision becomes visible to it.
    await api('PUT', `/v1/tasks/${decided}`, acct.adminKey, { assigned_to_agent_id: worker.id });
    expect((await recall(worker.key, 'q=token')).body.results.map((r: { task_id: string }) => r.task_id).sort()).toEqual(
      [decided, mine].sort(),
    );
    await api('PUT', `/v1/tasks/${decided}`, acct.adminKey, { assigned_to_agent_id: null });

    const stranger = await makeAccount();
    expect((await recall(stranger.adminKey, 'q=token')).body).toEqual({ query: 'token', count: 0, results: [] });
    const restricted = await makeAccount({ status: 'restricted' });
    expect((await recall(restricted.adminKey, 'q=token')).status).toBe(403);
  });
});

describe('recall at 20,000 tasks', () => {
  it('reads rows in proportion to the matches, not the account', async () => {
    const acct = await makeAccount();
    const created = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const ids = Array.from({ length: 20_000 }, (_, i) => `tsk_bulk${acct.accountId.slice(4)}${i}`);
    await bulkInsertTasks(
      ids.map((id) => ({ id, accountId: acct.accountId, content: 'Routine', createdBy: acct.adminId, createdAt: created })),
    );
    // Every task carries a context entry; three mention the rare word.
    const statements: D1PreparedStatement[] = [];
    for (let start = 0; start < ids.length; start += 500) {
      const values = ids
        .slice(start, start + 500)
        .map(
          (id, i) =>
            `('ctx_${id}', '${id}', '${acct.accountId}', 'note', '"${start + i < 3 ? 'rotate the quokka credentials' : 'routine maintenance window'}"', 1, 'agent_inferred', '${created}')`,
        )
        .join(', ');
      statements.push(
        env.DB.prepare(
          `insert into task_context_history (id, task_id, account_id, key, value, version, source, created_at) values ${values}`,
        ),
      );
    }
    await env.DB.batch(statements);

    const p = await authenticate(database(env.DB), env.KEY_PEPPER!, acct.adminKey);
    const counter = { count: 0, rowsRead: 0 };
    const results = await searchContext(database(countingD1(env.DB, counter)), p, { q: 'quokka', limit: 20, include_superseded: false });
    expect(results).toHaveLength(3);
    expect(counter.count).toBe(1);
    expect(counter.rowsRead, `read ${counter.rowsRead} rows`).toBeLessThan(100);
  });
});
