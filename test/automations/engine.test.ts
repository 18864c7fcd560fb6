/**
 * Rules acting on real events: the routes emit, the real queue delivers, the consumer runs the
 * rules. Cases about exact counts (redelivery, the failure streak, the quota) call the engine
 * directly with a message, as the consumer does.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { runAutomations } from '../../src/automations/engine';
import { enqueueTaskEvents } from '../../src/events/relay';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';
import { commentsOf, makeRule, makeTask, messageFor, ruleOf, runsOf, taskOf, testEnv, until } from './helpers';

describe('rules on live events', () => {
  it('assigns and sets priority when a labelled task is created; assignment fires task.updated for the next rule', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const route = await makeRule(acct, {
      event: 'task.created',
      conditions: [{ field: 'label', op: 'has', value: 'bug' }],
      actions: [
        { type: 'assign', agent_id: worker.id },
        { type: 'set_priority', priority: 3 },
      ],
    });
    const onAssigned = await makeRule(acct, {
      event: 'task.updated',
      conditions: [{ field: 'assigned_to_agent_id', op: 'eq', value: worker.id }],
      actions: [{ type: 'add_comment', content: 'Routed on {{event}}: {{task.content}} (p{{task.priority}}, {{task.labels}})' }],
    });
    const plain = await makeTask(acct, { content: 'Not a bug' });
    const bug = await makeTask(acct, { content: 'Login fails', labels: ['bug'] });

    await until(async () => (await commentsOf(acct, bug.id)).length > 0);
    const after = await taskOf(acct, bug.id);
    expect(after).toMatchObject({ assigned_to_agent_id: worker.id, priority: 3 });
    const [comment] = await commentsOf(acct, bug.id);
    expect(comment.content).toMatch(/^Routed on task\.updated: Login fails \(p\d, bug\)$/);
    expect(comment.author).toBe('automation:rule');

    const runs = await runsOf(acct, route.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ task_id: bug.id, event: 'task.created', hop: 0, status: 'succeeded' });
    expect(runs[0].actions.map((a: any) => a.outcome)).toEqual(['applied', 'applied']);
    expect(await ruleOf(acct, route.id)).toMatchObject({ run_count: 1, failure_count: 0 });
    expect((await ruleOf(acct, route.id)).last_run_at).toBeTruthy();
    expect((await runsOf(acct, onAssigned.id))[0]).toMatchObject({ hop: 1 });
    expect(await taskOf(acct, plain.id)).toMatchObject({ assigned_to_agent_id: null, priority: 1 });
  });

  it('stops a cascade at 3 hops', async () => {
    const acct = await makeAccount();
    const echo = await makeRule(acct, { event: 'task.commented', actions: [{ type: 'add_comment', content: 'echo' }] });
    const task = await makeTask(acct);
    expect((await api('POST', `/v1/tasks/${task.id}/comments`, acct.adminKey, { content: 'hello' })).status).toBe(201);
    await until(async () => (await runsOf(acct, echo.id)).length >= 3);
    expect((await runsOf(acct, echo.id)).map((r) => r.hop).sort()).toEqual([0, 1, 2]);
    expect((await commentsOf(acct, task.id)).map((c) => c.content)).toEqual(['hello', 'echo', 'echo', 'echo']);

    // The third echo's event is hop 3: nothing reacts to it.
    const hop3 = await messageFor(acct, 'task.commented', task.id, { hop: 3 });
    await runAutomations(env, hop3, Date.now());
    expect(await runsOf(acct, echo.id)).toHaveLength(3);
    expect(await commentsOf(acct, task.id)).toHaveLength(4);
  });

  it('stops a cascade at 25 actions per originating event', async () => {
    const acct = await makeAccount();
    const fan = await makeRule(acct, {
      event: 'task.commented',
      actions: Array.from({ length: 5 }, (_, i) => ({ type: 'add_comment', content: `fan ${i}` })),
    });
    const task = await makeTask(acct);
    expect((await api('POST', `/v1/tasks/${task.id}/comments`, acct.adminKey, { content: 'start' })).status).toBe(201);
    // 1 run at hop 0 (5 comments), 5 at hop 1 (20 more, then the budget is spent), 20 at hop 2 (all skipped).
    await until(async () => (await runsOf(acct, fan.id)).length >= 26, 30_000);
    const runs = await runsOf(acct, fan.id);
    expect(runs).toHaveLength(26);
    expect(await commentsOf(acct, task.id)).toHaveLength(26);
    const outcomes = runs.flatMap((r) => r.actions.map((a: any) => a.outcome));
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(25);
    expect(outcomes).toContain('skipped_budget');
  });

  it('never reacts to a task it created, and the created task counts against the quota', async () => {
    const acct = await makeAccount();
    const follow = await makeRule(acct, {
      event: 'task.created',
      actions: [{ type: 'create_task', content: 'Follow-up: {{task.content}}', labels: ['follow-up'], priority: 2 }],
    });
    // Reacts to every created task, the follow-up included: its run says that event was handled.
    const observer = await makeRule(acct, { event: 'task.created', actions: [{ type: 'add_label', label: 'seen' }] });
    const usageBefore = (await api('GET', '/v1/usage', acct.adminKey)).body;
    const original = await makeTask(acct, { content: 'Ship it' });
    await until(async () => (await runsOf(acct, observer.id)).length >= 2);
    const all = (await api('GET', '/v1/tasks?limit=100', acct.adminKey)).body as any[];
    const followUps = all.filter((t) => t.content === 'Follow-up: Ship it');
    expect(followUps).toHaveLength(1);
    expect(followUps[0]).toMatchObject({ priority: 2, created_by_agent_id: acct.adminId });
    expect(followUps[0].labels).toContain('follow-up');
    expect(await ruleOf(acct, follow.id)).toMatchObject({ run_count: 1 });
    expect((await runsOf(acct, follow.id))[0].task_id).toBe(original.id);
    const usageAfter = (await api('GET', '/v1/usage', acct.adminKey)).body;
    expect(usageBefore.tasks_remaining - usageAfter.tasks_remaining).toBe(2);
  });

  it('skips field changes on a task under another agent’s live claim (comments still go through)', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const rule = await makeRule(acct, {
      event: 'task.commented',
      conditions: [{ field: 'label', op: 'has', value: 'ops' }],
      actions: [
        { type: 'set_priority', priority: 4 },
        { type: 'add_comment', content: 'noted' },
      ],
    });
    const task = await makeTask(acct, { labels: ['ops'], assigned_to_agent_id: worker.id });
    expect((await api('POST', `/v1/tasks/${task.id}/claim`, worker.key, { lease_seconds: 600 })).status).toBe(200);
    expect((await api('POST', `/v1/tasks/${task.id}/comments`, worker.key, { content: 'working' })).status).toBe(201);
    await until(async () => (await runsOf(acct, rule.id)).length >= 1);
    const [run] = await runsOf(acct, rule.id);
    expect(run.actions.map((a: any) => a.outcome)).toEqual(['skipped_claimed', 'applied']);
    expect(run.actions[0].detail).toContain(worker.id);
    expect((await taskOf(acct, task.id)).priority).toBe(1);
    expect((await commentsOf(acct, task.id)).map((c) => c.content)).toContain('noted');
  });

  it('sets the evidence policy to required and never clears it', async () => {
    const acct = await makeAccount();
    await makeRule(acct, {
      event: 'task.created',
      actions: [
        { type: 'set_evidence_policy', policy: 'required' },
        { type: 'add_label', label: 'done' },
      ],
    });
    const task = await makeTask(acct);
    await until(async () => (await taskOf(acct, task.id)).labels.includes('done'));
    expect((await taskOf(acct, task.id)).evidence_policy).toBe('required');
    const bad = await api('POST', '/v1/automations', acct.adminKey, {
      name: 'loosen',
      event: 'task.created',
      actions: [{ type: 'set_evidence_policy', policy: null }],
    });
    expect(bad.status).toBe(400);
  });
});

describe('the engine, as the consumer calls it', () => {
  it('applies nothing twice when an event is delivered again', async () => {
    const acct = await makeAccount();
    const rule = await makeRule(acct, {
      event: 'task.updated',
      actions: [
        { type: 'add_comment', content: 'c' },
        { type: 'create_task', content: 'child of {{task.id}}' },
        { type: 'add_label', label: 'x' },
      ],
    });
    const task = await makeTask(acct);
    const msg = await messageFor(acct, 'task.updated', task.id);
    await runAutomations(env, msg, Date.now());
    await runAutomations(env, msg, Date.now());
    expect(await commentsOf(acct, task.id)).toHaveLength(1);
    const created = ((await api('GET', '/v1/tasks?limit=100', acct.adminKey)).body as any[]).filter(
      (t) => t.content === `child of ${task.id}`,
    );
    expect(created).toHaveLength(1);
    expect((await taskOf(acct, task.id)).labels).toEqual(['x']);
    expect(await runsOf(acct, rule.id)).toHaveLength(1);
    expect(await ruleOf(acct, rule.id)).toMatchObject({ run_count: 1 });
  });

  it('deactivates a rule after 10 consecutive failed runs; active:true re-enables it', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const rule = await makeRule(acct, { event: 'task.updated', actions: [{ type: 'assign', agent_id: worker.id }] });
    // The agent the rule assigns to is deactivated (it cannot be deleted while the rule names it).
    expect((await api('PUT', `/v1/agents/${worker.id}`, acct.adminKey, { active: false })).status).toBe(200);
    const task = await makeTask(acct);
    for (let i = 0; i < 9; i++) await runAutomations(env, await messageFor(acct, 'task.updated', task.id), Date.now());
    expect(await ruleOf(acct, rule.id)).toMatchObject({ active: true, failure_count: 9 });
    await runAutomations(env, await messageFor(acct, 'task.updated', task.id), Date.now());
    const disabled = await ruleOf(acct, rule.id);
    expect(disabled).toMatchObject({ active: false, failure_count: 10, run_count: 10 });
    expect(disabled.disabled_reason).toMatch(/10 consecutive failed runs/);
    expect((await runsOf(acct, rule.id))[0]).toMatchObject({ status: 'failed' });

    // Inactive: an event no longer runs it.
    await runAutomations(env, await messageFor(acct, 'task.updated', task.id), Date.now());
    expect(await ruleOf(acct, rule.id)).toMatchObject({ run_count: 10 });
    const again = await api('PUT', `/v1/automations/${rule.id}`, acct.adminKey, { active: true });
    expect(again.body).toMatchObject({ active: true, failure_count: 0, disabled_reason: null });
  });

  it('counts created tasks against the monthly quota: a rule cannot create past it', async () => {
    const acct = await makeAccount();
    const rule = await makeRule(acct, { event: 'task.updated', actions: [{ type: 'create_task', content: 'extra' }] });
    const task = await makeTask(acct);
    await runAutomations(testEnv({ LIMIT_TASKS_PER_MONTH: '1' }), await messageFor(acct, 'task.updated', task.id), Date.now());
    const [run] = await runsOf(acct, rule.id);
    expect(run.status).toBe('failed');
    expect(run.actions[0].detail).toMatch(/quota/);
    const extra = ((await api('GET', '/v1/tasks?limit=100', acct.adminKey)).body as any[]).filter((t) => t.content === 'extra');
    expect(extra).toHaveLength(0);
  });

  it('records no event for an account with neither webhooks nor rules, and one when it has rules', async () => {
    const acct = await makeAccount();
    const recorded = async () =>
      (await env.DB.prepare('SELECT count(*) AS n FROM event_outbox WHERE account_id = ?').bind(acct.accountId).first<{ n: number }>())!.n;
    const input = { event: 'task.created' as const, accountId: acct.accountId, agentId: null, task: { id: 'tsk_x' } as never };
    await enqueueTaskEvents(env, [{ ...input, accountHasWebhooks: false, accountHasAutomations: false }]);
    expect(await recorded()).toBe(0);
    await enqueueTaskEvents(env, [{ ...input, accountHasWebhooks: false, accountHasAutomations: true }]);
    expect(await recorded()).toBe(1);
  });
});
