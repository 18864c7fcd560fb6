/**
 * The Python SDK (`delega` 0.1.3, from source, standard library only) against `wrangler dev`:
 * every method of its sync client and of `AsyncDelega` (under `asyncio.run`, with an interpreter
 * that has httpx), with the localhost base (the SDK's `/api`) and with an explicit `/v1` base,
 * and `verify_webhook` over a real signed delivery.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, http, startDevServer, type DevServer } from '../e2e/harness';
import { asyncPython, newAccount, pythonMissing, runAsyncPython, runPython } from './clients';

if (pythonMissing) console.warn(`Python SDK compatibility skipped: ${pythonMissing}`);
else if (asyncPython.missing) console.warn(`Python SDK: AsyncDelega skipped: ${asyncPython.missing}`);

describe.skipIf(pythonMissing !== null)('the Python SDK, unchanged', () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer({ vars: { LIMIT_RATE_PER_MINUTE: '100000' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  for (const mode of ['api', 'v1'] as const) {
    describe(`base ${mode === 'api' ? 'http://127.0.0.1:PORT (/api)' : 'http://127.0.0.1:PORT/v1'}`, () => {
      let me: { key: string; agentId: string };
      const py = <T = any>(code: string) =>
        runPython<T>(code, { baseUrl: mode === 'api' ? server.baseUrl : `${server.baseUrl}/v1`, key: me.key });
      beforeAll(async () => {
        me = await newAccount(server.baseUrl, `py-${mode}`);
      });

      it('tasks: create, get, update, list with every filter, search, delegate, comments, complete, uncomplete, delete', async () => {
        const out = await py(`
from delega import DelegaNotFoundError
t = client.tasks.create("Deploy to production", description="Ship v2", priority=3, labels=["ops", "deploy"], due_date="2030-01-15")
fix = client.tasks.create("Fix bug")
got = client.tasks.get(t.id)
upd = client.tasks.update(t.id, content="Deploy v2", priority=4)
filtered = client.tasks.list(priority=4, completed=False, labels=["ops", "deploy"], label="ops", due="2030-01-15", due_after="2030-01-01", due_before="2030-12-31", search="deploy")
found = client.tasks.search("DEPLOY")
sub = client.tasks.delegate(t.id, "Write the notes", description="Short", priority=1)
comment = client.tasks.add_comment(t.id, "Looks good")
comments = client.tasks.list_comments(t.id)
done = client.tasks.complete(sub.id)
undone = client.tasks.uncomplete(sub.id)
deleted = client.tasks.delete(fix.id)
try:
    client.tasks.get(fix.id)
    missing = None
except DelegaNotFoundError as e:
    missing = {"status": e.status_code, "message": str(e)}
out = {"t": t, "fix": fix, "got": got, "upd": upd, "filtered": [x.id for x in filtered], "found": [x.id for x in found], "sub": sub,
       "comment": comment, "comments": comments, "done": done.completed, "undone": undone.completed, "deleted": deleted, "missing": missing,
       "all": [x.id for x in client.tasks.list()], "open": [x.id for x in client.tasks.list(completed=False)]}
`);
        expectTasks(out);
      });

      it('agents, projects, webhooks, me() and usage(); a bad key is DelegaAuthError', async () => {
        const out = await py(`
from delega import Delega, DelegaAuthError
a = client.agents.create("py-bot", display_name="Py Bot", description="Runs scripts")
listed = client.agents.list()
updated = client.agents.update(a.id, description="Runs more scripts", display_name="Py")
rotated = client.agents.rotate_key(a.id)
removed = client.agents.delete(a.id)
p = client.projects.create("Snakes", emoji="🐍", color="#3776ab")
projects = client.projects.list()
w = client.webhooks.create("https://hooks.example.com/py", events=["task.created"], secret="whsec_python_secret")
hooks = client.webhooks.list()
hook_removed = client.webhooks.delete(w["id"])
me = client.me()
usage = client.usage()
try:
    Delega(api_key="dlg_" + "Z" * 40, base_url=os.environ["DELEGA_BASE_URL"]).tasks.list()
    auth = None
except DelegaAuthError as e:
    auth = e.status_code
out = {"a": a, "api_key": a.api_key, "listed": [x.api_key for x in listed], "names": [x.name for x in listed], "updated": updated, "rotated": rotated,
       "removed": removed, "p": p, "projects": [x.name for x in projects], "w": w, "hooks": hooks, "hook_removed": hook_removed, "me": me, "usage": usage, "auth": auth}
`);
        expectAgents(out, me.agentId, 'sync');
      });

      describe.skipIf(asyncPython.missing !== null)('AsyncDelega', () => {
        // Its own account, so its lists hold only what it made.
        let me: { key: string; agentId: string };
        beforeAll(async () => {
          me = await newAccount(server.baseUrl, `py-async-${mode}`);
        });
        const apy = <T = any>(code: string) =>
          runAsyncPython<T>(code, { baseUrl: mode === 'api' ? server.baseUrl : `${server.baseUrl}/v1`, key: me.key });

        it('tasks: every method and filter, as the sync client', async () => {
          const out = await apy(`
from delega import DelegaNotFoundError
t = await client.tasks.create("Deploy to production", description="Ship v2", priority=3, labels=["ops", "deploy"], due_date="2030-01-15")
fix = await client.tasks.create("Fix bug")
got = await client.tasks.get(t.id)
upd = await client.tasks.update(t.id, content="Deploy v2", priority=4)
filtered = await client.tasks.list(priority=4, completed=False, labels=["ops", "deploy"], label="ops", due="2030-01-15", due_after="2030-01-01", due_before="2030-12-31", search="deploy")
found = await client.tasks.search("DEPLOY")
sub = await client.tasks.delegate(t.id, "Write the notes", description="Short", priority=1)
comment = await client.tasks.add_comment(t.id, "Looks good")
comments = await client.tasks.list_comments(t.id)
done = await client.tasks.complete(sub.id)
undone = await client.tasks.uncomplete(sub.id)
deleted = await client.tasks.delete(fix.id)
try:
    await client.tasks.get(fix.id)
    missing = None
except DelegaNotFoundError as e:
    missing = {"status": e.status_code, "message": str(e)}
out = {"t": t, "fix": fix, "got": got, "upd": upd, "filtered": [x.id for x in filtered], "found": [x.id for x in found], "sub": sub,
       "comment": comment, "comments": comments, "done": done.completed, "undone": undone.completed, "deleted": deleted, "missing": missing,
       "all": [x.id for x in await client.tasks.list()], "open": [x.id for x in await client.tasks.list(completed=False)]}
`);
          expectTasks(out);
        });

        // The sync test's calls, less webhooks.delete, which AsyncDelega does not have.
        it('agents, projects, webhooks, me() and usage(); a bad key is DelegaAuthError', async () => {
          const out = await apy(`
from delega import DelegaAuthError
a = await client.agents.create("py-bot", display_name="Py Bot", description="Runs scripts")
listed = await client.agents.list()
updated = await client.agents.update(a.id, description="Runs more scripts", display_name="Py")
rotated = await client.agents.rotate_key(a.id)
removed = await client.agents.delete(a.id)
p = await client.projects.create("Snakes", emoji="🐍", color="#3776ab")
projects = await client.projects.list()
w = await client.webhooks.create("https://hooks.example.com/py", events=["task.created"], secret="whsec_python_secret")
hooks = await client.webhooks.list()
me = await client.me()
usage = await client.usage()
try:
    async with AsyncDelega(api_key="dlg_" + "Z" * 40, base_url=os.environ["DELEGA_BASE_URL"]) as bad:
        await bad.tasks.list()
    auth = None
except DelegaAuthError as e:
    auth = e.status_code
out = {"a": a, "api_key": a.api_key, "listed": [x.api_key for x in listed], "names": [x.name for x in listed], "updated": updated, "rotated": rotated,
       "removed": removed, "p": p, "projects": [x.name for x in projects], "w": w, "hooks": hooks, "me": me, "usage": usage, "auth": auth}
`);
          expectAgents(out, me.agentId, 'async');
        });
      });
    });
  }

  describe('verify_webhook', () => {
    let receiver: Server;
    const deliveries: { headers: IncomingHttpHeaders; body: string }[] = [];
    let url = '';
    beforeAll(async () => {
      const port = await freePort();
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          deliveries.push({ headers: req.headers, body });
          res.end('ok');
        });
      });
      await new Promise<void>((r) => receiver.listen(port, '127.0.0.1', () => r()));
      url = `http://127.0.0.1:${port}/hook`;
    });
    afterAll(async () => {
      await new Promise<void>((r) => receiver?.close(() => r()));
    });

    it('accepts a real delivery with its secret, refuses a changed body or another secret', async () => {
      const me = await newAccount(server.baseUrl, 'py-hook');
      const secret = 'whsec_verify_with_python';
      expect(
        (await http(server.baseUrl, 'POST', '/v1/webhooks', { key: me.key, body: { url, events: ['task.created'], secret } })).status,
      ).toBe(201);
      expect((await http(server.baseUrl, 'POST', '/v1/tasks', { key: me.key, body: { content: 'Signed' } })).status).toBe(201);
      await expect.poll(() => deliveries.length, { timeout: 60_000, interval: 200 }).toBeGreaterThan(0);
      const d = deliveries[0]!;
      const out = await runPython(
        `
import base64
from delega import verify_webhook
body = base64.b64decode(os.environ["HOOK_BODY"])
sig, ts, secret = os.environ["HOOK_SIG"], os.environ["HOOK_TS"], os.environ["HOOK_SECRET"]
def check(payload, key):
    try:
        return verify_webhook(payload, sig, ts, key)
    except ValueError as e:
        return str(e)
out = {"ok": check(body, secret), "tampered": check(body + b" ", secret), "other": check(body, "whsec_someone_else")}
`,
        {
          baseUrl: server.baseUrl,
          key: me.key,
          env: {
            HOOK_BODY: Buffer.from(d.body).toString('base64'),
            HOOK_SIG: String(d.headers['x-delega-signature']),
            HOOK_TS: String(d.headers['x-delega-timestamp']),
            HOOK_SECRET: secret,
          },
        },
      );
      expect(out).toEqual({ ok: true, tampered: 'signature mismatch', other: 'signature mismatch' });
    });
  });
});

/** What the tasks snippet (sync or async) must have seen. */
function expectTasks(out: any): void {
  expect(out.t).toMatchObject({
    content: 'Deploy to production',
    description: 'Ship v2',
    priority: 3,
    labels: ['ops', 'deploy'],
    due_date: '2030-01-15',
    completed: false,
    parent_id: null,
  });
  expect(out.t.created_at).toMatch(/Z$/);
  expect(out.fix.priority).toBe(2);
  expect(out.got).toEqual(out.t);
  expect(out.upd).toMatchObject({ id: out.t.id, content: 'Deploy v2', priority: 4 });
  expect(out.filtered).toEqual([out.t.id]);
  expect(out.found).toEqual([out.t.id]);
  expect(out.sub).toMatchObject({ content: 'Write the notes', description: 'Short', priority: 1, parent_id: out.t.id });
  expect(out.comment).toMatchObject({ task_id: out.t.id, content: 'Looks good', created_at: expect.stringMatching(/Z$/) });
  expect(out.comments).toEqual([out.comment]);
  expect([out.done, out.undone, out.deleted]).toEqual([true, false, true]);
  expect(out.missing).toMatchObject({ status: 404 });
  expect(out.all.sort()).toEqual([out.t.id, out.sub.id].sort());
  expect(out.open.sort()).toEqual([out.t.id, out.sub.id].sort());
}

/** What the agents/projects/webhooks snippet (sync or async) must have seen. */
function expectAgents(out: any, agentId: string, client: 'sync' | 'async'): void {
  expect(out.a).toMatchObject({ name: 'py-bot', display_name: 'Py Bot', description: 'Runs scripts' });
  expect(out.api_key).toMatch(/^dlg_/);
  expect(out.listed.every((k: string | null) => k === null)).toBe(true);
  expect(out.names).toContain('py-bot');
  expect(out.updated).toMatchObject({ id: out.a.id, description: 'Runs more scripts', display_name: 'Py' });
  expect(out.rotated).toMatchObject({ id: out.a.id, api_key: expect.stringMatching(/^dlg_/) });
  expect(out.rotated.api_key).not.toBe(out.api_key);
  expect(out.removed).toBe(true);
  expect(out.p).toMatchObject({ name: 'Snakes', emoji: '🐍', color: '#3776ab' });
  expect(out.projects).toContain('Snakes');
  expect(out.w).toMatchObject({ url: 'https://hooks.example.com/py', events: ['task.created'] });
  expect(out.hooks.map((h: { id: string }) => h.id)).toEqual([out.w.id]);
  expect(out.hooks[0]).not.toHaveProperty('secret');
  if (client === 'sync') expect(out.hook_removed).toBe(true);
  expect(out.me).toMatchObject({ agent: { id: agentId }, account: { plan: 'free' } });
  // The same-named method calls different routes: Delega.usage() is GET /stats, AsyncDelega.usage() is GET /usage.
  if (client === 'sync')
    expect(out.usage).toMatchObject({ total: expect.any(Number), completed: expect.any(Number), by_project: expect.any(Object) });
  else
    expect(out.usage).toMatchObject({
      plan: 'free',
      period: expect.stringMatching(/^\d{4}-\d{2}$/),
      task_count: expect.any(Number),
      task_limit: expect.any(Number),
      agent_count: 1,
      project_count: expect.any(Number),
      webhook_count: 1,
    });
  expect(out.auth).toBe(401);
}
