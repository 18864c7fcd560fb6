/** Completion in one statement: evidence accumulates in order; each refusal says why and changes nothing. */
import { describe, expect, it } from 'vitest';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';

describe('completing a task', () => {
  it('appends evidence in order across completions and keeps objects as objects', async () => {
    const account = await makeAccount();
    const task = await api('POST', '/v1/tasks', account.adminKey, { content: 'ship it', evidence_policy: 'required' });
    const weak = await api('POST', `/v1/tasks/${task.body.id}/complete`, account.adminKey, {
      evidence: [{ kind: 'command_output', ref: 'npm test', summary: 'green' }],
    });
    expect(weak.status).toBe(422);
    expect(weak.body.code).toBe('EVIDENCE_REQUIRED');
    expect((await api('GET', `/v1/tasks/${task.body.id}`, account.adminKey)).body).toMatchObject({
      completed: false,
      completion_evidence: [],
    });

    const first = await api('POST', `/v1/tasks/${task.body.id}/complete`, account.adminKey, {
      evidence: [
        { kind: 'pr', ref: '#1' },
        { kind: 'command_output', ref: 'npm test' },
      ],
    });
    expect(first.status).toBe(200);
    expect(first.body.completion_evidence).toEqual([
      { kind: 'pr', ref: '#1' },
      { kind: 'command_output', ref: 'npm test' },
    ]);
    await api('POST', `/v1/tasks/${task.body.id}/uncomplete`, account.adminKey);
    // Stored strong evidence satisfies the policy on the next completion.
    const second = await api('POST', `/v1/tasks/${task.body.id}/complete`, account.adminKey, {
      evidence: [{ kind: 'commit', ref: 'abc123', summary: 'fix' }],
    });
    expect(second.status).toBe(200);
    expect(second.body.completion_evidence).toEqual([
      { kind: 'pr', ref: '#1' },
      { kind: 'command_output', ref: 'npm test' },
      { kind: 'commit', ref: 'abc123', summary: 'fix' },
    ]);
    const again = await api('POST', `/v1/tasks/${task.body.id}/complete`, account.adminKey);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('TASK_ALREADY_COMPLETED');
  });

  it('refuses other agents’ tasks (403), invisible ones (404), and writes nothing', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const coordinator = await makeAgent(account, 'coordinator');
    const task = await api('POST', '/v1/tasks', account.adminKey, { content: 'not yours' });
    const notMine = await api('POST', `/v1/tasks/${task.body.id}/complete`, coordinator.key);
    expect(notMine.status).toBe(403);
    expect(notMine.body.code).toBe('TASK_NOT_OWNED');
    const invisible = await api('POST', `/v1/tasks/${task.body.id}/complete`, worker.key);
    expect(invisible.status).toBe(404);
    const other = await makeAccount();
    expect((await api('POST', `/v1/tasks/${task.body.id}/complete`, other.adminKey)).status).toBe(404);
    expect((await api('GET', `/v1/tasks/${task.body.id}`, account.adminKey)).body).toMatchObject({
      completed: false,
      status: 'open',
      completed_at: null,
    });
  });
});
