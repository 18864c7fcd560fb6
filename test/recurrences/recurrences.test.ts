/** /v1/recurrences through the Worker: the fields the MCP formatter prints, bad input, and access. */
import { describe, expect, it } from 'vitest';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';

const weekly = {
  content: 'Weekly report',
  rule_type: 'weekly',
  anchor_weekday: 1,
  timezone: 'America/Chicago',
  next_due_at: '2026-06-22T14:00:00Z',
  skip_if_open: true,
};

describe('recurrences CRUD', () => {
  it('creates, lists, pauses, resumes and deletes, answering every field', async () => {
    const acct = await makeAccount();
    const created = await api('POST', '/v1/recurrences', acct.adminKey, {
      ...weekly,
      labels: ['ops', 'ops'],
      priority: 'high',
      description: 'Numbers for Monday',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      content: 'Weekly report',
      description: 'Numbers for Monday',
      labels: ['ops'],
      priority: 3,
      rule_type: 'weekly',
      interval: 1,
      timezone: 'America/Chicago',
      anchor_weekday: 1,
      anchor_day: null,
      anchor_month: null,
      next_due_at: '2026-06-22T14:00:00Z',
      active: true,
      skip_if_open: true,
      last_spawned_at: null,
      created_by_agent_id: acct.adminId,
      assigned_to_agent_id: null,
    });
    const id = created.body.id as string;
    expect(id).toMatch(/^rec_/);

    const listed = await api('GET', '/v1/recurrences', acct.adminKey);
    expect(listed.status).toBe(200);
    expect(listed.body.map((r: { id: string }) => r.id)).toEqual([id]);

    const paused = await api('PUT', `/v1/recurrences/${id}`, acct.adminKey, { active: false });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ active: false, next_due_at: '2026-06-22T14:00:00Z' });

    // Resuming recomputes from now: the occurrences slept through are not owed; 09:00 Chicago on a Monday.
    const resumed = await api('PUT', `/v1/recurrences/${id}`, acct.adminKey, { active: true });
    expect(resumed.body.active).toBe(true);
    const next = new Date(resumed.body.next_due_at);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(8 * 86_400_000);
    const chicago = new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/Chicago',
      weekday: 'short',
      hour: 'numeric',
      hourCycle: 'h23',
    }).format(next);
    expect(chicago).toBe('Mon, 09');

    const removed = await api('DELETE', `/v1/recurrences/${id}`, acct.adminKey);
    expect(removed).toMatchObject({ status: 200, body: { deleted: true, id } });
    expect((await api('GET', '/v1/recurrences', acct.adminKey)).body).toEqual([]);
    expect((await api('DELETE', `/v1/recurrences/${id}`, acct.adminKey)).status).toBe(404);
  });

  it('starts a monthly rule without next_due_at at local midnight on its anchor day, and keeps the 31st', async () => {
    const acct = await makeAccount();
    const res = await api('POST', '/v1/recurrences', acct.adminKey, {
      content: 'Rent',
      rule_type: 'monthly',
      anchor_day: 31,
      timezone: 'Europe/Berlin',
    });
    expect(res.status).toBe(201);
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      day: 'numeric',
      month: 'numeric',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(new Date(res.body.next_due_at))
      .reduce<Record<string, string>>((o, p) => ({ ...o, [p.type]: p.value }), {});
    expect(`${local.hour}:${local.minute}`).toBe('00:00');
    const lastDay = new Date(Date.UTC(Number(local.year), Number(local.month), 0)).getUTCDate();
    expect(Number(local.day)).toBe(Math.min(31, lastDay));
    expect(res.body.anchor_day).toBe(31);
  });

  it('refuses bad input with 400 and changes nothing', async () => {
    const acct = await makeAccount();
    const bad = [
      { content: 'x', rule_type: 'hourly' },
      { content: 'x', rule_type: 'daily', interval: 0 },
      { content: 'x', rule_type: 'daily', interval: 1.5 },
      { content: 'x', rule_type: 'daily', timezone: 'Mars/Olympus' },
      { content: 'x', rule_type: 'monthly', anchor_day: 32 },
      { content: 'x', rule_type: 'yearly', anchor_month: 13 },
      { content: 'x', rule_type: 'weekly', anchor_weekday: 7 },
      { content: 'x', rule_type: 'daily', next_due_at: 'tomorrow' },
      { content: '', rule_type: 'daily' },
      { content: 'x'.repeat(501), rule_type: 'daily' },
      { rule_type: 'daily' },
      { content: 'x', rule_type: 'daily', surprise: true },
      { content: 'x', rule_type: 'daily', active: 'yes' },
    ];
    for (const body of bad) {
      const res = await api('POST', '/v1/recurrences', acct.adminKey, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    expect((await api('GET', '/v1/recurrences', acct.adminKey)).body).toEqual([]);
  });

  it('refuses another account’s project, agent and recurrence as not found', async () => {
    const mine = await makeAccount();
    const theirs = await makeAccount();
    const other = (await api('POST', '/v1/recurrences', theirs.adminKey, { content: 'Theirs', rule_type: 'daily' })).body;
    expect(
      (await api('POST', '/v1/recurrences', mine.adminKey, { content: 'x', rule_type: 'daily', project_id: theirs.projectId })).status,
    ).toBe(404);
    expect(
      (await api('POST', '/v1/recurrences', mine.adminKey, { content: 'x', rule_type: 'daily', assigned_to_agent_id: theirs.adminId }))
        .status,
    ).toBe(404);
    expect((await api('PUT', `/v1/recurrences/${other.id}`, mine.adminKey, { active: false })).status).toBe(404);
    expect((await api('DELETE', `/v1/recurrences/${other.id}`, mine.adminKey)).status).toBe(404);
    expect((await api('GET', '/v1/recurrences', mine.adminKey)).body).toEqual([]);
    const still = (await api('GET', '/v1/recurrences', theirs.adminKey)).body;
    expect(still).toMatchObject([{ id: other.id, active: true }]);
  });

  it('follows the task rules: a worker sees and changes its own and assigned ones, a coordinator sees all', async () => {
    const acct = await makeAccount();
    const worker = await makeAgent(acct, 'worker');
    const coordinator = await makeAgent(acct, 'coordinator');
    const adminOwn = (await api('POST', '/v1/recurrences', acct.adminKey, { content: 'Admin only', rule_type: 'daily' })).body;
    const assigned = (
      await api('POST', '/v1/recurrences', acct.adminKey, {
        content: 'For the worker',
        rule_type: 'daily',
        assigned_to_agent_id: worker.id,
      })
    ).body;
    const workerOwn = (await api('POST', '/v1/recurrences', worker.key, { content: 'Worker’s own', rule_type: 'daily' })).body;

    const seen = (await api('GET', '/v1/recurrences', worker.key)).body.map((r: { id: string }) => r.id).sort();
    expect(seen).toEqual([assigned.id, workerOwn.id].sort());
    expect((await api('PUT', `/v1/recurrences/${adminOwn.id}`, worker.key, { active: false })).status).toBe(404);
    expect((await api('PUT', `/v1/recurrences/${assigned.id}`, worker.key, { skip_if_open: true })).status).toBe(200);
    expect(
      (await api('POST', '/v1/recurrences', worker.key, { content: 'x', rule_type: 'daily', assigned_to_agent_id: 'agt_nope' })).status,
    ).toBe(404);

    expect((await api('GET', '/v1/recurrences', coordinator.key)).body).toHaveLength(3);
    const refused = await api('PUT', `/v1/recurrences/${workerOwn.id}`, coordinator.key, { active: false });
    expect(refused).toMatchObject({ status: 403, body: { code: 'RECURRENCE_NOT_OWNED' } });
    expect((await api('DELETE', `/v1/recurrences/${workerOwn.id}`, acct.adminKey)).status).toBe(200);
  });

  it('pins a restricted key to its sandbox project', async () => {
    const acct = await makeAccount({ status: 'restricted' });
    const res = await api('POST', '/v1/recurrences', acct.adminKey, { content: 'Sandboxed', rule_type: 'daily' });
    expect(res.status).toBe(201);
    expect(res.body.project_id).toBe(acct.projectId);
    expect((await api('PUT', `/v1/recurrences/${res.body.id}`, acct.adminKey, { project_id: null })).status).toBe(404);
  });
});
