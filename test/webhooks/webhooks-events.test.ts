/**
 * Every mutation emits its webhook event exactly once, through the real routes, the real
 * queue and the real consumer (only the receiver at the far end is in-test).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { api, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';
import { installReceivers, makeReceiver, type Receiver } from '../helpers/webhook-receiver';

let spy: ReturnType<typeof installReceivers>;
beforeAll(() => {
  spy = installReceivers();
});
afterAll(() => spy.mockRestore());

const ALL_EVENTS = [
  'task.created',
  'task.updated',
  'task.completed',
  'task.deleted',
  'task.assigned',
  'task.delegated',
  'task.commented',
  'task.claimed',
  'task.released',
  'task.state_changed',
  'task.linked',
];

interface Setup {
  acct: TestAccount;
  receiver: Receiver;
  webhookId: string;
}

async function setup(): Promise<Setup> {
  const acct = await makeAccount();
  const receiver = makeReceiver();
  const res = await api('POST', '/v1/webhooks', acct.adminKey, { url: receiver.url, events: ALL_EVENTS });
  expect(res.status).toBe(201);
  return { acct, receiver, webhookId: res.body.id };
}

/** A task made through the API (its own task.created is not what these cases count). */
async function seedTask(acct: TestAccount): Promise<{ id: string }> {
  const res = await api('POST', '/v1/tasks', acct.adminKey, { content: 'Seeded task' });
  expect(res.status).toBe(201);
  return res.body;
}

/** Waits until `event` was delivered, then checks it was emitted exactly once (delivery log and receiver). */
async function expectExactlyOnce(s: Setup, event: string, taskId: string) {
  await vi.waitUntil(() => s.receiver.received.some((r) => r.headers['x-delega-event'] === event), { timeout: 10_000, interval: 50 });
  const log = (await api('GET', `/v1/webhooks/${s.webhookId}/deliveries?limit=100`, s.acct.adminKey)).body as {
    event: string;
    status: string;
  }[];
  expect(log.filter((d) => d.event === event)).toHaveLength(1);
  const got = s.receiver.received.filter((r) => r.headers['x-delega-event'] === event);
  expect(got).toHaveLength(1);
  const body = JSON.parse(got[0]!.body);
  expect(body).toMatchObject({ event, account_id: s.acct.accountId, task: { id: taskId } });
  return body;
}

interface Case {
  event: string;
  run: (s: Setup) => Promise<string>;
}

const CASES: Case[] = [
  {
    event: 'task.created',
    run: async (s) => {
      const res = await api('POST', '/v1/tasks', s.acct.adminKey, { content: 'Fresh task' });
      expect(res.status).toBe(201);
      return res.body.id;
    },
  },
  {
    event: 'task.updated',
    run: async (s) => {
      const task = await seedTask(s.acct);
      expect((await api('PUT', `/v1/tasks/${task.id}`, s.acct.adminKey, { content: 'Renamed' })).status).toBe(200);
      return task.id;
    },
  },
  {
    event: 'task.assigned',
    run: async (s) => {
      const worker = await makeAgent(s.acct, 'worker');
      const task = await seedTask(s.acct);
      expect((await api('PUT', `/v1/tasks/${task.id}`, s.acct.adminKey, { assigned_to_agent_id: worker.id })).status).toBe(200);
      return task.id;
    },
  },
  {
    event: 'task.completed',
    run: async (s) => {
      const task = await seedTask(s.acct);
      expect((await api('POST', `/v1/tasks/${task.id}/complete`, s.acct.adminKey)).status).toBe(200);
      return task.id;
    },
  },
  {
    event: 'task.deleted',
    run: async (s) => {
      const task = await seedTask(s.acct);
      expect((await api('DELETE', `/v1/tasks/${task.id}`, s.acct.adminKey)).status).toBe(200);
      return task.id;
    },
  },
  {
    event: 'task.delegated',
    run: async (s) => {
      const task = await seedTask(s.acct);
      const res = await api('POST', `/v1/tasks/${task.id}/delegate`, s.acct.adminKey, { content: 'Sub-job' });
      expect(res.status).toBe(201);
      // The event carries the delegated (child) task; its parent is named in it.
      expect(res.body.parent_task_id).toBe(task.id);
      return res.body.id;
    },
  },
  {
    event: 'task.commented',
    run: async (s) => {
      const task = await seedTask(s.acct);
      expect((await api('POST', `/v1/tasks/${task.id}/comments`, s.acct.adminKey, { content: 'Looks good' })).status).toBe(201);
      return task.id;
    },
  },
  {
    event: 'task.linked',
    run: async (s) => {
      const task = await seedTask(s.acct);
      expect(
        (
          await api('POST', `/v1/tasks/${task.id}/links`, s.acct.adminKey, {
            kind: 'pr',
            ref: '42',
            url: 'https://github.com/delega-dev/delega/pull/42',
          })
        ).status,
      ).toBe(201);
      return task.id;
    },
  },
  {
    event: 'task.claimed',
    run: async (s) => {
      const task = await seedTask(s.acct);
      expect((await api('POST', `/v1/tasks/${task.id}/claim`, s.acct.adminKey, {})).status).toBe(200);
      return task.id;
    },
  },
  {
    event: 'task.released',
    run: async (s) => {
      const task = await seedTask(s.acct);
      expect((await api('POST', `/v1/tasks/${task.id}/claim`, s.acct.adminKey, {})).status).toBe(200);
      expect((await api('POST', `/v1/tasks/${task.id}/release`, s.acct.adminKey, {})).status).toBe(200);
      return task.id;
    },
  },
  {
    event: 'task.state_changed',
    run: async (s) => {
      const task = await seedTask(s.acct);
      expect((await api('POST', `/v1/tasks/${task.id}/claim`, s.acct.adminKey, {})).status).toBe(200);
      expect(
        (await api('POST', `/v1/tasks/${task.id}/state`, s.acct.adminKey, { state: 'waiting_input', detail: 'Need the API token' })).status,
      ).toBe(200);
      return task.id;
    },
  },
];

describe('events emitted by each mutation type, exactly once', () => {
  for (const c of CASES) {
    it(c.event, async () => {
      const s = await setup();
      const taskId = await c.run(s);
      const body = await expectExactlyOnce(s, c.event, taskId);
      expect(body.agent).toEqual({ id: s.acct.adminId });
    });
  }
});
