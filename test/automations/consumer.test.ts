/** Automation events through the queue consumer itself: redelivered messages, and the delegate action. */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { AutomationMessage } from '../../src/automations/messages';
import { runAutomations } from '../../src/automations/engine';
import { handleEventBatch as handleWebhookBatch } from '../../src/queue';
import type { EventQueueMessage } from '../../src/webhooks/messages';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';
import { commentsOf, makeRule, makeTask, messageFor, runsOf, taskOf } from './helpers';

async function consume(messages: AutomationMessage[], attempts = 1) {
  const batch = createMessageBatch<EventQueueMessage>(
    'delega-webhooks',
    messages.map((body, i) => ({ id: `msg-${body.eventId}-${i}-${attempts}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await handleWebhookBatch(batch, env);
  return getQueueResult(batch, ctx);
}

describe('the consumer with automation events', () => {
  it('acks each event and applies it once, however often the queue delivers it', async () => {
    const acct = await makeAccount();
    const rule = await makeRule(acct, { event: 'task.updated', actions: [{ type: 'add_comment', content: 'once' }] });
    const task = await makeTask(acct);
    const msg = await messageFor(acct, 'task.updated', task.id);
    const first = await consume([msg, msg]);
    expect(first.explicitAcks).toHaveLength(2);
    const second = await consume([msg], 2);
    expect(second.explicitAcks).toHaveLength(1);
    expect((await commentsOf(acct, task.id)).map((c) => c.content)).toEqual(['once']);
    expect(await runsOf(acct, rule.id)).toHaveLength(1);
  });

  it('delegates: a child assigned to the agent, the parent delegated; a claimed parent is left alone', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const rule = await makeRule(acct, {
      event: 'task.updated',
      actions: [{ type: 'delegate', agent_id: worker.id, content: 'Research {{task.content}}', priority: 2 }],
    });
    const parent = await makeTask(acct, { content: 'pricing' });
    await runAutomations(env, await messageFor(acct, 'task.updated', parent.id), Date.now());
    const children = (await api('GET', `/v1/tasks/${parent.id}/children`, acct.adminKey)).body;
    expect(children).toHaveLength(1);
    expect(children[0]).toMatchObject({
      content: 'Research pricing',
      assigned_to_agent_id: worker.id,
      priority: 2,
      parent_task_id: parent.id,
      delegation_depth: 1,
    });
    expect((await taskOf(acct, parent.id)).status).toBe('delegated');

    const claimed = await makeTask(acct, { content: 'held', assigned_to_agent_id: worker.id });
    expect((await api('POST', `/v1/tasks/${claimed.id}/claim`, worker.key, { lease_seconds: 600 })).status).toBe(200);
    await runAutomations(env, await messageFor(acct, 'task.updated', claimed.id), Date.now());
    expect((await api('GET', `/v1/tasks/${claimed.id}/children`, acct.adminKey)).body).toEqual([]);
    const runs = await runsOf(acct, rule.id);
    expect(runs[0].actions[0].outcome).toBe('skipped_claimed');
    expect(runs[0].status).toBe('skipped');
  });

  it('shows the run log to admins only', async () => {
    const acct = await makeAccount();
    const coordinator = await makeAgent(acct, 'coordinator');
    const rule = await makeRule(acct, { event: 'task.updated', actions: [{ type: 'add_label', label: 'x' }] });
    expect((await api('GET', `/v1/automations/${rule.id}/runs`, coordinator.key)).status).toBe(403);
    expect((await api('GET', `/v1/automations/${rule.id}/runs`, acct.adminKey)).status).toBe(200);
  });
});
