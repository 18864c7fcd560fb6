/**
 * The MCP server (`@delega-dev/mcp`, built unchanged) over stdio against `wrangler dev`:
 * initialize, tools/list, and a tools/call of every one of its 44 tools, in hosted mode and in
 * `/api` mode, checking the text an agent reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../e2e/harness';
import { builtClient, clientsMissing, newAccount, RENDERED_GAPS, startMcpServer, type McpServerSession } from './clients';

/** Tools the server refuses itself outside hosted mode. */
const HOSTED_ONLY_TOOLS = ['claim_task', 'heartbeat_task', 'set_task_state', 'release_task', 'get_usage'];

if (clientsMissing) console.warn(`MCP server compatibility skipped: ${clientsMissing}`);

const idIn = (text: string, prefix: string) => {
  const m = new RegExp(`\\[#(${prefix}_\\w+)\\]`).exec(text);
  if (!m) throw new Error(`no ${prefix} id in:\n${text}`);
  return m[1]!;
};

/** Polls an observable state (a queue consumer's effect) until `probe` returns something. */
async function until<T>(what: string, probe: () => Promise<T | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(clientsMissing !== null)('the MCP server, built unchanged, over stdio', () => {
  let server: DevServer;
  beforeAll(async () => {
    // Build first (once per client version), then start the service.
    await builtClient('delega-mcp');
    server = await startDevServer({ vars: { LIMIT_RATE_PER_MINUTE: '100000' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  for (const mode of ['hosted', 'api'] as const) {
    describe(`${mode} mode`, () => {
      let mcp: McpServerSession;
      let me: { key: string; agentId: string };
      const called = new Set<string>();
      /** A tool call whose text must read cleanly; `error` says whether the tool should report one. */
      const call = async (name: string, args: Record<string, unknown> = {}, error = false) => {
        called.add(name);
        const result = await mcp.callTool(name, args);
        expect(result.isError, `${name}: ${result.text}`).toBe(error);
        expect(result.text, `${name}: ${result.text}`).not.toMatch(RENDERED_GAPS);
        return result.text;
      };

      beforeAll(async () => {
        me = await newAccount(server.baseUrl, `mcp-srv-${mode}`);
        mcp = await startMcpServer({ mode, baseUrl: server.baseUrl, key: me.key });
      });
      afterAll(async () => {
        await mcp?.close();
      });

      it('lists its 44 tools, each with an input schema', async () => {
        const { tools } = (await mcp.request('tools/list')) as { tools: { name: string; inputSchema: { type: string } }[] };
        expect(tools).toHaveLength(44);
        for (const t of tools) expect(t.inputSchema.type, t.name).toBe('object');
      });

      it('tasks, context, delegation, dedup, comments, projects and stats', async () => {
        const created = await call('create_task', { content: 'Ship the release', labels: ['ops'], priority: 2, due_date: '2030-01-15' });
        const id = idIn(created, 'tsk');
        expect(created).toContain('  Due: 2030-01-15');
        expect(await call('update_task', { task_id: id, priority: 3, description: 'Cut v2' })).toContain('  Priority: 3');
        expect(await call('link_task', { task_id: id, kind: 'branch', repo: 'acme/api', ref: 'release/v2' })).toContain(
          `Task #${id} linked:`,
        );
        expect(await call('list_task_links', { task_id: id })).toContain('  branch: acme/api release/v2');

        expect(await call('update_task_context', { task_id: id, context: { step: 'tagging' }, source: 'human_stated' })).toContain(
          `Context updated for task #${id} (now version 1).`,
        );
        const conflict = await call('update_task_context', { task_id: id, context: { step: 'late' }, expected_version: 0 }, true);
        expect(conflict).toContain('Current context (version 1):');
        const context = await call('get_task_context', { task_id: id, include_provenance: true });
        expect(context).toContain(`Context for task #${id} (context version 1 — pass expected_version 1`);
        expect(context).toMatch(/Provenance:\n {2}step: by .+, human_stated, \d{4}-\d{2}-\d{2}T[\d:]+Z, v1/);
        const history = await call('get_context_history', { task_id: id });
        expect(history).toMatch(/step \(v1, human_stated, by .+, \d{4}-\d{2}-\d{2}T[\d:]+Z, live\)/);
        expect(history).not.toContain('No context history found.');

        const detail = await call('get_task', { task_id: id });
        for (const line of ['  Description: Cut v2', '  Context:', '"step": "tagging"', '  Links:', '    branch: acme/api release/v2'])
          expect(detail).toContain(line);

        const child = await call('delegate_task', { task_id: id, content: 'Write the notes', assigned_to_agent_id: me.agentId });
        const childId = idIn(child, 'tsk');
        expect(child).toContain(`  Delegation: depth 1, parent #${id}, root #${id}`);
        expect(await call('get_task_chain', { task_id: childId })).toContain(`Delegation chain (root #${id}, depth 1, 0/2 complete):`);
        expect(await call('assign_task', { task_id: childId, agent_id: null })).toContain('Task unassigned:');
        expect(await call('find_duplicate_tasks', { content: 'Ship the release' })).toContain(`  [#${id}] Ship the release (score 1.00)`);
        expect(await call('add_comment', { task_id: id, content: 'Tagged', author: 'Ada' })).toBe(
          `Comment added to task #${id}:\n  "Tagged" — Ada`,
        );
        expect(await call('list_projects')).toMatch(/\[#prj_\w+\] /);
        const stats = await call('get_stats');
        expect(stats).toContain('  Total tasks: 2');
        expect(stats).toContain('  By project:\n    No project: 2');
        expect(await call('list_tasks', { completed: false, label: 'ops' })).toContain(`[#${id}] Ship the release`);

        expect(await call('complete_task', { task_id: childId, evidence: [{ kind: 'commit', ref: 'abc123' }] })).toBe(
          `Task #${childId} completed.`,
        );
        const other = idIn(await call('create_task', { content: 'Throwaway' }), 'tsk');
        expect(await call('delete_task', { task_id: other })).toBe(`Task #${other} deleted.`);
        expect(await call('get_task', { task_id: other }, true)).toMatch(/^Error: /);
      });

      it('agents and webhooks', async () => {
        const registered = await call('register_agent', { name: `srv-bot-${mode}`, display_name: 'Server Bot', role: 'worker' });
        const agentId = idIn(registered, 'agt');
        expect(registered).toContain('  API Key Preview: dlg_');
        expect(await call('set_agent_role', { agent_id: agentId, role: 'coordinator' })).toContain('  Role: coordinator');
        expect(await call('list_agents')).toContain(`[#${agentId}] srv-bot-${mode} (Server Bot)`);
        expect(await call('delete_agent', { agent_id: agentId })).toBe(`Agent #${agentId} deleted.`);

        expect(await call('list_webhooks')).toBe('No webhooks configured.');
        const hook = await call('create_webhook', { url: 'https://hooks.example.com/mcp', events: ['task.created', 'task.claimed'] });
        const hookId = /ID: (whk_\w+)/.exec(hook)![1]!;
        expect(hook).toContain('  Events: task.created, task.claimed');
        expect(hook).toContain('(masked)');
        expect(await call('list_webhooks')).toBe(
          `[#${hookId}] https://hooks.example.com/mcp\n  Events: task.created, task.claimed\n  Active: yes`,
        );
        expect(await call('delete_webhook', { webhook_id: hookId })).toBe(`Webhook #${hookId} deleted.`);
      });

      it('recurrences: create, list, pause and delete', async () => {
        expect(await call('list_recurrences')).toBe('No recurrences found.');
        const created = await call('create_recurring_task', {
          content: 'Rotate the keys',
          labels: ['ops'],
          priority: 2,
          rule_type: 'weekly',
          interval: 2,
          anchor_weekday: 1,
          timezone: 'Europe/Berlin',
          next_due_at: '2030-01-07T09:00:00Z',
        });
        const id = idIn(created, 'rec');
        expect(created).toMatch(/^Recurring task created:\n\n/);
        for (const line of [
          '  Labels: ops',
          '  Priority: 2',
          '  Rule: weekly, every 2, weekday 1',
          '  Timezone: Europe/Berlin',
          '  Active: yes',
          '  Skip if open: no',
        ])
          expect(created).toContain(line);
        expect(created).toMatch(/\n {2}Next due: 2030-01-07T09:00:00(\.000)?Z\n/);
        expect(created).toMatch(/\n {2}Created by: /);
        expect(await call('list_recurrences')).toContain(`[#${id}] Rotate the keys\n  Labels: ops`);
        const paused = await call('update_recurrence', {
          recurrence_id: id,
          active: false,
          rule_type: 'monthly',
          anchor_day: 15,
          anchor_weekday: null,
        });
        expect(paused).toMatch(/^Recurrence updated:\n\n/);
        expect(paused).toContain('  Rule: monthly, every 2, day 15');
        expect(paused).toContain('  Active: no');
        expect(await call('update_recurrence', { recurrence_id: 'rec_nonexistent', active: true }, true)).toMatch(/^Error: /);
        expect(await call('delete_recurrence', { recurrence_id: id })).toBe(`Recurrence #${id} deleted.`);
        expect(await call('list_recurrences')).toBe('No recurrences found.');
      });

      it('automations: create, watch it run on a new task, pause and delete', async () => {
        expect(await call('list_automations')).toBe('No automation rules configured.');
        const created = await call('create_automation', {
          name: `Triage bugs ${mode}`,
          event: 'task.created',
          conditions: [{ field: 'label', op: 'has', value: 'bug' }],
          actions: [
            { type: 'add_label', label: 'triaged' },
            { type: 'add_comment', content: 'Seen: {{task.content}}' },
          ],
        });
        const id = idIn(created, 'aut');
        expect(created).toBe(
          `Automation created:\n[#${id}] Triage bugs ${mode}\n  When: task.created · If: label has bug\n  Then: add_label, add_comment\n  Active: yes · Runs: 0`,
        );
        const task = idIn(await call('create_task', { content: 'Login is broken', labels: ['bug'] }), 'tsk');
        const listed = await until('the rule to run', async () => {
          const text = await call('list_automations');
          return /Runs: 1/.test(text) && text;
        });
        expect(listed).toMatch(
          new RegExp(`^\\[#${id}\\] Triage bugs ${mode}\\n.*\\n.*\\n {2}Active: yes · Runs: 1 · Last run: \\d{4}-\\d{2}-\\d{2}T\\S+$`),
        );
        expect(await call('get_task', { task_id: task })).toMatch(/ {2}Labels: (bug, triaged|triaged, bug)/);
        const paused = await call('update_automation', { automation_id: id, active: false, event: 'task.completed' });
        expect(paused).toMatch(
          new RegExp(
            `^Automation updated:\\n\\[#${id}\\] Triage bugs ${mode}\\n {2}When: task\\.completed · If: label has bug\\n.*\\n {2}Active: no · Runs: 1 · Last run: `,
          ),
        );
        expect(await call('delete_automation', { automation_id: id })).toBe(`Automation #${id} deleted.`);
        expect(await call('delete_automation', { automation_id: id }, true)).toMatch(/^Error: /);
        expect(await call('list_automations')).toBe('No automation rules configured.');
      });

      it('ingress sources: create with a once-shown secret, list, rotate and delete', async () => {
        expect(await call('list_ingress_sources')).toBe('No ingress sources configured.');
        const template = { content: 'CI failed: {{workflow.name}}', labels: ['ci'], dedupe_key: '{{run.id}}' };
        const created = await call('create_ingress_source', {
          name: `ci-${mode}`,
          template,
          filters: [{ path: 'workflow.conclusion', op: 'eq', value: 'failure' }],
        });
        const id = idIn(created, 'ing');
        expect(created).toContain(`Ingress source created:\n[#${id}] ci-${mode}\n  Ingest: POST /v1/ingress/${id} (hmac-sha256)\n`);
        expect(created).toContain(`  Template: ${JSON.stringify(template)}`);
        expect(created).toContain('  Filters: workflow.conclusion eq failure');
        expect(created).toContain('  Active: yes · Deliveries: 0');
        const secret = /\n {2}Secret: (\S+\.\.\.\S{4}) \(masked\)\n/.exec(created)?.[1];
        expect(secret, created).toBeDefined();
        expect(created).toContain('The signing secret is shown only once');

        const listed = await call('list_ingress_sources');
        expect(listed).toContain(`[#${id}] ci-${mode}\n  Ingest: POST /v1/ingress/${id} (hmac-sha256)`);
        expect(listed).not.toContain('Secret');

        const rotated = await call('update_ingress_source', { source_id: id, rotate_secret: true, active: false });
        expect(rotated).toContain(`Ingress source updated:\n[#${id}] ci-${mode}`);
        expect(rotated).toContain('  Active: no · Deliveries: 0');
        const fresh = /\n {2}New secret: (\S+\.\.\.\S{4}) \(masked\)\n/.exec(rotated)?.[1];
        expect(fresh, rotated).toBeDefined();
        expect(fresh).not.toBe(secret);
        expect(await call('update_ingress_source', { source_id: id, name: 'renamed' })).not.toContain('secret');

        expect(await call('delete_ingress_source', { source_id: id })).toBe(`Ingress source #${id} deleted.`);
        expect(await call('list_ingress_sources')).toBe('No ingress sources configured.');
      });

      it('recall finds a decision on its task', async () => {
        const id = idIn(await call('create_task', { content: 'Choose the queue backend' }), 'tsk');
        await call('update_task_context', {
          task_id: id,
          context: { queue_backend: 'cloudflare queues over kafka' },
          source: 'human_stated',
        });
        const found = await call('recall', { q: 'kafka' });
        expect(found).toMatch(/^Recall — 1 match\(es\) for "kafka":\n\n/);
        expect(found).toContain('[human_stated] queue_backend: cloudflare queues over kafka');
        expect(found).toMatch(new RegExp(`\\n {2}↳ task #${id} \\(Choose the queue backend\\) · score \\d`));
        expect(await call('recall', { q: 'zeppelin' })).toBe('No matching decision-memory for "zeppelin".');
      });

      if (mode === 'hosted') {
        it('claim, heartbeat, state, fleet attention, release with a handoff, re-claim and usage', async () => {
          const id = idIn(await call('create_task', { content: 'Migrate the database', labels: ['db'] }), 'tsk');
          expect(await call('claim_task', { labels: ['db'], lease_seconds: 120 })).toMatch(
            new RegExp(`^Task claimed \\(lease expires \\d{4}-[\\d-]+T[\\d:]+Z\\):\\n\\n\\[#${id}\\]`),
          );
          expect(await call('heartbeat_task', { task_id: id, state: 'waiting_input', detail: 'need creds' })).toMatch(
            /^Lease extended until \d{4}-[\d-]+T[\d:]+Z\. State: waiting_input\.$/,
          );
          expect(await call('set_task_state', { task_id: id, state: 'errored', detail: 'migration failed' })).toMatch(
            new RegExp(`^Task #${id} state set to errored — "migration failed" \\(lease unchanged, expires \\d{4}-[\\d-]+T[\\d:]+Z\\)\\.$`),
          );
          const board = await call('fleet_attention');
          expect(board).toContain('Errored (1):');
          expect(board).toContain(`  #${id} Migrate the database — "migration failed"`);
          expect(await call('release_task', { task_id: id, handoff: 'schema done; blocked on creds' })).toBe(
            `Task #${id} released back to the queue with a handoff note.`,
          );
          expect(await call('claim_task', { task_id: id })).toContain(
            `  ↩ Resuming from #${me.agentId} [errored]: "schema done; blocked on creds"`,
          );
          expect(await call('claim_task', { labels: ['no-such-label'] })).toBe('No claimable tasks in the queue.');
          const usage = await call('get_usage');
          for (const line of [
            '  Plan: free',
            '  Agents: 1/25',
            '  Webhooks: 0/10',
            '  Rate limit: 100000 req/min',
            '  Max content chars: 500',
          ])
            expect(usage).toContain(line);
        });
      } else {
        it('refuses the hosted-only tools itself, and fleet attention answers', async () => {
          const id = idIn(await call('create_task', { content: 'Local task' }), 'tsk');
          const args: Record<string, Record<string, unknown>> = {
            claim_task: {},
            heartbeat_task: { task_id: id },
            set_task_state: { task_id: id, state: 'working' },
            release_task: { task_id: id },
            get_usage: {},
          };
          for (const tool of HOSTED_ONLY_TOOLS)
            expect(await call(tool, args[tool], true)).toMatch(/^Error: \w+ is only available on the Delega API/);
          expect(await call('fleet_attention')).toBe('Fleet attention: nothing needs attention right now.');
        });
      }

      it('called every one of its tools', async () => {
        const { tools } = (await mcp.request('tools/list')) as { tools: { name: string }[] };
        expect([...called].sort()).toEqual(tools.map((t) => t.name).sort());
      });
    });
  }
});
