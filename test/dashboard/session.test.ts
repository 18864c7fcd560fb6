/**
 * The dashboard's sign-in, session, cookie and CSRF rules, the refusals across accounts, and
 * the D1 round trips of each page, in workerd against real D1.
 */
import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { tasks, webhooks } from '../../src/db/schema';
import { createAccount } from '../../src/accounts/accounts';
import { countingD1 } from '../../src/platform/d1-metrics';
import { api, BASE, db } from '../helpers/fixtures';
import { bulkInsertTasks } from '../helpers/bulk-tasks';
import { agentFirst, freshEmail, freshIp, latestMail, mailCount } from '../helpers/onboarding';

const FORM = 'application/x-www-form-urlencoded';

interface Page {
  status: number;
  headers: Headers;
  html: string;
}

async function send(
  path: string,
  init: { method?: string; form?: Record<string, string>; cookie?: string; origin?: string | null } = {},
): Promise<Page> {
  const headers: Record<string, string> = { 'CF-Connecting-IP': freshIp() };
  if (init.cookie) headers.Cookie = `delega_human=${init.cookie}`;
  if (init.form) headers['Content-Type'] = FORM;
  if (init.origin !== null && init.method === 'POST') headers.Origin = init.origin ?? BASE;
  const res = await SELF.fetch(`${BASE}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    redirect: 'manual',
  });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

const post = (path: string, form: Record<string, string>, cookie?: string, origin?: string | null) =>
  send(path, { method: 'POST', form, cookie, origin });

function cookieOf(res: Page): string {
  const set = res.headers.get('Set-Cookie') ?? '';
  const value = set.match(/delega_human=([^;]*)/)?.[1];
  if (!value) throw new Error(`no session cookie in ${set}`);
  return value;
}

/** An active account whose human (a user row) can sign in. */
async function humanAccount() {
  const email = freshEmail('human');
  const made = await createAccount(db(), {
    pepper: env.KEY_PEPPER!,
    input: { status: 'active', agentName: 'default', projectName: 'Inbox', sandbox: false, user: { email, name: 'Ada' } },
    now: Date.now(),
  });
  return { email, ...made };
}

async function signIn(email: string): Promise<{ cookie: string; signedIn: Page }> {
  const asked = await post('/app/sign-in', { email });
  expect(asked.status).toBe(200);
  const { token } = await latestMail(email);
  const signedIn = await post('/app/sign-in/link', { token: token! });
  expect(signedIn.status).toBe(303);
  return { cookie: cookieOf(signedIn), signedIn };
}

describe('sign-in by magic link', () => {
  it('emails a single-use link; the link page signs in only on its button; the cookie is HttpOnly, Secure, SameSite=Lax', async () => {
    const human = await humanAccount();
    const asked = await post('/app/sign-in', { email: human.email.toUpperCase() });
    expect(asked.status).toBe(200);
    expect(asked.html).toContain('If an account uses that email, a sign-in link is on its way');
    const mail = await latestMail(human.email);
    expect(mail.subject).toBe('Sign in to Delega');
    expect(mail.link).toMatch(/\/app\/sign-in\/link\?token=/);

    // Opening the link (a mail scanner's prefetch) sets no cookie and spends nothing.
    const opened = await send(`/app/sign-in/link?token=${mail.token}`);
    expect(opened.status).toBe(200);
    expect(opened.headers.get('Set-Cookie')).toBeNull();
    expect(opened.headers.get('Referrer-Policy')).toBe('no-referrer');
    expect(opened.html).toContain(`name="token" value="${mail.token}"`);

    const signedIn = await post('/app/sign-in/link', { token: mail.token! });
    expect(signedIn.status).toBe(303);
    // No token in the URL after sign-in: the board is plain /app.
    expect(signedIn.headers.get('Location')).toBe('/app');
    const set = signedIn.headers.get('Set-Cookie')!;
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/Secure/i);
    expect(set).toMatch(/SameSite=Lax/i);
    expect(set).toMatch(/Path=\//);

    const board = await send('/app', { cookie: cookieOf(signedIn) });
    expect(board.status).toBe(200);
    expect(board.html).toContain('<h1>Board</h1>');
    expect(board.html).toContain('Ada');

    // The same link again: refused, and no second session.
    const replay = await post('/app/sign-in/link', { token: mail.token! });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('Set-Cookie')).toBeNull();
    expect(replay.html).toContain('unknown, expired or already used');
  });

  it('answers an unknown address exactly like a known one and sends nothing', async () => {
    const stranger = freshEmail('nobody');
    const known = await humanAccount();
    const a = await post('/app/sign-in', { email: stranger });
    const b = await post('/app/sign-in', { email: known.email });
    expect(a.status).toBe(b.status);
    expect(a.html.replace(stranger, '')).toBe(b.html.replace(known.email, ''));
    expect(await mailCount(stranger)).toBe(0);
    expect(await mailCount(known.email)).toBe(1);
  });

  it('limits sign-in mails per address like onboarding mails (429 past the hourly limit)', async () => {
    const human = await humanAccount();
    for (let i = 0; i < 5; i++) expect((await post('/app/sign-in', { email: human.email })).status).toBe(200);
    const sixth = await post('/app/sign-in', { email: human.email });
    expect(sixth.status).toBe(429);
    expect(sixth.headers.get('Retry-After')).toBeTruthy();
    expect(await mailCount(human.email)).toBe(5);
  });

  it('refuses expired links, made-up tokens and bad input with a clear 4xx', async () => {
    const human = await humanAccount();
    await post('/app/sign-in', { email: human.email });
    const { token } = await latestMail(human.email);
    await db().run(`update sign_in_tokens set expires_at = '2000-01-01T00:00:00Z' where account_id = '${human.accountId}'` as never);
    expect((await post('/app/sign-in/link', { token: token! })).status).toBe(400);
    expect((await post('/app/sign-in/link', { token: 'A'.repeat(43) })).status).toBe(400);
    expect((await post('/app/sign-in/link', { token: 'x'.repeat(5000) })).status).toBe(400);
    expect((await post('/app/sign-in', { email: 'not an email' })).status).toBe(400);
    expect((await post('/app/sign-in', {})).status).toBe(400);
  });

  it('rotates the session on each sign-in and revokes it on sign-out', async () => {
    const human = await humanAccount();
    const first = await signIn(human.email);
    // Signing in again from the same browser ends the session it had.
    await post('/app/sign-in', { email: human.email });
    const { token } = await latestMail(human.email);
    const again = await send('/app/sign-in/link', { method: 'POST', form: { token: token! }, cookie: first.cookie });
    const second = cookieOf(again);
    expect(second).not.toBe(first.cookie);
    expect((await send('/app', { cookie: first.cookie })).status).toBe(303);
    expect((await send('/app', { cookie: second })).status).toBe(200);

    const out = await post('/app/sign-out', {}, second);
    expect(out.status).toBe(303);
    expect(out.headers.get('Location')).toBe('/app/sign-in');
    expect(out.headers.get('Set-Cookie')).toMatch(/delega_human=;/);
    const after = await send('/app', { cookie: second });
    expect(after.status).toBe(303);
    expect(after.headers.get('Location')).toBe('/app/sign-in');
  });

  it('signs out everywhere: every session of the human ends, other humans keep theirs', async () => {
    const human = await humanAccount();
    const other = await humanAccount();
    const laptop = await signIn(human.email);
    const phone = await signIn(human.email);
    const theirs = await signIn(other.email);
    expect((await post('/app/sign-out-everywhere', {}, laptop.cookie)).status).toBe(303);
    expect((await send('/app', { cookie: laptop.cookie })).status).toBe(303);
    expect((await send('/app', { cookie: phone.cookie })).status).toBe(303);
    expect((await send('/app', { cookie: theirs.cookie })).status).toBe(200);
  });

  it('returns the human to a same-site next path after sign-in (the MCP consent page), never elsewhere', async () => {
    const human = await humanAccount();
    const next = '/authorize?client_id=abc&state=s%201';
    const form = await send(`/app/sign-in?next=${encodeURIComponent(next)}`);
    expect(form.html).toContain(`name="next" value="${next.replace('&', '&amp;')}"`);
    await post('/app/sign-in', { email: human.email, next });
    const mail = await latestMail(human.email);
    expect(new URL(mail.link!).searchParams.get('next')).toBe(next);
    const opened = await send(`/app/sign-in/link?${new URL(mail.link!).searchParams}`);
    expect(opened.headers.get('Set-Cookie')).toBeNull();
    expect(opened.html).toContain(`name="next" value="${next.replace('&', '&amp;')}"`);
    const signedIn = await post('/app/sign-in/link', { token: mail.token!, next });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('Location')).toBe(next);

    // Another site, a protocol-relative URL or a backslash trick: the link carries no next, and the board is where it lands.
    for (const evil of ['https://evil.example/', '//evil.example/', '/\\evil.example']) {
      expect((await send(`/app/sign-in?next=${encodeURIComponent(evil)}`)).html).toContain('name="next" value="/app"');
      await post('/app/sign-in', { email: human.email, next: evil });
      const { link, token } = await latestMail(human.email);
      expect(new URL(link!).searchParams.has('next')).toBe(false);
      const landed = await post('/app/sign-in/link', { token: token!, next: evil });
      expect(landed.headers.get('Location')).toBe('/app');
    }
  });

  it('sends a visitor without a session to sign in, and refuses their writes', async () => {
    const none = await send('/app');
    expect(none.status).toBe(303);
    expect(none.headers.get('Location')).toBe('/app/sign-in');
    expect((await send('/app', { cookie: 'made-up' })).status).toBe(303);
    expect((await post('/app/tasks', { content: 'sneaky' })).status).toBe(401);
  });
});

describe('a human who claims an agent', () => {
  it('lands signed in to that account', async () => {
    const { mail, key } = await agentFirst();
    const claimed = await post('/claim', { token: mail.token! });
    expect(claimed.status).toBe(200);
    expect(claimed.html).toContain('Open your dashboard');
    const cookie = cookieOf(claimed);
    const board = await send('/app', { cookie });
    expect(board.status).toBe(200);
    await api('POST', '/v1/tasks', key, { content: 'made by the claimed agent' });
    expect((await send('/app', { cookie })).html).toContain('made by the claimed agent');
  });

  it('is offered sign-in instead when the email already belongs to another account', async () => {
    const human = await humanAccount();
    const { mail } = await agentFirst({ human_email: human.email });
    const claimed = await post('/claim', { token: mail.token! });
    expect(claimed.status).toBe(200);
    expect(claimed.headers.get('Set-Cookie')).toBeNull();
    expect(claimed.html).toContain('/app/sign-in');
  });
});

describe('a large board', () => {
  it('pages each column on its own, with counts', async () => {
    const human = await humanAccount();
    const { cookie } = await signIn(human.email);
    for (let i = 0; i < 30; i++) await api('POST', '/v1/tasks', human.apiKey, { content: `open task ${String(i).padStart(2, '0')}` });
    const first = await send('/app', { cookie });
    const openColumn = (html: string) => html.slice(html.indexOf('data-column="open"'), html.indexOf('data-column="claimed"'));
    expect(openColumn(first.html).match(/class="card"/g)).toHaveLength(25);
    expect(openColumn(first.html)).toContain('1–25 of 30');
    expect(openColumn(first.html)).toContain('href="/app?open_offset=25"');
    const second = await send('/app?open_offset=25', { cookie });
    expect(openColumn(second.html).match(/class="card"/g)).toHaveLength(5);
    expect(openColumn(second.html)).toContain('open task 00');
    // Filters narrow every column; a search that matches nothing says so.
    const filtered = await send('/app?q=task%2029', { cookie });
    expect(openColumn(filtered.html).match(/class="card"/g)).toHaveLength(1);
    const none = await send('/app?q=nothing-like-this', { cookie });
    expect(none.html).toContain('Nothing waiting to be picked up.');
    // Nonsense offsets are read as 0 or past the end, never an error.
    expect((await send('/app?open_offset=-5&done_offset=abc', { cookie })).status).toBe(200);
  });

  it('places each card by the time of each request, also when the same board was shown before', async () => {
    const human = await humanAccount();
    const { cookie } = await signIn(human.email);
    const created = await api('POST', '/v1/tasks', human.apiKey, { content: 'held for a while' });
    const id = (created.body as { id: string }).id;
    expect((await api('POST', `/v1/tasks/${id}/claim`, human.apiKey, { lease_seconds: 300 })).status).toBe(200);
    const column = (html: string, name: string, next: string) =>
      html.slice(html.indexOf(`data-column="${name}"`), html.indexOf(`data-column="${next}"`));
    // The lease ends in two seconds; the board is shown before and after, the same board both times.
    const endsAt = Math.ceil(Date.now() / 1000) * 1000 + 2000;
    await db()
      .update(tasks)
      .set({ leaseExpiresAt: `${new Date(endsAt).toISOString().slice(0, 19)}Z` })
      .where(eq(tasks.id, id));
    const held = await send('/app', { cookie });
    expect(column(held.html, 'claimed', 'waiting')).toContain('held for a while');
    expect(column(held.html, 'open', 'claimed')).not.toContain('held for a while');
    // No clock to move here: the Worker reads the real time, so the test waits for the lease to end.
    await new Promise((resolve) => setTimeout(resolve, endsAt - Date.now() + 50));
    const lapsed = await send('/app', { cookie });
    expect(column(lapsed.html, 'open', 'claimed')).toContain('held for a while');
    expect(column(lapsed.html, 'claimed', 'waiting')).not.toContain('held for a while');
  });

  it('keeps 1,000 tasks usable: 25 cards a column, one page of HTML, at most 3 D1 round trips', async () => {
    const human = await humanAccount();
    const { cookie } = await signIn(human.email);
    const now = Date.now();
    await bulkInsertTasks(
      Array.from({ length: 1000 }, (_, i) => ({
        id: `tsk_bulk${human.accountId.slice(4, 12)}${String(i).padStart(5, '0')}`,
        accountId: human.accountId,
        content: `bulk task ${i}`,
        createdBy: human.agentId,
        createdAt: `${new Date(now - i * 1000).toISOString().slice(0, 19)}Z`,
        labels: i % 3 ? '["ops"]' : '["ci"]',
      })),
    );
    const counter = { count: 0 };
    const ctx = createExecutionContext();
    const res = await createApp().fetch(
      new Request(`${BASE}/app?label=ops`, { headers: { Cookie: `delega_human=${cookie}` } }),
      { ...env, DB: countingD1(env.DB, counter) },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(counter.count).toBeLessThanOrEqual(3);
    expect(html.match(/class="card"/g)).toHaveLength(25);
    expect(html).toContain('1–25 of 666');
    expect(html.length).toBeLessThan(200_000);
  });
});

describe('CSRF and headers', () => {
  it('refuses a form posted from another origin, and changes nothing', async () => {
    const human = await humanAccount();
    const { cookie } = await signIn(human.email);
    const forged = await post('/app/tasks', { content: 'forged task' }, cookie, 'https://evil.example');
    expect(forged.status).toBe(403);
    const made = await db().select().from(tasks).where(eq(tasks.accountId, human.accountId));
    expect(made).toHaveLength(0);
    const same = await post('/app/tasks', { content: 'real task' }, cookie);
    expect(same.status).toBe(303);
    expect(await db().select().from(tasks).where(eq(tasks.accountId, human.accountId))).toHaveLength(1);
  });

  it('serves pages with a strict CSP that forbids framing, and its own script', async () => {
    const page = await send('/app/sign-in');
    const csp = page.headers.get('Content-Security-Policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('X-Frame-Options')).toBe('DENY');
    expect(page.html).toMatch(/^<!doctype html>/);
    expect(page.html).not.toMatch(/<script>|style="/);
    const script = await send('/app/assets/app.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('Content-Type')).toContain('javascript');
  });

  it('escapes what users wrote', async () => {
    const human = await humanAccount();
    const { cookie } = await signIn(human.email);
    await post('/app/tasks', { content: '<img src=x onerror=alert(1)>' }, cookie);
    const board = await send('/app', { cookie });
    expect(board.html).not.toContain('<img src=x');
    expect(board.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('what a human may do', () => {
  it('acts as the account admin: tasks, comments recorded as the human, agents with the API refusals', async () => {
    const human = await humanAccount();
    const { cookie } = await signIn(human.email);
    await post('/app/tasks', { content: 'Ship it', labels: 'ci, release', priority: '3' }, cookie);
    const [task] = await db().select().from(tasks).where(eq(tasks.accountId, human.accountId));
    expect(task).toMatchObject({ content: 'Ship it', priority: 3, createdByAgentId: human.agentId });
    expect((await post(`/app/tasks/${task!.id}/comments`, { content: 'Use the blue one' }, cookie)).status).toBe(303);
    const comments = await api('GET', `/v1/tasks/${task!.id}/comments`, human.apiKey);
    expect(comments.body[0]).toMatchObject({ content: 'Use the blue one', author: 'Ada (human)' });

    // Edit and assign from a card: only the fields the card carries change; complete and reopen from the board.
    await api('PATCH', `/v1/tasks/${task!.id}`, human.apiKey, { description: 'keep me', due_date: '2030-01-01' });
    const worker = (await api('POST', '/v1/agents', human.apiKey, { name: 'card-worker', role: 'worker' })).body as { id: string };
    const edited = await post(
      `/app/tasks/${task!.id}/edit`,
      { content: 'Ship it today', priority: '4', assigned_to_agent_id: worker.id, back: '/app?label=ci' },
      cookie,
    );
    expect(edited.status).toBe(303);
    expect(edited.headers.get('Location')).toBe('/app?label=ci');
    expect((await api('GET', `/v1/tasks/${task!.id}`, human.apiKey)).body).toMatchObject({
      content: 'Ship it today',
      priority: 4,
      assigned_to_agent_id: worker.id,
      description: 'keep me',
      due_date: '2030-01-01',
      labels: ['ci', 'release'],
    });
    // A back link outside the dashboard is ignored.
    expect((await post(`/app/tasks/${task!.id}/complete`, { back: 'https://evil.example/' }, cookie)).headers.get('Location')).toBe('/app');
    expect((await api('GET', `/v1/tasks/${task!.id}`, human.apiKey)).body).toMatchObject({
      completed: true,
      completed_by_agent_id: human.agentId,
    });
    expect((await post(`/app/tasks/${task!.id}/complete`, {}, cookie)).status).toBe(409);
    expect((await post(`/app/tasks/${task!.id}/reopen`, { back: '/app' }, cookie)).status).toBe(303);
    expect((await api('GET', `/v1/tasks/${task!.id}`, human.apiKey)).body).toMatchObject({ completed: false, reopen_count: 1 });

    // The recovery agent cannot be deleted: the API's refusal, shown as a page.
    const refused = await post(`/app/agents/${human.agentId}/delete`, {}, cookie);
    expect(refused.status).toBe(409);
    expect(refused.html).toContain('role="alert"');
    expect(refused.html).toMatch(/recovery|itself/i);
    // Bad input: a 400 page, nothing created.
    expect((await post('/app/tasks', { content: '' }, cookie)).status).toBe(400);
    expect((await post('/app/tasks', { content: 'x'.repeat(501) }, cookie)).status).toBe(400);
    expect((await post('/app/tasks', { content: 'ok', priority: '9' }, cookie)).status).toBe(400);
    expect(await db().select().from(tasks).where(eq(tasks.accountId, human.accountId))).toHaveLength(1);
  });

  it("never shows or changes another account's tasks, agents or webhooks (404, nothing changes)", async () => {
    const mine = await humanAccount();
    const theirs = await humanAccount();
    const { cookie } = await signIn(mine.email);
    const task = (await api('POST', '/v1/tasks', theirs.apiKey, { content: 'their secret task' })).body as { id: string };
    const hook = (await api('POST', '/v1/webhooks', theirs.apiKey, { url: 'https://example.com/hook', events: ['task.created'] })).body as {
      id: string;
    };

    expect((await send(`/app/tasks/${task.id}`, { cookie })).status).toBe(404);
    expect((await post(`/app/tasks/${task.id}/complete`, {}, cookie)).status).toBe(404);
    expect((await post(`/app/tasks/${task.id}/edit`, { content: 'mine now' }, cookie)).status).toBe(404);
    expect((await post(`/app/tasks/${task.id}/comments`, { content: 'hi' }, cookie)).status).toBe(404);
    expect((await send(`/app/webhooks/${hook.id}`, { cookie })).status).toBe(404);
    expect((await post(`/app/webhooks/${hook.id}/ping`, {}, cookie)).status).toBe(404);
    expect((await post(`/app/agents/${theirs.agentId}/delete`, {}, cookie)).status).toBe(404);
    expect((await post(`/app/agents/${theirs.agentId}/rotate`, {}, cookie)).status).toBe(404);

    const board = await send('/app', { cookie });
    expect(board.html).not.toContain('their secret task');
    const after = await api('GET', `/v1/tasks/${task.id}`, theirs.apiKey);
    expect(after.body).toMatchObject({ content: 'their secret task', completed: false });
    expect((await api('GET', '/v1/agent/me', theirs.apiKey)).status).toBe(200);
    const [stillHook] = await db().select().from(webhooks).where(eq(webhooks.id, hook.id));
    expect(stillHook?.active).toBe(true);
  });
});

describe('agents, webhooks and usage pages', () => {
  it('creates an agent with its key shown once, rotates, changes role, deactivates', async () => {
    const human = await humanAccount();
    const { cookie } = await signIn(human.email);
    const made = await post('/app/agents', { name: 'page-bot', display_name: 'Page Bot', role: 'worker' }, cookie);
    expect(made.status).toBe(200);
    const key = made.html.match(/data-secret="api-key">(dlg_[^<]+)</)![1]!;
    const me = await api('GET', '/v1/agent/me', key);
    expect(me.status).toBe(200);
    const agentId = (me.body as { agent: { id: string } }).agent.id;
    const list = await send('/app/agents', { cookie });
    expect(list.html).toContain('Page Bot');
    expect(list.html).not.toContain(key);

    const rotated = await post(`/app/agents/${agentId}/rotate`, {}, cookie);
    const newKey = rotated.html.match(/data-secret="api-key">(dlg_[^<]+)</)![1]!;
    expect(newKey).not.toBe(key);
    expect((await api('GET', '/v1/agent/me', key)).status).toBe(401);
    expect((await api('GET', '/v1/agent/me', newKey)).status).toBe(200);

    expect((await post(`/app/agents/${agentId}/role`, { role: 'coordinator' }, cookie)).status).toBe(303);
    expect((await api('GET', '/v1/agent/me', newKey)).body).toMatchObject({ role: 'coordinator' });
    expect((await post(`/app/agents/${agentId}/role`, { role: 'owner' }, cookie)).status).toBe(400);
    expect((await post(`/app/agents/${agentId}/deactivate`, {}, cookie)).status).toBe(303);
    expect((await api('GET', '/v1/agent/me', newKey)).status).toBe(401);
    expect((await post('/app/agents', { name: 'x', role: 'worker' }, cookie)).status).toBe(400);
    expect((await post('/app/agents', { name: 'page-bot', role: 'worker' }, cookie)).status).toBe(409);
  });

  it('creates a webhook with its secret shown once and refuses bad ones', async () => {
    const human = await humanAccount();
    const { cookie } = await signIn(human.email);
    const body = new URLSearchParams([
      ['url', 'https://example.com/hook'],
      ['events', 'task.created'],
      ['events', 'task.completed'],
    ]).toString();
    const res = await SELF.fetch(`${BASE}/app/webhooks`, {
      method: 'POST',
      headers: { Cookie: `delega_human=${cookie}`, Origin: BASE, 'Content-Type': FORM },
      body,
      redirect: 'manual',
    });
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toMatch(/data-secret="webhook-secret">whsec_/);
    const hooks = await api('GET', '/v1/webhooks', human.apiKey);
    expect(hooks.body[0]).toMatchObject({ url: 'https://example.com/hook', events: ['task.created', 'task.completed'] });
    expect((await send('/app/webhooks', { cookie })).html).not.toContain('whsec_');
    expect((await post('/app/webhooks', { url: 'http://10.0.0.1/hook', events: 'task.created' }, cookie)).status).toBe(400);
    expect((await post('/app/webhooks', { url: 'https://example.com/x', events: 'task.exploded' }, cookie)).status).toBe(400);
    expect((await post('/app/webhooks', { url: 'https://example.com/x' }, cookie)).status).toBe(400);
  });

  it('shows plan and usage; checkout without Stripe configured is a plain 503', async () => {
    const human = await humanAccount();
    const { cookie } = await signIn(human.email);
    await post('/app/tasks', { content: 'counted' }, cookie);
    const page = await send('/app/usage', { cookie });
    expect(page.html).toContain('free');
    expect(page.html).toMatch(/1 of 1000/);
    const checkout = await post('/app/billing/checkout', { plan: 'pro' }, cookie);
    expect(checkout.status).toBe(503);
    expect((await post('/app/billing/checkout', { plan: 'gold' }, cookie)).status).toBe(400);
  });
});

describe('D1 round trips per page', () => {
  it('no page needs more than 3', async () => {
    const human = await humanAccount();
    const { cookie } = await signIn(human.email);
    for (let i = 0; i < 30; i++) await post('/app/tasks', { content: `task ${i}`, labels: i % 2 ? 'odd' : 'even' }, cookie);
    const [task] = await db().select().from(tasks).where(eq(tasks.accountId, human.accountId)).limit(1);
    const hook = (await api('POST', '/v1/webhooks', human.apiKey, { url: 'https://example.com/hook', events: ['task.created'] })).body as {
      id: string;
    };
    const app = createApp();
    const paths = [
      '/app',
      '/app?label=odd&q=task&open_offset=25',
      `/app/tasks/${task!.id}`,
      '/app/agents',
      '/app/fleet',
      '/app/webhooks',
      `/app/webhooks/${hook.id}`,
      '/app/usage',
    ];
    for (const path of paths) {
      const counter = { count: 0 };
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request(`${BASE}${path}`, { headers: { Cookie: `delega_human=${cookie}` } }),
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
