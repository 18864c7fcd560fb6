/**
 * A claim is not ownership: a worker that claims a task it did not create may work it
 * (heartbeat, state, context, subtasks, links, comments, complete, release) but never delete it,
 * reassign it, rewrite what it asks, delegate or reopen it. The table says so in /v1/capabilities.
 */
import { describe, expect, it } from 'vitest';
import { ACCESS } from '../../src/access/policy';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';

async function claimedByWorker() {
  const account = await makeAccount();
  const worker = await makeAgent(account, 'worker');
  const other = await makeAgent(account, 'worker');
  const task = (await api('POST', '/v1/tasks', account.adminKey, { content: 'Ship the release notes', priority: 'high' })).body;
  const claim = await api('POST', `/v1/tasks/${task.id}/claim`, worker.key, { lease_seconds: 300 });
  expect(claim.status).toBe(200);
  return { account, worker, other, id: task.id as string };
}

describe('a claim gives work rights, never ownership', () => {
  it('the claimer cannot delete, reassign, rewrite, delegate or reopen; nothing changes', async () => {
    const { account, worker, other, id } = await claimedByWorker();
    const refused: [string, string, unknown][] = [
      ['DELETE', '', undefined],
      ['PUT', '', { content: 'Transfer the funds' }],
      ['PATCH', '', { assigned_to_agent_id: other.id }],
      ['PUT', '', { priority: 'low' }],
      ['POST', '/delegate', { content: 'child' }],
    ];
    for (const [method, path, body] of refused) {
      const r = await api(method, `/v1/tasks/${id}${path}`, worker.key, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.code).toBe('TASK_NOT_OWNED');
      expect(r.body.error).toMatch(/claim lets you work this task/);
    }
    const task = (await api('GET', `/v1/tasks/${id}`, account.adminKey)).body;
    expect(task).toMatchObject({ content: 'Ship the release notes', assigned_to_agent_id: null });
  });

  it('looping claim + delete no longer empties the queue', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    for (let i = 0; i < 3; i++) await api('POST', '/v1/tasks', account.adminKey, { content: `queued ${i}` });
    for (let i = 0; i < 3; i++) {
      const claim = await api('POST', '/v1/tasks/claim', worker.key, { lease_seconds: 60 });
      expect(claim.status).toBe(200);
      expect((await api('DELETE', `/v1/tasks/${claim.body.task.id}`, worker.key)).status).toBe(403);
    }
    const left = await api('GET', '/v1/tasks', account.adminKey);
    expect(left.body).toHaveLength(3);
  });

  it('the claimer works the task: heartbeat, state, context, subtasks, links, comments, complete', async () => {
    const { worker, id } = await claimedByWorker();
    const work: [string, string, unknown, number][] = [
      ['POST', '/heartbeat', { lease_seconds: 300 }, 200],
      ['POST', '/state', { state: 'working' }, 200],
      ['PATCH', '/context', { step: 'drafted' }, 200],
      ['POST', '/subtasks', { content: 'check links' }, 201],
      ['POST', '/links', { kind: 'pr', ref: '#12' }, 201],
      ['POST', '/comments', { content: 'halfway' }, 201],
      ['POST', '/complete', undefined, 200],
    ];
    for (const [method, path, body, status] of work) {
      const r = await api(method, `/v1/tasks/${id}${path}`, worker.key, body);
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(status);
    }
    // Completed, the claim is gone: reopening is the owner's.
    expect((await api('POST', `/v1/tasks/${id}/uncomplete`, worker.key)).status).toBe(403);
  });

  it('the claimer may release', async () => {
    const { worker, id } = await claimedByWorker();
    expect((await api('POST', `/v1/tasks/${id}/release`, worker.key)).status).toBe(200);
  });

  it('creator and assignee stay owners; admins own every task', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const mine = (await api('POST', '/v1/tasks', worker.key, { content: 'mine' })).body.id;
    expect((await api('PUT', `/v1/tasks/${mine}`, worker.key, { content: 'mine, edited' })).status).toBe(200);
    const assigned = (await api('POST', '/v1/tasks', account.adminKey, { content: 'for you', assigned_to_agent_id: worker.id })).body.id;
    expect((await api('PUT', `/v1/tasks/${assigned}`, worker.key, { content: 'for me, edited' })).status).toBe(200);
    expect((await api('DELETE', `/v1/tasks/${mine}`, account.adminKey)).status).toBe(200);
  });

  it('/v1/capabilities says which standing each task write needs and what it means', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const caps = (await api('GET', '/v1/capabilities', worker.key)).body;
    for (const op of ['tasks.delete', 'tasks.update', 'tasks.delegate', 'tasks.uncomplete'])
      expect(caps.operations[op].task, op).toBe('owner');
    for (const op of ['tasks.complete', 'tasks.context.write', 'tasks.subtasks.write', 'tasks.links.write'])
      expect(caps.operations[op].task, op).toBe('work');
    expect(caps.task_standings.owner).toMatch(/creator or assignee/);
    expect(caps.task_standings.work).toMatch(/live claim/);
    expect(caps.operations['tasks.delete'].scope).toMatch(/a claim is not enough/);
    expect(Object.keys(ACCESS).filter((op) => caps.operations[op].task !== undefined).length).toBe(8);
  });
});
