/**
 * The recurrences, automations and ingress pages, in workerd against real D1: each form does
 * what the API does (checked through the API), bad input is a plain 400 that changes nothing,
 * another account's rows are 404 and stay as they were, and each page reads D1 at most 3 times.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { countingD1 } from '../../src/platform/d1-metrics';
import { api, BASE } from '../helpers/fixtures';
import { post, send, signedInHuman } from '../helpers/dashboard';
import { deliver, signature } from '../ingress/helpers';
import { until } from '../automations/helpers';

const idFrom = (location: string | null, prefix: string) => location!.match(new RegExp(`/app/${prefix}/([\\w-]+)$`))![1]!;

describe('recurrences page', () => {
  it('creates, edits without rescheduling, pauses, resumes and deletes, as the API does', async () => {
    const human = await signedInHuman();
    const { cookie } = human;
    const empty = await send('/app/recurrences', { cookie });
    expect(empty.status).toBe(200);
    expect(empty.html).toContain('No recurrences yet');

    const made = await post(
      '/app/recurrences',
      {
        content: 'Rotate the on-call rota',
        rule_type: 'weekly',
        interval: '2',
        timezone: 'Europe/Amsterdam',
        labels: 'ops, rota',
        priority: '3',
        next_due_at: '2031-01-06',
        skip_if_open: 'true',
      },
      cookie,
    );
    expect(made.status).toBe(303);
    const id = idFrom(made.headers.get('Location'), 'recurrences');
    const [rec] = (await api('GET', '/v1/recurrences', human.apiKey)).body;
    expect(rec).toMatchObject({
      id,
      content: 'Rotate the on-call rota',
      rule_type: 'weekly',
      interval: 2,
      timezone: 'Europe/Amsterdam',
      labels: ['ops', 'rota'],
      priority: 3,
      skip_if_open: true,
      active: true,
    });
    const due = rec.next_due_at;

    const page = await send(`/app/recurrences/${id}`, { cookie });
    expect(page.html).toContain('every 2 weeks (Europe/Amsterdam)');
    // Editing the text keeps the schedule; the rule is resent by the form but unchanged.
    const edited = await post(
      `/app/recurrences/${id}/edit`,
      {
        content: 'Rotate the rota',
        rule_type: 'weekly',
        interval: '2',
        timezone: 'Europe/Amsterdam',
        was_rule_type: 'weekly',
        was_interval: '2',
        was_timezone: 'Europe/Amsterdam',
        labels: 'ops',
        priority: '1',
      },
      cookie,
    );
    expect(edited.status).toBe(303);
    expect((await api('GET', '/v1/recurrences', human.apiKey)).body[0]).toMatchObject({
      content: 'Rotate the rota',
      labels: ['ops'],
      priority: 1,
      next_due_at: due,
      skip_if_open: false,
    });

    expect((await post(`/app/recurrences/${id}/pause`, {}, cookie)).status).toBe(303);
    expect((await api('GET', '/v1/recurrences', human.apiKey)).body[0].active).toBe(false);
    expect((await send('/app/recurrences', { cookie })).html).toMatch(/data-state="true">paused</);
    expect((await post(`/app/recurrences/${id}/resume`, {}, cookie)).status).toBe(303);
    expect((await api('GET', '/v1/recurrences', human.apiKey)).body[0].active).toBe(true);
    expect((await post(`/app/recurrences/${id}/delete`, {}, cookie)).status).toBe(303);
    expect((await api('GET', '/v1/recurrences', human.apiKey)).body).toEqual([]);
  });

  it('refuses bad input plainly and creates nothing', async () => {
    const { cookie, apiKey } = await signedInHuman();
    const forms: Record<string, string>[] = [
      { content: 'x', rule_type: 'hourly' },
      { content: '', rule_type: 'daily' },
      { content: 'x'.repeat(501), rule_type: 'daily' },
      { content: 'x', rule_type: 'daily', interval: 'abc' },
      { content: 'x', rule_type: 'daily', interval: '0' },
      { content: 'x', rule_type: 'daily', timezone: 'Mars/Olympus' },
      { content: 'x', rule_type: 'daily', next_due_at: 'soon' },
      { content: 'x', rule_type: 'daily', assigned_to_agent_id: 'agt_nobody' },
    ];
    for (const form of forms) {
      const res = await post('/app/recurrences', form, cookie);
      expect(res.status, JSON.stringify(form)).toBeGreaterThanOrEqual(400);
      expect(res.status, JSON.stringify(form)).toBeLessThan(500);
      expect(res.html).toContain('role="alert"');
    }
    expect((await api('GET', '/v1/recurrences', apiKey)).body).toEqual([]);
  });
});

describe('automations page', () => {
  it('creates a rule from JSON, shows its run log, edits, pauses, resumes and deletes', async () => {
    const human = await signedInHuman();
    const { cookie } = human;
    const made = await post(
      '/app/automations',
      {
        name: 'Label CI work',
        event: 'task.created',
        conditions: '[{"field":"label","op":"has","value":"ci"}]',
        actions: '[{"type":"set_priority","priority":4}]',
      },
      cookie,
    );
    expect(made.status).toBe(303);
    const id = idFrom(made.headers.get('Location'), 'automations');
    expect((await api('GET', `/v1/automations/${id}`, human.apiKey)).body).toMatchObject({
      name: 'Label CI work',
      event: 'task.created',
      active: true,
      actions: [{ type: 'set_priority', priority: 4 }],
    });

    const task = (await api('POST', '/v1/tasks', human.apiKey, { content: 'Flaky test', labels: ['ci'] })).body;
    await until(async () => (await api('GET', `/v1/automations/${id}/runs`, human.apiKey)).body.length > 0);
    const page = await send(`/app/automations/${id}`, { cookie });
    expect(page.html).toContain(`href="/app/tasks/${task.id}"`);
    expect(page.html).toMatch(/data-run-status="true">succeeded</);
    expect(page.html).toContain('set_priority: applied');

    expect(
      (
        await post(
          `/app/automations/${id}/edit`,
          { name: 'Urgent CI', event: 'task.updated', conditions: '', actions: '[{"type":"add_label","label":"triage"}]' },
          cookie,
        )
      ).status,
    ).toBe(303);
    expect((await api('GET', `/v1/automations/${id}`, human.apiKey)).body).toMatchObject({
      name: 'Urgent CI',
      event: 'task.updated',
      conditions: [],
      actions: [{ type: 'add_label', label: 'triage' }],
    });
    expect((await post(`/app/automations/${id}/pause`, {}, cookie)).status).toBe(303);
    expect((await api('GET', `/v1/automations/${id}`, human.apiKey)).body.active).toBe(false);
    expect((await post(`/app/automations/${id}/resume`, {}, cookie)).status).toBe(303);
    expect((await api('GET', `/v1/automations/${id}`, human.apiKey)).body.active).toBe(true);
    expect((await post(`/app/automations/${id}/delete`, {}, cookie)).status).toBe(303);
    expect((await api('GET', `/v1/automations/${id}`, human.apiKey)).status).toBe(404);
  });

  it('refuses bad JSON, unknown events and actions plainly, and creates nothing', async () => {
    const { cookie, apiKey } = await signedInHuman();
    const bad = [
      { name: 'x', event: 'task.created', actions: '[{"type":"assign"' },
      { name: 'x', event: 'task.exploded', actions: '[{"type":"add_label","label":"a"}]' },
      { name: 'x', event: 'task.created', actions: '[{"type":"launch"}]' },
      { name: 'x', event: 'task.created', actions: '[]' },
      { name: 'x', event: 'task.created', actions: '{"type":"add_label"}' },
      { name: 'x', event: 'task.created', actions: '[{"type":"assign","agent_id":"agt_notmine"}]' },
      { name: '', event: 'task.created', actions: '[{"type":"add_label","label":"a"}]' },
    ];
    for (const form of bad) {
      const res = await post('/app/automations', form, cookie);
      expect(res.status, JSON.stringify(form)).toBe(400);
      expect(res.html).toContain('role="alert"');
    }
    expect((await send('/app/automations', { cookie })).html).toContain('No rules yet');
    expect((await api('GET', '/v1/automations', apiKey)).body).toEqual([]);
  });
});

describe('ingress page', () => {
  it('creates a source with its secret shown once, logs deliveries, edits, rotates, pauses and deletes', async () => {
    const human = await signedInHuman();
    const { cookie } = human;
    const made = await post(
      '/app/ingress',
      {
        name: 'CI failures',
        template_content: 'CI failed: {{workflow}}',
        template_labels: 'ci',
        priority: '3',
        filters: '[{"path":"conclusion","op":"eq","value":"failure"}]',
      },
      cookie,
    );
    expect(made.status).toBe(200);
    const secret = made.html.match(/data-secret="ingress-secret">([^<]+)</)![1]!;
    const [source] = (await api('GET', '/v1/ingress-sources', human.apiKey)).body;
    expect(source).toMatchObject({
      name: 'CI failures',
      template: { content: 'CI failed: {{workflow}}', labels: ['ci'], priority: 3 },
      filters: [{ path: 'conclusion', op: 'eq', value: 'failure' }],
    });
    // Shown once: the list and the source's page never show it again.
    expect((await send('/app/ingress', { cookie })).html).not.toContain(secret);

    const body = JSON.stringify({ workflow: 'build', conclusion: 'failure' });
    const delivered = await deliver(source.id, body, await signature(secret, body));
    expect(delivered.status).toBe(201);
    const page = await send(`/app/ingress/${source.id}`, { cookie });
    expect(page.html).not.toContain(secret);
    expect(page.html).toMatch(/data-delivery-outcome="true">created</);
    expect(page.html).toContain(`href="/app/tasks/${delivered.body.task_id}"`);

    expect(
      (
        await post(
          `/app/ingress/${source.id}/edit`,
          { name: 'CI', template_content: 'Broken: {{workflow}}', priority: '1', filters: '' },
          cookie,
        )
      ).status,
    ).toBe(303);
    expect((await api('GET', `/v1/ingress-sources/${source.id}`, human.apiKey)).body).toMatchObject({
      name: 'CI',
      template: { content: 'Broken: {{workflow}}', priority: 1 },
      filters: [],
    });

    const rotated = await post(`/app/ingress/${source.id}/rotate`, {}, cookie);
    const fresh = rotated.html.match(/data-secret="ingress-secret">([^<]+)</)![1]!;
    expect(fresh).not.toBe(secret);
    const other = JSON.stringify({ workflow: 'lint' });
    expect((await deliver(source.id, other, await signature(secret, other))).status).toBe(401);
    expect((await deliver(source.id, other, await signature(fresh, other))).status).toBe(201);

    expect((await post(`/app/ingress/${source.id}/pause`, {}, cookie)).status).toBe(303);
    const paused = JSON.stringify({ workflow: 'paused' });
    expect((await deliver(source.id, paused, await signature(fresh, paused))).status).toBe(409);
    expect((await post(`/app/ingress/${source.id}/resume`, {}, cookie)).status).toBe(303);
    expect((await post(`/app/ingress/${source.id}/delete`, {}, cookie)).status).toBe(303);
    expect((await api('GET', `/v1/ingress-sources/${source.id}`, human.apiKey)).status).toBe(404);
  });

  it('refuses bad input plainly and creates nothing', async () => {
    const { cookie, apiKey } = await signedInHuman();
    const forms: Record<string, string>[] = [
      { name: 'x', template_content: '' },
      { name: '', template_content: 'x' },
      { name: 'x', template_content: 'x', filters: '[{"path":"a b","op":"eq","value":1}]' },
      { name: 'x', template_content: 'x', filters: 'nope' },
      { name: 'x', template_content: 'x', priority: '9' },
      { name: 'x', template_content: 'x', default_assignee_agent_id: 'agt_nobody' },
    ];
    for (const form of forms) {
      const res = await post('/app/ingress', form, cookie);
      expect(res.status, JSON.stringify(form)).toBe(400);
      expect(res.html).not.toContain('data-secret');
    }
    expect((await api('GET', '/v1/ingress-sources', apiKey)).body).toEqual([]);
  });
});

describe('another account', () => {
  it("never shows or changes another account's recurrences, rules or sources (404, nothing changes)", async () => {
    const mine = await signedInHuman();
    const theirs = await signedInHuman();
    const rec = (await api('POST', '/v1/recurrences', theirs.apiKey, { content: 'their recurrence', rule_type: 'daily' })).body;
    const rule = (
      await api('POST', '/v1/automations', theirs.apiKey, {
        name: 'their rule',
        event: 'task.created',
        actions: [{ type: 'add_label', label: 'x' }],
      })
    ).body;
    const source = (await api('POST', '/v1/ingress-sources', theirs.apiKey, { name: 'their source', template: { content: 'x' } })).body;
    const c = mine.cookie;
    for (const path of [`/app/recurrences/${rec.id}`, `/app/automations/${rule.id}`, `/app/ingress/${source.id}`]) {
      expect((await send(path, { cookie: c })).status, path).toBe(404);
      for (const action of ['pause', 'delete', 'edit'])
        expect(
          (
            await post(
              `${path}/${action}`,
              {
                name: 'mine',
                content: 'mine',
                rule_type: 'daily',
                event: 'task.created',
                actions: '[{"type":"add_label","label":"y"}]',
                template_content: 'y',
              },
              c,
            )
          ).status,
          `${path}/${action}`,
        ).toBe(404);
    }
    expect((await post(`/app/ingress/${source.id}/rotate`, {}, c)).status).toBe(404);
    expect((await api('GET', '/v1/recurrences', theirs.apiKey)).body[0]).toMatchObject({ content: 'their recurrence', active: true });
    expect((await api('GET', `/v1/automations/${rule.id}`, theirs.apiKey)).body).toMatchObject({ name: 'their rule', active: true });
    expect((await api('GET', `/v1/ingress-sources/${source.id}`, theirs.apiKey)).body).toMatchObject({
      name: 'their source',
      active: true,
    });
    for (const path of ['/app/recurrences', '/app/automations', '/app/ingress']) {
      const html = (await send(path, { cookie: c })).html;
      expect(html).not.toContain('their ');
    }
  });
});

describe('D1 round trips of these pages', () => {
  it('no page needs more than 3', async () => {
    const human = await signedInHuman();
    const rec = (await api('POST', '/v1/recurrences', human.apiKey, { content: 'r', rule_type: 'daily' })).body;
    const rule = (
      await api('POST', '/v1/automations', human.apiKey, { name: 'r', event: 'task.created', actions: [{ type: 'add_label', label: 'x' }] })
    ).body;
    const source = (await api('POST', '/v1/ingress-sources', human.apiKey, { name: 's', template: { content: 'x' } })).body;
    const app = createApp();
    for (const path of [
      '/app/recurrences',
      `/app/recurrences/${rec.id}`,
      '/app/automations',
      `/app/automations/${rule.id}`,
      '/app/ingress',
      `/app/ingress/${source.id}`,
    ]) {
      const counter = { count: 0 };
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request(`${BASE}${path}`, { headers: { Cookie: `delega_human=${human.cookie}` } }),
        { ...env, DB: countingD1(env.DB, counter) },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(res.status, path).toBe(200);
      expect(counter.count, path).toBeLessThanOrEqual(3);
      await res.text();
    }
  });
});
