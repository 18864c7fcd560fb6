/**
 * Agent edits, key rotation and comment deletion are decided by the authorisation table alone:
 * for every kind of key, on its own agent or comment and on another's, what GET /v1/capabilities
 * says (`allowed`, and with a standing `any_target`) is what the call does (200, or a 403 that
 * changes nothing; an agent the key cannot see is a 404, never a 403).
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAgent } from '../../src/accounts/agents';
import { servedVia, type Kind, type Principal } from '../../src/access/policy';
import { comments } from '../../src/db/schema';
import { agentRow, api, db, makeAccount, makeAgent, unique, type TestAccount } from '../helpers/fixtures';

type Target = 'self' | 'other';

interface Caller {
  kind: Kind;
  account: TestAccount;
  id: string;
  key: string;
}

const callers = {} as Record<Kind, Caller>;

/** A further worker of the caller's account (restricted accounts cannot create agents over the API). */
async function otherAgent(c: Caller): Promise<{ id: string; key: string }> {
  const made = await createAgent(db(), { accountId: c.account.accountId } as Principal, {
    pepper: env.KEY_PEPPER!,
    input: { name: unique('t').slice(0, 32), role: 'worker' },
    maxAgents: 100,
    now: Date.now(),
  });
  return { id: made.id, key: made.api_key! };
}

/** A task the caller can see, with one comment by `author`. */
async function commentBy(c: Caller, author: string): Promise<{ taskId: string; commentId: string }> {
  const task = await api('POST', '/v1/tasks', c.key, { content: 'discuss' });
  expect(task.status, JSON.stringify(task.body)).toBe(201);
  const commentId = unique('cmt');
  await db().insert(comments).values({
    id: commentId,
    taskId: task.body.id,
    accountId: c.account.accountId,
    agentId: author,
    author: 'someone',
    content: 'a comment',
    createdAt: new Date().toISOString(),
  });
  return { taskId: task.body.id, commentId };
}

interface Case {
  op: 'agents.update' | 'agents.manage' | 'agents.rotate_key' | 'tasks.comments.delete';
  /** Makes the call on a target; answers its status and whether the target is as it was. */
  call(c: Caller, target: Target): Promise<{ status: number; unchanged: () => Promise<boolean> }>;
}

const agentTarget = async (c: Caller, target: Target) => (target === 'self' ? { id: c.id, key: c.key } : otherAgent(c));

const CASES: Case[] = [
  {
    op: 'agents.update',
    async call(c, target) {
      const agent = await agentTarget(c, target);
      const before = (await agentRow(agent.id))!.displayName;
      const res = await api('PATCH', `/v1/agents/${agent.id}`, c.key, { display_name: unique('shown') });
      return { status: res.status, unchanged: async () => (await agentRow(agent.id))!.displayName === before };
    },
  },
  {
    op: 'agents.manage',
    async call(c, target) {
      const agent = await agentTarget(c, target);
      const before = (await agentRow(agent.id))!.name;
      const res = await api('PUT', `/v1/agents/${agent.id}`, c.key, { name: unique('renamed').slice(0, 32) });
      return { status: res.status, unchanged: async () => (await agentRow(agent.id))!.name === before };
    },
  },
  {
    op: 'agents.rotate_key',
    async call(c, target) {
      const agent = await agentTarget(c, target);
      const res = await api('POST', `/v1/agents/${agent.id}/rotate-key`, c.key);
      // Rotating its own key ends the caller's old key: carry on with the new one.
      if (res.status === 200 && target === 'self') c.key = res.body.api_key;
      return { status: res.status, unchanged: async () => (await api('GET', '/v1/capabilities', agent.key)).status === 200 };
    },
  },
  {
    op: 'tasks.comments.delete',
    async call(c, target) {
      const { taskId, commentId } = await commentBy(c, target === 'self' ? c.id : c.account.adminId);
      const res = await api('DELETE', `/v1/tasks/${taskId}/comments/${commentId}`, c.key);
      return {
        status: res.status,
        unchanged: async () =>
          (await api('GET', `/v1/tasks/${taskId}/comments`, c.account.adminKey)).body.some((x: { id: string }) => x.id === commentId),
      };
    },
  },
];

beforeAll(async () => {
  const full = await makeAccount();
  const restricted = await makeAccount({ status: 'restricted' });
  // The caller admin is not the recovery agent (whose name the table lets it change anyway).
  const admin = await makeAgent(full, 'admin');
  const worker = await makeAgent(full, 'worker');
  const coordinator = await makeAgent(full, 'coordinator');
  callers.admin = { kind: 'admin', account: full, id: admin.id, key: admin.key };
  callers.worker = { kind: 'worker', account: full, id: worker.id, key: worker.key };
  callers.coordinator = { kind: 'coordinator', account: full, id: coordinator.id, key: coordinator.key };
  callers.restricted = { kind: 'restricted', account: restricted, id: restricted.adminId, key: restricted.adminKey };
});

describe('agent edits, key rotation and comment deletion, by the table', () => {
  for (const kind of ['restricted', 'worker', 'coordinator', 'admin'] as const) {
    it(`a ${kind} key does exactly what /v1/capabilities says, on its own and on another's`, async () => {
      const c = callers[kind];
      const mismatches: string[] = [];
      for (const target of ['other', 'self'] as const) {
        for (const { op, call } of CASES) {
          const caps = (await api('GET', '/v1/capabilities', c.key)).body;
          const cap = caps.operations[op];
          const hasStanding = cap.agent !== undefined || cap.comment !== undefined;
          const said = target === 'self' || !hasStanding ? cap.allowed : cap.allowed && cap.any_target;
          const { status, unchanged } = await call(c, target);
          // A key that passes the route's own operation but cannot read the account's agents
          // (agents.list) gets 404 for another agent: what it cannot see it is never refused.
          const routeAllows = caps.operations[servedVia(op) ?? op].allowed;
          const hidden = target === 'other' && op.startsWith('agents.') && routeAllows && !caps.operations['agents.list'].allowed;
          const refusedAs = hidden ? 404 : 403;
          const ok = said ? status === 200 : status === refusedAs && (await unchanged());
          if (!ok)
            mismatches.push(`${kind} ${op} on ${target}: capabilities say ${said ? 'allowed' : 'refused'}, the call answered ${status}`);
        }
      }
      expect(mismatches).toEqual([]);
    });
  }

  it('/v1/capabilities names the standing each of these needs and what it means', async () => {
    const worker = (await api('GET', '/v1/capabilities', callers.worker.key)).body;
    const admin = (await api('GET', '/v1/capabilities', callers.admin.key)).body;
    expect(worker.operations['agents.update']).toMatchObject({ allowed: true, agent: 'self', any_target: false });
    expect(worker.operations['agents.rotate_key']).toMatchObject({ allowed: true, agent: 'self', any_target: false });
    expect(worker.operations['agents.manage']).toMatchObject({ allowed: false });
    expect(worker.operations['tasks.comments.delete']).toMatchObject({ allowed: true, comment: 'author', any_target: false });
    expect(admin.operations['agents.rotate_key']).toMatchObject({ allowed: true, agent: 'self', any_target: true });
    expect(admin.operations['tasks.comments.delete']).toMatchObject({ allowed: true, comment: 'author', any_target: true });
    expect(worker.task_standings).toMatchObject({ self: expect.stringMatching(/itself/), author: expect.stringMatching(/author/) });
  });
});
