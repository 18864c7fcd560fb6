/**
 * The CLI (`@delega-dev/cli`, built unchanged) as a subprocess against `wrangler dev`: every
 * command but the self-hosted `init` (which starts Docker), pointed at the bare local URL (the
 * CLI's `/api`) and at `{url}/v1` (the hosted paths), checking what it prints.
 */
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../e2e/harness';
import { builtClient, clientsMissing, newAccount, RENDERED_GAPS, runCli } from './clients';

if (clientsMissing) console.warn(`CLI compatibility skipped: ${clientsMissing}`);
else console.info('CLI commands not run: init (self-hosted setup that starts Docker)');

describe.skipIf(clientsMissing !== null)('the CLI, built unchanged, as a subprocess', () => {
  let server: DevServer;
  beforeAll(async () => {
    await builtClient('delega-cli');
    server = await startDevServer({ vars: { LIMIT_RATE_PER_MINUTE: '100000' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  for (const mode of ['api', 'v1'] as const) {
    describe(`pointed at ${mode === 'api' ? 'the bare local URL (/api)' : '{url}/v1 (hosted paths)'}`, () => {
      let me: { key: string; agentId: string };
      let home: string;
      const apiUrl = () => (mode === 'api' ? server.baseUrl : `${server.baseUrl}/v1`);
      /** A command that must succeed and print no gaps; the key comes from the environment unless `saved`. */
      const cli = async (args: string[], opts: { saved?: boolean; fails?: boolean; input?: string } = {}) => {
        const result = await runCli(args, { apiUrl: apiUrl(), key: opts.saved ? undefined : me.key, home, input: opts.input });
        const out = `${result.stdout}${result.stderr}`;
        expect(result.code, `delega ${args.join(' ')}:\n${out}`).toBe(opts.fails ? 1 : 0);
        expect(out, `delega ${args.join(' ')}`).not.toMatch(RENDERED_GAPS);
        expect(out, `delega ${args.join(' ')}`).not.toContain('Invalid Date');
        return out;
      };

      beforeAll(async () => {
        me = await newAccount(server.baseUrl, `cli-${mode}`);
        home = mkdtempSync(join(tmpdir(), 'delega-cli-home-'));
      });
      afterAll(() => rmSync(home, { recursive: true, force: true }));

      it('login keeps the key; whoami and status read it back; reset removes it', async () => {
        const login = await cli(['login'], { saved: true, input: `${me.key}\n` });
        expect(login).toContain('Logged in as ');
        expect(JSON.parse(readFileSync(join(home, '.delega', 'config.json'), 'utf8')).api_key).toBe(me.key);
        const whoami = await cli(['whoami'], { saved: true });
        for (const line of ['Agent: ', 'Plan: free', 'Active: yes']) expect(whoami).toContain(line);
        expect(JSON.parse(await cli(['whoami', '--json'], { saved: true })).agent.id).toBe(me.agentId);

        const status = await cli(['status'], { saved: true });
        for (const line of [
          `API: ${server.baseUrl}/${mode}`,
          'Status: connected',
          'Server Version: ',
          `Agent ID: ${me.agentId}`,
          'Plan: free',
          'Tasks: 0 completed / 0 pending / 0 total',
          'Agents: 1 active / 1 total',
        ]) {
          expect(status).toContain(line);
        }
        expect(status).not.toContain('unreachable');
        expect(JSON.parse(await cli(['status', '--json'], { saved: true }))).toMatchObject({ healthy: true, agent: { id: me.agentId } });

        expect(JSON.parse(await cli(['reset', '--dry-run', '--json']))).toMatchObject({
          dry_run: true,
          would_remove: { config_dir: join(home, '.delega') },
        });
        expect(await cli(['reset', '--force'])).toContain(`Removed ${join(home, '.delega')}`);
        expect(existsSync(join(home, '.delega'))).toBe(false);
        expect(await cli(['whoami'], { saved: true, fails: true })).toContain('Not authenticated. Run: delega login');
      });

      it('tasks: create, list, show, delegate, assign, chain, set-context, dedup, complete, delete', async () => {
        const created = await cli([
          'tasks',
          'create',
          'Fix the login bug',
          '--priority',
          '3',
          '--labels',
          'auth,bug',
          '--due',
          '2030-01-15',
        ]);
        const id = /Task created: (tsk_\w+)/.exec(created)![1]!;
        for (const line of ['Content: Fix the login bug', 'Priority: P3', 'Status: open', 'Due: Jan 15, 2030'])
          expect(created).toContain(line);

        const list = await cli(['tasks', 'list']);
        expect(list).toContain(id.slice(0, 8));
        expect(list).toContain('Fix the login bug');
        expect(JSON.parse(await cli(['tasks', 'list', '--limit', '5', '--json'])).map((t: { id: string }) => t.id)).toContain(id);

        const delegated = await cli(['tasks', 'delegate', id, me.agentId, '--content', 'Reproduce it']);
        expect(delegated).toBe(`Task delegated to ${me.agentId}.\n`);
        const child = JSON.parse(await cli(['tasks', 'delegate', id, me.agentId, '--content', 'Write the test', '--json']));
        expect(child).toMatchObject({ parent_task_id: id, delegation_depth: 1, assigned_to_agent_id: me.agentId });
        expect(await cli(['tasks', 'assign', child.id, '--unassign'])).toBe(`Task ${child.id} unassigned.\n`);
        expect(await cli(['tasks', 'assign', child.id, me.agentId])).toBe(`Task ${child.id} assigned to ${me.agentId}.\n`);

        expect(await cli(['tasks', 'set-context', id, '--kv', 'step=triaged', '--kv', 'count=3'])).toContain(
          `Context updated for task ${id}.`,
        );
        const shown = await cli(['tasks', 'show', child.id]);
        for (const line of [
          `ID: ${child.id}`,
          'Content: Write the test',
          `Delegated To: ${me.agentId}`,
          `Parent Task: ${id}`,
          `Root Task: ${id}`,
          'Delegation Depth: 1',
          'Created: ',
        ])
          expect(shown).toContain(line);
        const parent = await cli(['tasks', 'show', id]);
        for (const line of ['Status: delegated', 'Labels: auth, bug', 'Due: Jan 15, 2030', 'Context:', '"step": "triaged"', '"count": 3'])
          expect(parent).toContain(line);

        const chain = await cli(['tasks', 'chain', child.id]);
        expect(chain).toContain(`Delegation chain (root #${id}, depth 1, 0/3 complete):`);
        expect(chain).toContain(`    [#${child.id}] Write the test (depth 1, open)`);

        expect(await cli(['tasks', 'dedup', '--content', 'Fix the login bug'])).toContain(`  [#${id}] Fix the login bug (score 1.00)`);
        expect(await cli(['tasks', 'dedup', '--content', 'Quarterly taxes', '--threshold', '0.9'])).toBe('No duplicates found.\n');

        expect(await cli(['tasks', 'complete', child.id])).toBe(`Task ${child.id} completed.\n`);
        expect(await cli(['tasks', 'show', child.id])).toContain('Completed: ');
        // --completed sends completed=true, the completion filter the other clients send too.
        expect(JSON.parse(await cli(['tasks', 'list', '--completed', '--json'])).map((t: { id: string }) => t.id)).toEqual([child.id]);
        const doomed = /Task created: (tsk_\w+)/.exec(await cli(['tasks', 'create', 'Throwaway']))![1]!;
        expect(await cli(['tasks', 'delete', doomed, '--dry-run'])).toBe(`Would delete task ${doomed}: Throwaway\n`);
        expect(await cli(['tasks', 'delete', doomed, '--yes'])).toBe(`Task ${doomed} deleted.\n`);
        expect(await cli(['tasks', 'show', doomed], { fails: true })).toContain('Resource not found.');
      });

      it('agents: list, create, rotate, delete', async () => {
        const created = await cli(['agents', 'create', `cli-bot-${mode}`, '--display-name', 'CLI Bot']);
        const agentId = /ID: (agt_\w+)/.exec(created)![1]!;
        expect(created).toMatch(/API Key: dlg_\w+/);
        const list = await cli(['agents', 'list']);
        expect(list).toContain(`cli-bot-${mode}`);
        expect(list).toContain('CLI Bot');
        expect(await cli(['agents', 'rotate', agentId, '--dry-run'])).toContain(`Would rotate API key for agent "CLI Bot" (${agentId}).`);
        expect(await cli(['agents', 'rotate', agentId, '--yes'])).toMatch(/New API Key: dlg_\w+/);
        expect(JSON.parse(await cli(['agents', 'rotate', agentId, '--yes', '--json']))).toMatchObject({
          id: agentId,
          api_key: expect.stringMatching(/^dlg_/),
        });
        expect(await cli(['agents', 'delete', agentId, '--dry-run'])).toContain(`Would delete agent "CLI Bot" (${agentId}).`);
        expect(await cli(['agents', 'delete', agentId, '--yes'])).toBe(`Agent ${agentId} deleted.\n`);
      });

      it('stats and usage', async () => {
        const stats = await cli(['stats']);
        for (const line of [
          'Total Tasks: 3',
          'Completed: 1',
          'Pending: 2',
          'Total Agents: 1',
          'Active Agents: 1',
          'By Project: {"No project":3}',
        ])
          expect(stats).toContain(line);
        if (mode === 'v1') {
          const usage = await cli(['usage']);
          for (const line of [
            'Plan: free',
            'Tasks: 4/1000 (resets ',
            'Agents: 1/25',
            'Webhooks: 0/10',
            'Projects: ',
            'Rate limit: 100000 req/min',
            'Max content chars: 500',
          ])
            expect(usage).toContain(line);
        } else {
          // The CLI calls /usage hosted-only and refuses it on a local /api URL itself.
          expect(await cli(['usage'], { fails: true })).toContain('only available on the hosted Delega API');
        }
      });
    });
  }
});
