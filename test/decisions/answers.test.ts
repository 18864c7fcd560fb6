/** Decision answers: the email on waiting_input, the side-effect-free page, the one-time answer. */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { comments, decisionLinks, devMailbox, users } from '../../src/db/schema';
import { answerLinkBase, escalate, lookupLink, parseDecision, recordAnswer } from '../../src/decisions/answers';
import { readTask } from '../../src/tasks/tasks';
import { BASE, db, makeAccount, type TestAccount } from '../helpers/fixtures';
import { jsonRequest } from '../helpers/json-request';

const HOUR = 3_600_000;

type WorkerRequest = Parameters<typeof worker.fetch>[0];

/** A request through the Worker, waiting for its waitUntil work (the email) to finish. */
async function call<T = any>(method: string, path: string, key: string | null, body?: unknown) {
  const ctx = createExecutionContext();
  const res = await jsonRequest<T>(
    (url, init) => worker.fetch(new Request(url, init) as WorkerRequest, env, ctx),
    `${BASE}${path}`,
    method,
    { key, body },
  );
  await waitOnExecutionContext(ctx);
  return res;
}

async function page(method: 'GET' | 'POST', query: string, form?: Record<string, string>) {
  const ctx = createExecutionContext();
  const init: RequestInit = { method };
  if (form) {
    init.body = new URLSearchParams(form).toString();
    init.headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
  }
  const res = await worker.fetch(new Request(`${BASE}/answer${query}`, init) as WorkerRequest, env, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, html: await res.text() };
}

async function accountWithHuman(): Promise<TestAccount & { email: string }> {
  const acct = await makeAccount();
  const email = `human-${acct.accountId.slice(-8).toLowerCase()}@example.com`;
  await db()
    .insert(users)
    .values({
      id: `usr_${acct.accountId.slice(4)}`,
      accountId: acct.accountId,
      email,
      verifiedAt: '2026-01-01T00:00:00Z',
      createdAt: '2026-01-01T00:00:00Z',
    });
  return { ...acct, email };
}

/** A task claimed by the admin, then reported waiting_input with `detail`. */
async function waitingTask(acct: TestAccount, content: string, detail: string, via: 'state' | 'heartbeat' = 'state'): Promise<string> {
  const created = await call('POST', '/v1/tasks', acct.adminKey, { content });
  const id = created.body.id as string;
  expect((await call('POST', `/v1/tasks/${id}/claim`, acct.adminKey, {})).status).toBe(200);
  const res =
    via === 'state'
      ? await call('POST', `/v1/tasks/${id}/state`, acct.adminKey, { state: 'waiting_input', detail })
      : await call('POST', `/v1/tasks/${id}/heartbeat`, acct.adminKey, { state: 'waiting_input', detail });
  expect(res.status).toBe(200);
  return id;
}

const mailsTo = (email: string) => db().select().from(devMailbox).where(eq(devMailbox.to, email)).all();
const tokenIn = (text: string) => /\/answer\?token=([A-Za-z0-9]+)/.exec(text)![1]!;

describe('parsing the question', () => {
  it('reads QUESTION and OPTIONS on one line or two', () => {
    expect(parseDecision('QUESTION: Ship on Friday? / OPTIONS: yes / no / wait')).toEqual({
      question: 'Ship on Friday?',
      options: ['yes', 'no', 'wait'],
    });
    expect(parseDecision('Blocked.\nQUESTION: Which region?\nOPTIONS: eu | us')).toEqual({
      question: 'Which region?',
      options: ['eu', 'us'],
    });
    expect(parseDecision('need a human')).toEqual({ question: null, options: [] });
    expect(parseDecision(null)).toEqual({ question: null, options: [] });
  });
});

describe('the link base', () => {
  it('is the request origin in development, else only PUBLIC_BASE_URL (never the Host)', () => {
    const url = 'https://attacker.example/v1/tasks/x/state';
    expect(answerLinkBase({ ...env, ENVIRONMENT: 'development' }, 'http://127.0.0.1:9999/v1/tasks/x/state')).toBe('http://127.0.0.1:9999');
    expect(answerLinkBase({ ...env, ENVIRONMENT: 'production', PUBLIC_BASE_URL: 'https://api.delega.dev/' }, url)).toBe(
      'https://api.delega.dev',
    );
    expect(answerLinkBase({ ...env, ENVIRONMENT: 'production', PUBLIC_BASE_URL: '' }, url)).toBeNull();
  });
});

describe('decision answers', () => {
  it('mails a single-use link on waiting_input; the page changes nothing; the answer is recorded once', async () => {
    const acct = await accountWithHuman();
    const id = await waitingTask(acct, 'Release 2.0', 'QUESTION: Ship on Friday? / OPTIONS: yes / no');
    const [mail, ...more] = await mailsTo(acct.email);
    expect(more).toHaveLength(0);
    expect(mail!.subject).toBe('Decision needed: Release 2.0');
    expect(mail!.text).toContain('Ship on Friday?');
    const token = tokenIn(mail!.text);
    // Hashed at rest: the token is nowhere in the table.
    const [link] = await db().select().from(decisionLinks).where(eq(decisionLinks.taskId, id)).all();
    expect(JSON.stringify(link)).not.toContain(token);
    expect(Date.parse(link!.expiresAt) - Date.parse(link!.createdAt)).toBe(72 * HOUR);

    for (let i = 0; i < 2; i++) {
      const shown = await page('GET', `?token=${token}`);
      expect(shown.status).toBe(200);
      expect(shown.headers.get('Content-Security-Policy')).toContain("default-src 'none'");
      expect(shown.headers.get('Referrer-Policy')).toBe('no-referrer');
      expect(shown.headers.get('Cache-Control')).toBe('no-store');
      expect(shown.html).toContain('Ship on Friday?');
      expect(shown.html).toContain('value="yes"');
    }
    expect((await db().select().from(decisionLinks).where(eq(decisionLinks.taskId, id)).get())!.usedAt).toBeNull();

    const answered = await page('POST', '', { token, answer: 'yes' });
    expect(answered.status).toBe(200);
    expect(answered.html).toContain('Answer recorded');
    const context = await call('GET', `/v1/tasks/${id}/context?include_provenance=true`, acct.adminKey);
    expect(context.body.context.human_decision).toMatchObject({ question: 'Ship on Friday?', answer: 'yes', answered_by: acct.email });
    const history = await call('GET', `/v1/tasks/${id}/context/history?key=human_decision`, acct.adminKey);
    expect(history.body.entries).toMatchObject([
      { source: 'human_stated', author_agent_id: null, value: { question: 'Ship on Friday?', answer: 'yes' } },
    ]);
    const notes = await db().select().from(comments).where(eq(comments.taskId, id)).all();
    expect(notes).toMatchObject([{ author: acct.email, agentId: null, content: 'Human answer to "Ship on Friday?": yes' }]);
    // Recall finds it, human-stated.
    const recalled = await call('GET', '/v1/context/search?q=Friday', acct.adminKey);
    expect(recalled.body.results).toMatchObject([{ task_id: id, key: 'human_decision', source: 'human_stated' }]);

    const replay = await page('POST', '', { token, answer: 'no' });
    expect(replay.status).toBe(410);
    expect(replay.html).toContain('Already answered');
    expect((await page('GET', `?token=${token}`)).status).toBe(410);
    expect(await db().select().from(comments).where(eq(comments.taskId, id)).all()).toHaveLength(1);
  });

  it('a later answer without a question replaces the whole earlier decision', async () => {
    const acct = await accountWithHuman();
    const id = await waitingTask(acct, 'Two decisions', 'QUESTION: Which port? / OPTIONS: 80 / 443');
    const first = tokenIn((await mailsTo(acct.email))[0]!.text);
    expect((await page('POST', '', { token: first, answer: '443' })).status).toBe(200);
    await call('POST', `/v1/tasks/${id}/state`, acct.adminKey, { state: 'working' });
    const row = (await readTask(db(), acct.accountId, id))!;
    expect(await escalate(env, { ...row, stateDetail: null }, { now: Date.now() + 31 * 60_000, linkBase: BASE })).toBe(true);
    const mails = await mailsTo(acct.email);
    const second = tokenIn(mails.find((m) => tokenIn(m.text) !== first)!.text);
    expect((await recordAnswer(env, createExecutionContext(), { token: second, answer: 'go ahead', now: Date.now() })).status).toBe(
      'recorded',
    );
    const context = await call('GET', `/v1/tasks/${id}/context`, acct.adminKey);
    expect(context.body.context.human_decision).toEqual({ answer: 'go ahead', answered_by: acct.email, answered_at: expect.any(String) });
  });

  it('mails on a heartbeat that reports waiting_input, once per 30 minutes per task', async () => {
    const acct = await accountWithHuman();
    const id = await waitingTask(acct, 'Migrate DB', 'Which replica should I promote?', 'heartbeat');
    expect(await mailsTo(acct.email)).toHaveLength(1);
    // Out and back in within the cooldown: no second mail.
    await call('POST', `/v1/tasks/${id}/state`, acct.adminKey, { state: 'working' });
    await call('POST', `/v1/tasks/${id}/state`, acct.adminKey, { state: 'waiting_input', detail: 'Still waiting' });
    // A heartbeat that stays in waiting_input is not a new entry.
    await call('POST', `/v1/tasks/${id}/heartbeat`, acct.adminKey, { state: 'waiting_input' });
    expect(await mailsTo(acct.email)).toHaveLength(1);
    const row = (await readTask(db(), acct.accountId, id))!;
    expect(await escalate(env, row, { now: Date.now() + 29 * 60_000, linkBase: BASE })).toBe(false);
    expect(await escalate(env, row, { now: Date.now() + 31 * 60_000, linkBase: BASE })).toBe(true);
    expect(await mailsTo(acct.email)).toHaveLength(2);
    // Without QUESTION/OPTIONS the page shows the state detail and a free-text answer only.
    const token = tokenIn((await mailsTo(acct.email))[0]!.text);
    const shown = await page('GET', `?token=${token}`);
    expect(shown.html).toContain('Which replica should I promote?');
    expect(shown.html).not.toContain('name="answer" value=');
  });

  it('refuses expired, unknown, incomplete and empty answers, recording nothing', async () => {
    const acct = await accountWithHuman();
    const id = await waitingTask(acct, 'Expiring', 'QUESTION: Go? / OPTIONS: go / stop');
    const token = tokenIn((await mailsTo(acct.email))[0]!.text);
    const later = Date.now() + 73 * HOUR;
    expect((await lookupLink(env, token, later)).status).toBe('expired');
    expect((await recordAnswer(env, createExecutionContext(), { token, answer: 'go', now: later })).status).toBe('expired');
    expect((await page('GET', '')).status).toBe(400);
    expect((await page('GET', `?token=${'x'.repeat(300)}`)).status).toBe(400);
    expect((await page('GET', '?token=nottherealtoken')).status).toBe(404);
    expect((await page('POST', '', { token: 'nottherealtoken', answer: 'go' })).status).toBe(404);
    expect((await page('POST', '', { token, answer: '   ' })).status).toBe(400);
    expect((await page('POST', '', { answer: 'go' })).status).toBe(400);
    expect(await db().select().from(comments).where(eq(comments.taskId, id)).all()).toHaveLength(0);
  });

  it('records exactly one of two answers sent at once', async () => {
    const acct = await accountWithHuman();
    const id = await waitingTask(acct, 'Race', 'QUESTION: A or B? / OPTIONS: A / B');
    const token = tokenIn((await mailsTo(acct.email))[0]!.text);
    const now = Date.now();
    const outcomes = await Promise.all([
      recordAnswer(env, createExecutionContext(), { token, answer: 'A', now }),
      recordAnswer(env, createExecutionContext(), { token, answer: 'B', now }),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['recorded', 'used']);
    expect(await db().select().from(comments).where(eq(comments.taskId, id)).all()).toHaveLength(1);
  });

  it('keeps the answer as a comment when the context cannot take it', async () => {
    const acct = await accountWithHuman();
    const id = await waitingTask(acct, 'Full context', 'QUESTION: Keep? / OPTIONS: keep / drop');
    const token = tokenIn((await mailsTo(acct.email))[0]!.text);
    const outcome = await recordAnswer({ ...env, LIMIT_CONTEXT_BYTES: '16' }, createExecutionContext(), {
      token,
      answer: 'keep',
      now: Date.now(),
    });
    expect(outcome).toEqual({ status: 'recorded', inContext: false });
    expect(
      await db()
        .select()
        .from(comments)
        .where(and(eq(comments.taskId, id), eq(comments.author, acct.email)))
        .all(),
    ).toHaveLength(1);
    const context = await call('GET', `/v1/tasks/${id}/context`, acct.adminKey);
    expect(context.body.context).toEqual({});
  });

  it('escapes what agents wrote, and sends no mail to an account without a verified human', async () => {
    const acct = await accountWithHuman();
    await waitingTask(acct, '<script>alert(1)</script>', 'QUESTION: <img src=x onerror=alert(1)>? / OPTIONS: "><b>x</b> / ok');
    const token = tokenIn((await mailsTo(acct.email))[0]!.text);
    const shown = await page('GET', `?token=${token}`);
    expect(shown.html).not.toContain('<script>alert');
    expect(shown.html).not.toContain('<img src=x');
    expect(shown.html).not.toContain('<b>x</b>');
    expect(shown.html).toContain('&lt;script&gt;');

    const lonely = await makeAccount();
    const id = await waitingTask(lonely, 'Nobody to ask', 'QUESTION: Anyone?');
    expect(await db().select().from(decisionLinks).where(eq(decisionLinks.taskId, id)).all()).toHaveLength(0);
    // An address not yet verified is never mailed a link.
    const unverified = `unverified-${lonely.accountId.slice(-8).toLowerCase()}@example.com`;
    await db()
      .insert(users)
      .values({
        id: `usr_${lonely.accountId.slice(4)}`,
        accountId: lonely.accountId,
        email: unverified,
        createdAt: '2026-01-01T00:00:00Z',
      });
    const other = await waitingTask(lonely, 'Still nobody', 'QUESTION: Anyone now?');
    expect(await db().select().from(decisionLinks).where(eq(decisionLinks.taskId, other)).all()).toHaveLength(0);
    expect(await mailsTo(unverified)).toHaveLength(0);
  });
});
