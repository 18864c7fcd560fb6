/**
 * The decision answer page in a real browser: a task reported waiting_input mails its human a
 * link (dev mailbox); headless Debian chromium opens it, sees the question and its options, picks
 * one, and the answer lands on the task. Skips, saying so, only when chromium is not installed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable } from './browser';
import { http, startDevServer, type DevServer } from './harness';

const hasChromium = chromiumAvailable('answer-page');

describe.skipIf(!hasChromium)('decision answer page in headless Chromium', () => {
  let server: DevServer;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'delega-chromium-'));
    [server, context] = await Promise.all([
      startDevServer(),
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
      }),
    ]);
  });

  /** A human signup, verified with the code from the dev mailbox (only verified addresses get decision mail). */
  async function verifiedHuman(prefix: string, name: string): Promise<{ human: string; key: string }> {
    const human = `${prefix}-${Date.now().toString(36)}@example.com`;
    const signup = await http(server.baseUrl, 'POST', '/v1/signup', { body: { email: human, name } });
    expect(signup.status).toBe(201);
    const mail = await http<{ messages: { codes: string[] }[] }>(server.baseUrl, 'GET', `/dev/mailbox?to=${encodeURIComponent(human)}`);
    const verified = await http(server.baseUrl, 'POST', '/v1/verify', { body: { email: human, code: mail.body.messages[0]!.codes[0] } });
    expect(verified.status).toBe(200);
    return { human, key: signup.body.api_key as string };
  }

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('opens the emailed link, picks an option, and the answer is on the task; the link is then spent', async () => {
    const { human, key } = await verifiedHuman('answer', 'Ada');
    const task = await http(server.baseUrl, 'POST', '/v1/tasks', { key, body: { content: 'Release <2.0>' } });
    await http(server.baseUrl, 'POST', `/v1/tasks/${task.body.id}/claim`, { key, body: {} });
    const state = await http(server.baseUrl, 'POST', `/v1/tasks/${task.body.id}/state`, {
      key,
      body: { state: 'waiting_input', detail: 'QUESTION: Ship on Friday? / OPTIONS: Ship it / Wait a week' },
    });
    expect(state.status).toBe(200);

    // The mail goes out after the answer (waitUntil): wait for it to be in the mailbox.
    const mailbox = () =>
      http<{ messages: { subject: string; links: string[] }[] }>(server.baseUrl, 'GET', `/dev/mailbox?to=${encodeURIComponent(human)}`);
    await vi.waitUntil(async () => (await mailbox()).body.messages.some((m) => m.subject.startsWith('Decision needed')), {
      timeout: 10_000,
      interval: 100,
    });
    const mail = (await mailbox()).body.messages.find((m) => m.subject.startsWith('Decision needed'))!;
    const link = mail.links.find((l) => l.includes('/answer?token='))!;

    const page = await context.newPage();
    const opened = await page.goto(link);
    expect(opened?.status()).toBe(200);
    const headers = opened!.headers();
    expect(headers['content-security-policy']).toContain("default-src 'none'");
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(headers['cache-control']).toBe('no-store');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Decision needed');
    const body = await page.locator('main').innerText();
    expect(body).toContain('Release <2.0>');
    expect(body).toContain('Ship on Friday?');
    // Opening the page records nothing.
    expect((await http(server.baseUrl, 'GET', `/v1/tasks/${task.body.id}/context`, { key })).body.context).toEqual({});

    const [answered] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Wait a week' }).click()]);
    expect(answered?.status()).toBe(200);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Answer recorded');

    const context_ = await http(server.baseUrl, 'GET', `/v1/tasks/${task.body.id}/context`, { key });
    expect(context_.body.context.human_decision).toMatchObject({ question: 'Ship on Friday?', answer: 'Wait a week' });
    const comments = await http(server.baseUrl, 'GET', `/v1/tasks/${task.body.id}/comments`, { key });
    expect(comments.body).toMatchObject([{ content: 'Human answer to "Ship on Friday?": Wait a week', author: human }]);

    const again = await page.goto(link);
    expect(again?.status()).toBe(410);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Already answered');
    await page.close();
  });

  it('answers in free text when the question has no options', async () => {
    const { human, key } = await verifiedHuman('free', 'Grace');
    const task = await http(server.baseUrl, 'POST', '/v1/tasks', { key, body: { content: 'Pick a replica' } });
    await http(server.baseUrl, 'POST', `/v1/tasks/${task.body.id}/claim`, { key, body: {} });
    await http(server.baseUrl, 'POST', `/v1/tasks/${task.body.id}/heartbeat`, {
      key,
      body: { state: 'waiting_input', detail: 'Which replica should I promote?' },
    });
    const mailbox = () =>
      http<{ messages: { subject: string; links: string[] }[] }>(server.baseUrl, 'GET', `/dev/mailbox?to=${encodeURIComponent(human)}`);
    await vi.waitUntil(async () => (await mailbox()).body.messages.some((m) => m.subject.startsWith('Decision needed')), {
      timeout: 10_000,
      interval: 100,
    });
    const link = (await mailbox()).body.messages
      .find((m) => m.subject.startsWith('Decision needed'))!
      .links.find((l) => l.includes('/answer?token='))!;

    const page = await context.newPage();
    await page.goto(link);
    await expect(page.locator('main').innerText()).resolves.toContain('Which replica should I promote?');
    await page.getByLabel('Your answer').fill('replica-2, it is in the same zone');
    const [answered] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send answer' }).click()]);
    expect(answered?.status()).toBe(200);
    const context_ = await http(server.baseUrl, 'GET', `/v1/tasks/${task.body.id}/context`, { key });
    expect(context_.body.context.human_decision.answer).toBe('replica-2, it is in the same zone');
    await page.close();
  });
});
