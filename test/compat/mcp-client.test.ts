/**
 * The MCP client (`delega-mcp/src/delega-client.ts`, unchanged) against `wrangler dev`, every
 * method in hosted mode (`/v1`, the real hosted URL with fetch pointed at the dev server) and in
 * `/api` mode, and its formatters fed the real answers: what an agent reads has no `undefined`,
 * `[object Object]` or wrong defaults.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startDevServer, type DevServer } from '../e2e/harness';
import { shapeProblems, type OpenApiDoc } from './openapi-shape';
import {
  clientsMissing,
  loadMcpModules,
  mcpClient,
  newAccount,
  RENDERED_GAPS,
  routeHostedApiTo,
  type McpClient,
  type McpMethod,
  type McpModules,
} from './clients';

/** Client methods this suite does not drive, each with where it is covered instead. */
export const MCP_METHODS_WITHOUT_ROUTE: Partial<Record<McpMethod, string>> = {
  listRecurrences: 'recurrences (GET /recurrences): driven in recurrences.test.ts',
  createRecurrence: 'recurrences (POST /recurrences): driven in recurrences.test.ts',
  updateRecurrence: 'recurrences (PUT /recurrences/{id}): driven in recurrences.test.ts',
  deleteRecurrence: 'recurrences (DELETE /recurrences/{id}): driven in recurrences.test.ts',
  listAutomations: 'automations (GET /automations): driven in mcp-automations-ingress.test.ts',
  createAutomation: 'automations (POST /automations): driven in mcp-automations-ingress.test.ts',
  updateAutomation: 'automations (PUT /automations/{id}): driven in mcp-automations-ingress.test.ts',
  deleteAutomation: 'automations (DELETE /automations/{id}): driven in mcp-automations-ingress.test.ts',
  listIngressSources: 'ingress sources (GET /ingress-sources): driven in mcp-automations-ingress.test.ts',
  createIngressSource: 'ingress sources (POST /ingress-sources): driven in mcp-automations-ingress.test.ts',
  updateIngressSource: 'ingress sources (PUT /ingress-sources/{id}): driven in mcp-automations-ingress.test.ts',
  deleteIngressSource: 'ingress sources (DELETE /ingress-sources/{id}): driven in mcp-automations-ingress.test.ts',
  searchContext: 'recall (GET /context/search): driven in recurrences.test.ts, and over stdio in both modes in mcp-server.test.ts',
};

/** Client methods the client itself refuses outside hosted mode, before any request. */
const HOSTED_ONLY: McpMethod[] = ['claimTask', 'heartbeatTask', 'setTaskState', 'releaseTask', 'getUsage'];

if (clientsMissing) console.warn(`MCP client compatibility skipped: ${clientsMissing}`);
else
  console.info(
    `MCP client methods not driven here: ${Object.entries(MCP_METHODS_WITHOUT_ROUTE)
      .map(([m, why]) => `${m} (${why})`)
      .join('; ')}`,
  );

/** Text an agent reads: never a missing field rendered as text. */
function shown(text: string): string {
  expect(text, text).not.toMatch(RENDERED_GAPS);
  return text;
}

describe.skipIf(clientsMissing !== null)('the MCP client, unchanged, against wrangler dev', () => {
  let server: DevServer;
  let mods: McpModules;
  let undoRoute: () => void;
  const called = { hosted: new Set<string>(), api: new Set<string>() };
  /** Real hosted answers, held to the OpenAPI document at the end. */
  const answers: { method: string; path: string; body: unknown }[] = [];
  const keep = <T>(mode: 'hosted' | 'api', method: string, path: string, body: T): T => {
    if (mode === 'hosted') answers.push({ method, path: `/v1${path}`, body });
    return body;
  };

  beforeAll(async () => {
    server = await startDevServer({ vars: { LIMIT_RATE_PER_MINUTE: '100000' } });
    mods = await loadMcpModules();
    undoRoute = routeHostedApiTo(server.baseUrl);
  });
  afterAll(async () => {
    undoRoute?.();
    await server?.stop();
  });

  /** The client, recording which methods each mode drove. */
  async function client(mode: 'hosted' | 'api', key: string): Promise<McpClient> {
    const c = await mcpClient({ mode, baseUrl: server.baseUrl, key });
    return new Proxy(c, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof name === 'string' && typeof value === 'function') {
          return (...args: unknown[]) => {
            called[mode].add(name);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return value;
      },
    });
  }

  for (const mode of ['hosted', 'api'] as const) {
    describe(`${mode} mode (${mode === 'hosted' ? '/v1' : '/api'})`, () => {
      let c: McpClient;
      let me: { key: string; agentId: string };
      let projectId: string;
      const f = () => mods.formatters;
      const raw = (method: string, path: string, body?: unknown) => http(server.baseUrl, method, `/v1${path}`, { key: me.key, body });

      beforeAll(async () => {
        me = await newAccount(server.baseUrl, `mcp-${mode}`);
        c = await client(mode, me.key);
        projectId = (await raw('POST', '/projects', { name: 'Launch' })).body.id;
      });

      it('tasks: create, update, read with context, links and subtasks, list with filters, delete', async () => {
        const task = keep(
          mode,
          'POST',
          '/tasks',
          await c.createTask({
            content: 'Ship the release',
            description: 'Cut v2',
            project_id: projectId,
            labels: ['release', 'ci'],
            priority: 3,
            due_date: '2026-01-02',
            evidence_policy: 'required',
          }),
        );
        const created = shown(f().formatTaskDetail(task));
        for (const line of [
          `[#${task.id}] Ship the release`,
          '  Description: Cut v2',
          '  Labels: release, ci',
          '  Priority: 3',
          '  Due: 2026-01-02',
          '  Evidence policy: required',
          `  Created by: #${me.agentId}`,
          '  Completed: no',
        ])
          expect(created).toContain(line);
        expect(created).not.toContain('Delegation:');

        const updated = keep(
          mode,
          'PUT',
          '/tasks/{id}',
          await c.updateTask(task.id, { description: 'Cut v2.1', priority: 4, labels: ['release'] }),
        );
        expect(shown(f().formatTaskDetail(updated))).toContain('  Priority: 4');

        const link = await c.linkTask(task.id, { kind: 'pr', repo: 'acme/api', ref: '#12', url: 'https://github.com/acme/api/pull/12' });
        expect(link).toMatchObject({ kind: 'pr', repo: 'acme/api', ref: '#12' });
        keep(mode, 'POST', '/tasks/{id}/links', link);
        const links = keep(mode, 'GET', '/tasks/{id}/links', await c.listTaskLinks(task.id));
        expect(links).toHaveLength(1);

        const ctx = await c.updateTaskContext(task.id, { decision: 'ship friday', owners: ['ada'] }, 0, 'human_stated');
        expect(ctx).toEqual({ context: { decision: 'ship friday', owners: ['ada'] }, version: 1 });
        expect((await raw('POST', `/tasks/${task.id}/subtasks`, { content: 'Tag the build' })).status).toBe(201);

        const read = keep(mode, 'GET', '/tasks/{id}', await c.getTask(task.id));
        const detail = shown(f().formatTaskDetail({ ...read, links }));
        for (const line of [
          '  Context:',
          '      "decision": "ship friday",',
          '  Links:',
          '    pr: acme/api #12 — https://github.com/acme/api/pull/12',
          '  Subtasks:',
          '(pending)',
        ])
          expect(detail).toContain(line);
        // The list view shows the context's keys when a task carries it.
        expect(shown(f().formatTask(read))).toContain('  Context keys: decision, owners (2)');

        const overdue = await c.listTasks({ due: 'overdue' });
        expect(overdue.map((t: { id: string }) => t.id)).toContain(task.id);
        for (const filter of [{ completed: false }, { label: 'release' }, { project_id: projectId }, { claimed: false }, {}]) {
          const list = keep(mode, 'GET', '/tasks', await c.listTasks(filter));
          expect(
            list.map((t: { id: string }) => t.id),
            JSON.stringify(filter),
          ).toContain(task.id);
          for (const t of list) shown(f().formatTask(t));
        }
        expect(await c.listTasks({ claimed: true })).toEqual([]);

        const doomed = await c.createTask({ content: 'Throwaway' });
        await c.deleteTask(doomed.id);
        const missing = await c.getTask(doomed.id).catch((e: unknown) => e);
        expect(missing).toBeInstanceOf(mods.DelegaApiError);
        expect((missing as { status: number }).status).toBe(404);
        expect(JSON.parse((missing as { responseBody: string }).responseBody).error).toEqual(expect.any(String));
      });

      it('context: provenance names the author; history is {entries, next_cursor}, newest first', async () => {
        const task = await c.createTask({ content: 'Decide the database' });
        await c.updateTaskContext(task.id, { db: 'sqlite' }, undefined, 'agent_observed');
        await c.updateTaskContext(task.id, { db: 'd1' }, 1);
        const stale = await c.updateTaskContext(task.id, { db: 'postgres' }, 1).catch((e: unknown) => e);
        expect((stale as { status: number }).status).toBe(409);
        expect(JSON.parse((stale as { responseBody: string }).responseBody)).toMatchObject({ version: 2, context: { db: 'd1' } });

        const withProvenance = keep(mode, 'GET', '/tasks/{id}/context', await c.getTaskContext(task.id, true));
        expect(withProvenance).toMatchObject({ context: { db: 'd1' }, version: 2 });
        expect(withProvenance.provenance.db).toEqual({
          author_agent_id: me.agentId,
          author_name: expect.any(String),
          source: 'agent_inferred',
          version: 2,
          created_at: expect.stringMatching(/Z$/),
        });
        expect(await c.getTaskContext(task.id)).toEqual({ context: { db: 'd1' }, version: 2 });

        const history = keep(mode, 'GET', '/tasks/{id}/context/history', await c.getContextHistory(task.id));
        expect(history.next_cursor).toBeNull();
        expect(
          history.entries.map((e: { value: unknown; source: string; superseded_at: string | null }) => [
            e.value,
            e.source,
            e.superseded_at === null,
          ]),
        ).toEqual([
          ['d1', 'agent_inferred', true],
          ['sqlite', 'agent_observed', false],
        ]);
        expect((await c.getContextHistory(task.id, 'db')).entries).toHaveLength(2);
        expect((await c.getContextHistory(task.id, 'other')).entries).toEqual([]);
      });

      it('delegation: depth, parent and root on every task and chain node; dedup matches by score', async () => {
        const root = await c.createTask({ content: 'Research competitors' });
        const child = keep(
          mode,
          'POST',
          '/tasks/{id}/delegate',
          await c.delegateTask(root.id, { content: 'Pricing pages', priority: 2, assigned_to_agent_id: me.agentId, labels: ['research'] }),
        );
        expect(shown(f().formatTaskDetail(child))).toContain(`  Delegation: depth 1, parent #${root.id}, root #${root.id}`);
        expect(shown(f().formatTaskDetail(child))).toContain(`  Assigned to: #${me.agentId}`);
        const grandchild = await c.delegateTask(child.id, { content: 'Enterprise tier' });
        expect(shown(f().formatTaskDetail(grandchild))).toContain(`  Delegation: depth 2, parent #${child.id}, root #${root.id}`);

        const chain = keep(mode, 'GET', '/tasks/{id}/chain', await c.getTaskChain(grandchild.id));
        expect(shown(f().formatChain(chain)).split('\n')).toEqual([
          `Delegation chain (root #${root.id}, depth 2, 0/3 complete):`,
          `  [#${root.id}] Research competitors (depth 0, delegated)`,
          `    [#${child.id}] Pricing pages (depth 1, delegated)`,
          `      [#${grandchild.id}] Enterprise tier (depth 2, open)`,
        ]);

        const assigned = await c.assignTask(grandchild.id, me.agentId);
        expect(shown(f().formatTaskDetail(assigned))).toContain(`  Assigned to: #${me.agentId}`);
        const unassigned = await c.assignTask(grandchild.id, null);
        expect(shown(f().formatTaskDetail(unassigned))).not.toContain('Assigned to:');

        const dup = keep(mode, 'POST', '/tasks/dedup', await c.findDuplicateTasks('Research competitors'));
        expect(dup.has_duplicates).toBe(true);
        expect(shown(f().formatDedupResult(dup))).toContain(`  [#${root.id}] Research competitors (score 1.00)`);
        const none = await c.findDuplicateTasks('Quarterly tax filing', 0.9);
        expect(none).toEqual({ has_duplicates: false, matches: [] });
        expect(f().formatDedupResult(none)).toBe('No duplicates found.');
      });

      it('completion evidence is on the task; comments, projects and stats read as the server prints them', async () => {
        const task = await c.createTask({ content: 'Fix the flaky test', evidence_policy: 'required' });
        const refused = await c.completeTask(task.id).catch((e: unknown) => e);
        expect((refused as { status: number }).status).toBe(422);
        const done = keep(
          mode,
          'POST',
          '/tasks/{id}/complete',
          await c.completeTask(task.id, [
            { kind: 'pr', ref: 'acme/api#12', summary: 'the fix' },
            { kind: 'command_output', ref: 'npm test: ok' },
          ]),
        );
        expect(done.completion_evidence).toHaveLength(2);
        const detail = shown(f().formatTaskDetail(await c.getTask(task.id)));
        for (const line of [
          '  Status: completed',
          '  Completed: yes',
          `  Completed by: #${me.agentId}`,
          '  Completion evidence:',
          '    - pr: acme/api#12 — the fix',
          '    - command_output: npm test: ok',
        ])
          expect(detail).toContain(line);

        const comment = keep(
          mode,
          'POST',
          '/tasks/{id}/comments',
          await c.addComment(task.id, { content: 'Verified on main', author: 'Ada' }),
        );
        expect(comment).toMatchObject({ content: 'Verified on main', author: 'Ada' });

        const projects = keep(mode, 'GET', '/projects', await c.listProjects());
        expect(projects.map((p: unknown) => shown(f().formatProject(p)))).toContain(`[#${projectId}] Launch`);

        const stats = keep(mode, 'GET', '/stats', await c.getStats());
        expect(stats).toMatchObject({
          total: expect.any(Number),
          completed_today: expect.any(Number),
          due_today: expect.any(Number),
          overdue: expect.any(Number),
        });
        expect(stats.by_project.Launch).toBe(1);
        for (const count of Object.values(stats.by_project)) expect(typeof count).toBe('number');
      });

      it('agents and webhooks: register (role or permissions), set role, list, delete', async () => {
        const agent = keep(
          mode,
          'POST',
          '/agents',
          await c.registerAgent({ name: `helper-${mode}`, display_name: 'Helper', description: 'Triage', role: 'worker' }),
        );
        const text = shown(f().formatAgent(agent));
        for (const line of [
          `[#${agent.id}] helper-${mode} (Helper)`,
          '  Description: Triage',
          '  API Key Preview: dlg_',
          '  Role: worker',
          '  Active: yes',
        ])
          expect(text).toContain(line);
        const scoped = await c.registerAgent({ name: `reader-${mode}`, permissions: ['tasks.read_all'] });
        expect(scoped.role).toBe('coordinator');
        expect(shown(f().formatAgent(keep(mode, 'PUT', '/agents/{id}', await c.setAgentRole(agent.id, 'coordinator'))))).toContain(
          '  Role: coordinator',
        );
        const agents = keep(mode, 'GET', '/agents', await c.listAgents());
        for (const a of agents) expect(shown(f().formatAgent(a))).not.toContain('API Key');
        expect(agents.map((a: { id: string }) => a.id)).toEqual(expect.arrayContaining([me.agentId, agent.id, scoped.id]));
        await c.deleteAgent(scoped.id);
        expect((await c.listAgents()).map((a: { id: string }) => a.id)).not.toContain(scoped.id);

        const hook = keep(
          mode,
          'POST',
          '/webhooks',
          await c.createWebhook({
            url: 'https://hooks.example.com/delega',
            events: ['task.created', 'task.released', 'task.state_changed', 'task.linked'],
          }),
        );
        keep(mode, 'GET', '/webhooks', await c.listWebhooks());
        expect(hook).toMatchObject({
          id: expect.any(String),
          url: 'https://hooks.example.com/delega',
          events: ['task.created', 'task.released', 'task.state_changed', 'task.linked'],
          secret: expect.stringMatching(/^whsec_/),
        });
        expect((await c.listWebhooks()).map((w: { id: string; active: boolean }) => [w.id, w.active])).toEqual([[hook.id, true]]);
        await c.deleteWebhook(hook.id);
        expect(await c.listWebhooks()).toEqual([]);
      });

      if (mode === 'hosted') {
        it('claims: lease fields at the top of heartbeat and state, a release handoff shown to the next claimer, fleet attention and usage', async () => {
          const label = `queue-${Date.now()}`;
          const task = await c.createTask({ content: 'Migrate the database', labels: [label] });
          const claimed = keep(mode, 'POST', '/tasks/claim', await c.claimTask({ labels: [label], lease_seconds: 120 }));
          expect(claimed.task).toMatchObject({
            id: task.id,
            status: 'claimed',
            claimed_by_agent_id: me.agentId,
            lease_expires_at: expect.stringMatching(/Z$/),
          });
          expect(shown(f().formatTaskDetail(claimed.task))).toContain('  Status: claimed (working)');
          expect(await c.claimTask({ labels: [label] })).toEqual({ task: null });

          const beat = keep(mode, 'POST', '/tasks/{id}/heartbeat', await c.heartbeatTask(task.id, 300, 'waiting_input', 'need prod creds'));
          expect(beat).toMatchObject({
            id: task.id,
            lease_expires_at: expect.stringMatching(/Z$/),
            session_state: 'waiting_input',
            session_state_detail: 'need prod creds',
          });
          const state = keep(mode, 'POST', '/tasks/{id}/state', await c.setTaskState(task.id, 'errored', 'migration failed'));
          expect(state).toMatchObject({
            session_state: 'errored',
            session_state_detail: 'migration failed',
            lease_expires_at: beat.lease_expires_at,
          });
          expect(shown(f().formatTaskDetail(state))).toContain('  Status: claimed (errored — "migration failed")');

          const attention = keep(mode, 'GET', '/fleet/attention', await c.getFleetAttention());
          const board = shown(f().formatFleetAttention(attention));
          expect(board).toContain('Errored (1):');
          expect(board).toContain(`  #${task.id} Migrate the database — "migration failed"`);

          // An agent that went silent: its lease lapsed (set in D1, no waiting).
          const silent = await c.createTask({ content: 'Rotate the keys', labels: [`${label}-b`] });
          await c.claimTask({ task_id: silent.id, lease_seconds: 60 });
          server.query(`UPDATE tasks SET lease_expires_at = '2000-01-01T00:00:00Z' WHERE id = '${silent.id}'`);
          const lapsed = shown(f().formatFleetAttention(await c.getFleetAttention()));
          expect(lapsed).toContain('Abandoned claims (agent went silent, lease expired) (1):');
          expect(lapsed).toContain(`  #${silent.id} Rotate the keys`);

          const released = keep(mode, 'POST', '/tasks/{id}/release', await c.releaseTask(task.id, 'schema written; blocked on creds'));
          expect(released).toMatchObject({
            status: 'open',
            handoff_note: 'schema written; blocked on creds',
            handoff_by_agent_id: me.agentId,
            handoff_state: 'errored',
          });
          const other = await c.registerAgent({ name: 'night-shift', role: 'worker' });
          const next = keep(
            mode,
            'POST',
            '/tasks/{id}/claim',
            await (await client('hosted', other.api_key)).claimTask({ task_id: task.id }),
          );
          expect(shown(f().formatTaskDetail(next.task))).toContain(
            `  ↩ Resuming from #${me.agentId} [errored]: "schema written; blocked on creds"`,
          );

          const usage = keep(mode, 'GET', '/usage', await c.getUsage());
          const usageText = shown(f().formatUsage(usage));
          for (const line of [
            '  Plan: free',
            '  Tasks: ',
            ' (resets ',
            '  Agents: 3/25',
            '  Webhooks: 0/10',
            '  Projects: ',
            '  Rate limit: 100000 req/min',
            '  Max content chars: 500',
          ])
            expect(usageText).toContain(line);
        });
      } else {
        it('refuses the hosted-only methods itself, before any request', async () => {
          for (const method of HOSTED_ONLY) {
            const args = method === 'claimTask' ? [{}] : method === 'getUsage' ? [] : ['tsk_x', 'working'];
            await expect(c[method](...args), method).rejects.toThrow(/only available on the Delega API/);
          }
          // Fleet attention is not gated: it answers here too (the overdue task of the first test).
          const board = shown(f().formatFleetAttention(await c.getFleetAttention()));
          expect(board).toContain('Fleet attention — 1 item(s) need attention:');
          expect(board).toContain('Overdue (1):');
          expect(board).toContain('Ship the release');
        });
      }
    });
  }

  it('answers what the OpenAPI document declares for each route the client called', async () => {
    const doc = (await (await fetch(`${server.baseUrl}/v1/openapi.json`)).json()) as OpenApiDoc;
    expect(answers.length).toBeGreaterThan(25);
    const problems = answers.flatMap((a) => shapeProblems(doc, a.method, a.path, a.body));
    expect(problems).toEqual([]);
  });

  it('drove every client method on an existing route, in both modes', async () => {
    const methods = Object.getOwnPropertyNames(mods.DelegaClient.prototype).filter(
      (m) => !['constructor', 'request', 'assertHostedClaiming'].includes(m),
    ) as McpMethod[];
    const hosted = methods.filter((m) => !(m in MCP_METHODS_WITHOUT_ROUTE));
    expect([...called.hosted].sort()).toEqual(hosted.sort());
    expect([...called.api].sort()).toEqual(hosted.sort());
  });
});
