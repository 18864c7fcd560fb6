/**
 * The MCP server's recurrence tools and `recall`, through the published MCP client (its
 * `DelegaClient` and formatters imported unchanged from source) in hosted mode against `wrangler
 * dev`: `globalThis.fetch` maps https://api.delega.dev to the dev server. Every rendered line must
 * carry a value (no "undefined"), and the scheduler, fired through wrangler dev's scheduled
 * endpoint, spawns the task whose completion answers `next_occurrence`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../e2e/harness';

const ROOT = resolve(import.meta.dirname, '../..');
const CLIENT_SRC = join(resolve(process.env.DELEGA_CLIENTS_DIR ?? join(ROOT, '..', 'shared', 'clients')), 'delega-mcp', 'src');
const HOSTED = 'https://api.delega.dev';
const missing = existsSync(join(CLIENT_SRC, 'delega-client.ts'))
  ? null
  : `the MCP client's source is not at ${CLIENT_SRC} (set DELEGA_CLIENTS_DIR)`;
if (missing) console.warn(`SKIPPING the MCP recurrence/recall compatibility test: ${missing}`);

// JavaScript to us: the client's own types are not part of this project.
type Loose = Record<string, (...args: any[]) => any>;

describe.skipIf(missing !== null)('MCP client: recurrences and recall (hosted mode)', () => {
  let server: DevServer;
  let client: Loose;
  let format: Loose;
  const originalFetch = globalThis.fetch;

  beforeAll(async () => {
    server = await startDevServer();
    globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      return originalFetch(url.startsWith(`${HOSTED}/`) ? server.baseUrl + url.slice(HOSTED.length) : input, init);
    }) as typeof fetch;
    const mod = await import(/* @vite-ignore */ pathToFileURL(join(CLIENT_SRC, 'delega-client.ts')).href);
    format = await import(/* @vite-ignore */ pathToFileURL(join(CLIENT_SRC, 'formatters.ts')).href);
    const signup = await originalFetch(`${server.baseUrl}/v1/signup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: `recur-${Date.now()}@example.com`, name: 'Recur' }),
    });
    const key = ((await signup.json()) as { api_key: string }).api_key;
    client = new mod.DelegaClient(HOSTED, key) as Loose;
  });

  afterAll(async () => {
    globalThis.fetch = originalFetch;
    await server?.stop();
  });

  it('create_recurring_task, list_recurrences, update_recurrence (pause) and delete_recurrence render every line', async () => {
    const created = await client.createRecurrence!({
      content: 'Weekly report',
      description: 'Numbers for Monday',
      labels: ['ops'],
      priority: 2,
      rule_type: 'weekly',
      interval: 2,
      timezone: 'America/Chicago',
      anchor_weekday: 1,
      next_due_at: '2027-06-21T14:00:00Z',
      skip_if_open: true,
    });
    const text = format.formatRecurrence!(created) as string;
    expect(text).not.toContain('undefined');
    expect(text.split('\n')).toEqual([
      `[#${created.id}] Weekly report`,
      '  Description: Numbers for Monday',
      '  Labels: ops',
      '  Priority: 2',
      '  Rule: weekly, every 2, weekday 1',
      '  Timezone: America/Chicago',
      '  Next due: 2027-06-21T14:00:00Z',
      '  Active: yes',
      '  Skip if open: yes',
      `  Created by: #${created.created_by_agent_id}`,
    ]);

    const listed = (await client.listRecurrences!()) as unknown[];
    expect(listed.map((r) => format.formatRecurrence!(r)).join('\n\n')).toBe(text);

    const paused = await client.updateRecurrence!(created.id, { active: false });
    expect(format.formatRecurrence!(paused)).toContain('  Active: no');

    await client.deleteRecurrence!(created.id);
    expect(await client.listRecurrences!()).toEqual([]);
  });

  it('the scheduler spawns the due occurrence once; completing it answers the next occurrence', async () => {
    const due = new Date(Date.now() - 60_000).toISOString();
    const recurrence = await client.createRecurrence!({
      content: 'Rotate keys',
      rule_type: 'daily',
      timezone: 'Europe/Berlin',
      next_due_at: due,
    });
    // Fired twice, as a late or repeated trigger might: one task.
    for (let i = 0; i < 2; i++) {
      const fired = await originalFetch(`${server.baseUrl}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
      expect(fired.status).toBe(200);
    }
    const tasks = ((await client.listTasks!({})) as { id: string; content: string; source_recurrence_id: string }[]).filter(
      (t) => t.source_recurrence_id === recurrence.id,
    );
    expect(tasks.map((t) => t.content)).toEqual(['Rotate keys']);
    const [after] = (await client.listRecurrences!()) as { next_due_at: string; last_spawned_at: string }[];
    expect(format.formatRecurrence!(after)).toContain(`  Last spawned: ${after!.last_spawned_at}`);

    const completed = await client.completeTask!(tasks[0]!.id);
    expect(completed.next_occurrence).toBe(after!.next_due_at);
    expect(Date.parse(completed.next_occurrence)).toBeGreaterThan(Date.now());
  });

  it('recall renders each match with its source, key, value and task', async () => {
    const task = await client.createTask!({ content: 'Auth design' });
    await client.updateTaskContext!(task.id, { token_expiry: 'access tokens expire after 15 minutes' }, undefined, 'human_stated');
    await client.updateTaskContext!(task.id, { token_store: { kind: 'kv', ttl: 900 } });
    const resp = await client.searchContext!({ q: 'token expire', limit: 5 });
    const text = format.formatRecall!(resp) as string;
    expect(text).not.toContain('undefined');
    const lines = text.split('\n');
    // The key token_store matches "token" too; the human-stated entry ranks first.
    expect(lines[0]).toBe('Recall — 2 match(es) for "token expire":');
    expect(lines.slice(1, 4).join('\n')).toMatch(
      new RegExp(
        `^\\n\\[human_stated\\] token_expiry: access tokens expire after 15 minutes\\n  ↳ task #${task.id} \\(Auth design\\) · score \\d+(\\.\\d+)?$`,
      ),
    );
    const objects = format.formatRecall!(await client.searchContext!({ q: 'kv', include_superseded: true })) as string;
    expect(objects).toContain('[agent_inferred] token_store: {"kind":"kv","ttl":900}');
    expect(format.formatRecall!(await client.searchContext!({ q: 'nothing-matches-this' }))).toBe(
      'No matching decision-memory for "nothing-matches-this".',
    );
  });
});
