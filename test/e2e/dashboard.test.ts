/**
 * The dashboard in a real browser: headless Debian chromium (playwright-core) against
 * `wrangler dev`. A human signs in by the magic link from the dev mailbox, creates a task on the
 * board, watches an agent's claim (made through the API) move the card, completes it with
 * evidence, creates an agent and uses its key, reads a webhook's delivery log and redelivers,
 * signs out; a second account sees none of it. Then cards are dragged between open and done
 * (with the API's refusal shown), subtasks and links edited, and the dark scheme's computed
 * colours and contrast checked. Saves docs/board.png and docs/board-dark.png.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable } from './browser';
import { freePort, http, startDevServer, type DevServer } from './harness';

const hasChromium = chromiumAvailable('dashboard');

const DOCS = resolve(import.meta.dirname, '../../docs');

describe.skipIf(!hasChromium)('dashboard in headless Chromium', () => {
  let server: DevServer;
  let browser: Browser;
  let receiver: Server;
  let receiverUrl = '';
  const answers: number[] = [];

  beforeAll(async () => {
    // A webhook receiver that refuses (410, final) until told otherwise.
    let status = 410;
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        answers.push(status);
        res.writeHead(status).end();
      });
    });
    const port = await freePort();
    await new Promise<void>((r) => receiver.listen(port, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${port}/hook`;
    (receiver as Server & { setStatus?: (s: number) => void }).setStatus = (s) => (status = s);
    [server, browser] = await Promise.all([
      startDevServer(),
      chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
      }),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  });

  const setReceiverStatus = (s: number) => (receiver as Server & { setStatus: (s: number) => void }).setStatus(s);

  /** A human signup (API), then sign-in in the browser with the emailed link. */
  async function signedInHuman(name: string): Promise<{ page: Page; email: string; key: string }> {
    const email = `${name}-${Date.now().toString(36)}@example.com`;
    const signup = await http(server.baseUrl, 'POST', '/v1/signup', { body: { email, name } });
    expect(signup.status).toBe(201);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.baseUrl}/app`);
    // No session: the board sends us to sign in.
    expect(new URL(page.url()).pathname).toBe('/app/sign-in');
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await expect(page.getByRole('status').innerText()).resolves.toContain('sign-in link is on its way');
    const mailbox = await http<{ messages: { subject: string; links: string[] }[] }>(
      server.baseUrl,
      'GET',
      `/dev/mailbox?to=${encodeURIComponent(email)}`,
    );
    const link = mailbox.body.messages.find((m) => m.subject === 'Sign in to Delega')!.links[0]!;
    await page.goto(link);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.baseUrl}/app`);
    // No token in the URL once signed in.
    expect(page.url()).not.toContain('token');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Board');
    return { page, email, key: signup.body.api_key as string };
  }

  const column = (page: Page, name: string) => page.locator(`section[data-column="${name}"]`);

  it('signs in, runs the board with an agent, completes with evidence, manages agents and webhooks, signs out; another account sees none of it', async () => {
    const { page, key: adminKey } = await signedInHuman('ada');
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

    // An empty board says what to do next.
    await expect(page.getByRole('note').innerText()).resolves.toContain('curl -X POST');

    // An agent, created on the agents page; its key is shown once and works.
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByLabel('Name (slug)').fill('build-bot');
    await page.getByLabel('Display name').fill('Build Bot');
    await page.getByLabel('Role', { exact: true }).selectOption('worker');
    await page.getByRole('button', { name: 'Create agent' }).click();
    const key = (await page.locator('[data-secret="api-key"]').innerText()).trim();
    expect(key).toMatch(/^dlg_/);
    const me = await http(server.baseUrl, 'GET', '/v1/agent/me', { key });
    expect(me.status).toBe(200);
    expect(me.body.agent.name).toBe('build-bot');
    // Shown once: the agents page itself never shows it again.
    await page.goto(`${server.baseUrl}/app/agents`);
    await expect(page.locator('[data-secret]').count()).resolves.toBe(0);

    // A task made on the board (keyboard: n focuses the new-task field).
    await page.getByRole('link', { name: 'Board' }).click();
    await page.waitForURL(`${server.baseUrl}/app`);
    await page.waitForLoadState('load');
    await page.keyboard.press('n');
    await expect(page.evaluate('document.activeElement && document.activeElement.id')).resolves.toBe('new-task-content');
    await page.keyboard.type('Triage flaky test');
    await page.getByLabel('Labels').fill('ci');
    await page.getByLabel('Priority').selectOption('3');
    await page.getByRole('button', { name: 'Create' }).click();
    await expect(column(page, 'open').locator('.card').first().innerText()).resolves.toContain('Triage flaky test');
    for (const content of ['Rotate staging certificates', 'Write the release notes', 'Update the on-call rota']) {
      await http(server.baseUrl, 'POST', '/v1/tasks', { key, body: { content, labels: ['ops'] } });
    }
    const rota = (await http(server.baseUrl, 'GET', '/v1/tasks?search=on-call', { key })).body[0];
    expect((await http(server.baseUrl, 'POST', `/v1/tasks/${rota.id}/complete`, { key, body: {} })).status).toBe(200);

    // The agent claims through the API; the open board moves the card by itself (live refresh).
    const claimed = await http(server.baseUrl, 'POST', '/v1/tasks/claim', { key, body: { labels: ['ci'], lease_seconds: 600 } });
    expect(claimed.body.task.content).toBe('Triage flaky test');
    const taskId = claimed.body.task.id as string;
    const claimedCard = column(page, 'claimed').locator(`.card[data-task-id="${taskId}"]`);
    await claimedCard.waitFor({ timeout: 20_000 });
    await expect(claimedCard.innerText()).resolves.toMatch(/Held by\s+Build Bot/);
    await expect(column(page, 'open').locator(`.card[data-task-id="${taskId}"]`).count()).resolves.toBe(0);

    // It asks a question: the card moves to "waiting on input".
    await http(server.baseUrl, 'POST', `/v1/tasks/${taskId}/state`, {
      key,
      body: { state: 'waiting_input', detail: 'Quarantine or fix?' },
    });
    const waitingCard = column(page, 'waiting').locator(`.card[data-task-id="${taskId}"]`);
    await waitingCard.waitFor({ timeout: 20_000 });
    await expect(waitingCard.innerText()).resolves.toContain('Quarantine or fix?');
    // Another claim, so the screenshot shows every column.
    const second = await http(server.baseUrl, 'POST', '/v1/tasks/claim', { key, body: { labels: ['ops'], lease_seconds: 900 } });
    await column(page, 'claimed').locator(`.card[data-task-id="${second.body.task.id}"]`).waitFor({ timeout: 20_000 });
    mkdirSync(DOCS, { recursive: true });
    await page.setViewportSize({ width: 1400, height: 800 });
    await page.screenshot({ path: join(DOCS, 'board.png') });

    // The task page: answer in a comment (recorded as the human), then complete with evidence.
    await page.keyboard.press('j');
    await expect(page.locator('.card[aria-selected="true"]').count()).resolves.toBe(1);
    await waitingCard.locator('a.title').click();
    await page.waitForURL(`**/app/tasks/${taskId}`);
    await expect(page.getByRole('note').innerText()).resolves.toContain('Build Bot is waiting on an answer: Quarantine or fix?');
    await page.getByLabel('Add a comment').fill('Quarantine it for now.');
    await page.getByRole('button', { name: 'Comment' }).click();
    await expect(page.locator('#h-comments + ul').innerText()).resolves.toContain('ada (human)');
    const comments = await http(server.baseUrl, 'GET', `/v1/tasks/${taskId}/comments`, { key });
    expect(comments.body[0]).toMatchObject({ content: 'Quarantine it for now.', author: 'ada (human)' });
    await page.getByLabel('Evidence (optional)').selectOption('commit');
    await page.getByLabel('Evidence reference').fill('abc1234');
    await page.getByLabel('Evidence summary').fill('Quarantined the test');
    await page.getByRole('button', { name: 'Complete' }).click();
    await expect(page.locator('[data-status]').innerText()).resolves.toBe('completed');
    await expect(page.locator('#h-evidence + ul').innerText()).resolves.toContain('abc1234');
    // The worker no longer sees it (it neither holds nor completed it); the account's admin key does.
    const done = await http(server.baseUrl, 'GET', `/v1/tasks/${taskId}`, { key: adminKey });
    expect(done.body).toMatchObject({
      completed: true,
      completion_evidence: [{ kind: 'commit', ref: 'abc1234', summary: 'Quarantined the test' }],
    });
    await page.getByRole('link', { name: '← Board' }).click();
    await expect(column(page, 'done').innerText()).resolves.toContain('Triage flaky test');

    // Webhooks: created with its secret shown once; the first delivery fails (410), redelivery succeeds.
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByLabel('URL').fill(receiverUrl);
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await expect(page.locator('[data-secret="webhook-secret"]').innerText()).resolves.toMatch(/^whsec_/);
    await page.getByRole('link', { name: receiverUrl }).click();
    await page.getByRole('button', { name: 'Send a test ping' }).click();
    await expect(page.getByRole('status').innerText()).resolves.toContain('Test ping queued');
    const status = page.locator('[data-delivery-status]').first();
    await expect.poll(async () => (await page.reload(), status.innerText()), { timeout: 30_000, interval: 500 }).toBe('failed');
    await expect(page.locator('tr[data-delivery-id]').first().innerText()).resolves.toContain('#1: 410');
    setReceiverStatus(200);
    await page.getByRole('button', { name: 'Redeliver' }).click();
    await expect(page.getByRole('status').innerText()).resolves.toContain('Redelivery queued');
    await expect.poll(async () => (await page.reload(), status.innerText()), { timeout: 30_000, interval: 500 }).toBe('succeeded');
    await expect(page.locator('tr[data-delivery-id]').first().innerText()).resolves.toContain('#2: 200');
    expect(answers.slice(0, 2)).toEqual([410, 200]);

    // No script error and nothing the CSP blocked, on any page so far.
    expect(errors).toEqual([]);

    // Redelivering one that succeeded is the API's refusal, shown plainly.
    await page.getByRole('button', { name: 'Redeliver' }).click();
    await expect(page.getByRole('alert').innerText()).resolves.toContain('Only failed deliveries can be redelivered');

    // Sign out: the board is closed again.
    await page.goto(`${server.baseUrl}/app`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${server.baseUrl}/app/sign-in`);
    await page.goto(`${server.baseUrl}/app`);
    expect(new URL(page.url()).pathname).toBe('/app/sign-in');

    // A second account sees none of it.
    const other = await signedInHuman('grace');
    const board = await other.page.locator('#board').innerText();
    expect(board).not.toContain('Triage flaky test');
    expect(board).not.toContain('Rotate staging certificates');
    const res = await other.page.goto(`${server.baseUrl}/app/tasks/${taskId}`);
    expect(res?.status()).toBe(404);
    await other.page.goto(`${server.baseUrl}/app/agents`);
    await expect(other.page.locator('table').innerText()).resolves.not.toContain('build-bot');
    await other.page.goto(`${server.baseUrl}/app/webhooks`);
    await expect(other.page.locator('main').innerText()).resolves.toContain('No webhooks yet');
    await other.page.close();
  });

  /** WCAG contrast ratio of two computed rgb() colours. */
  function contrast(a: string, b: string): number {
    const lum = (rgb: string) => {
      const [r, g, bl] = rgb
        .match(/\d+/g)!
        .slice(0, 3)
        .map((v) => {
          const c = Number(v) / 255;
          return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
    };
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi! + 0.05) / (lo! + 0.05);
  }

  it('drags cards between open and done as the API allows, shows its refusal, edits subtasks and links, runs the recurrence, ingress and automation pages, and follows the dark scheme', async () => {
    const { page, key } = await signedInHuman('lin');
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const make = async (body: Record<string, unknown>) =>
      (await http(server.baseUrl, 'POST', '/v1/tasks', { key, body })).body.id as string;
    const plain = await make({ content: 'Drag me to done' });
    const strict = await make({ content: 'Needs evidence', evidence_policy: 'required' });
    const finished = await make({ content: 'Reopen me' });
    await http(server.baseUrl, 'POST', `/v1/tasks/${finished}/complete`, { key, body: {} });
    await page.goto(`${server.baseUrl}/app`);
    const card = (col: string, id: string) => column(page, col).locator(`.card[data-task-id="${id}"]`);

    // Open to done completes; done to open reopens: the same as the API.
    await card('open', plain).dragTo(column(page, 'done'));
    await card('done', plain).waitFor({ timeout: 10_000 });
    expect((await http(server.baseUrl, 'GET', `/v1/tasks/${plain}`, { key })).body.completed).toBe(true);
    await card('done', finished).dragTo(column(page, 'open'));
    await card('open', finished).waitFor({ timeout: 10_000 });
    expect((await http(server.baseUrl, 'GET', `/v1/tasks/${finished}`, { key })).body).toMatchObject({ completed: false, reopen_count: 1 });

    // A task whose policy demands evidence is refused, plainly, and stays where it was.
    await card('open', strict).dragTo(column(page, 'done'));
    const refusal = page.locator('#board-status');
    await refusal.waitFor({ state: 'visible', timeout: 10_000 });
    await expect(refusal.innerText()).resolves.toContain('This task requires evidence to complete');
    await expect(card('open', strict).count()).resolves.toBe(1);
    expect((await http(server.baseUrl, 'GET', `/v1/tasks/${strict}`, { key })).body.completed).toBe(false);

    // The keyboard way is still there: select the card, press c.
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    const ids = await Promise.all((await page.locator('#board .card').all()).map((c) => c.getAttribute('data-task-id')));
    const index = ids.indexOf(finished);
    for (let i = 0; i <= index; i++) await page.keyboard.press('j');
    await expect(page.locator('.card[aria-selected="true"]').getAttribute('data-task-id')).resolves.toBe(finished);
    await page.keyboard.press('c');
    await card('done', finished).waitFor({ timeout: 10_000 });

    // The task page: subtasks added, checked off and deleted; a link added and removed; the history.
    await page.goto(`${server.baseUrl}/app/tasks/${strict}`);
    await page.getByLabel('New subtask').fill('Run the migration');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByLabel('New subtask').fill('Tell support');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('button', { name: 'Check off Run the migration' }).click();
    await expect(page.getByRole('button', { name: 'Uncheck Run the migration' }).getAttribute('aria-pressed')).resolves.toBe('true');
    await page.getByRole('button', { name: 'Delete subtask Tell support' }).click();
    await page.getByRole('button', { name: 'Delete subtask Tell support' }).waitFor({ state: 'detached' });
    await expect(page.locator('[data-subtask-id]').count()).resolves.toBe(1);
    await page.getByLabel('Link kind').selectOption('pr');
    await page.getByLabel('Link reference').fill('#77');
    await page.getByLabel('Link URL').fill('https://example.com/pr/77');
    await page.getByRole('button', { name: 'Link', exact: true }).click();
    await expect(page.getByRole('link', { name: '#77' }).getAttribute('href')).resolves.toBe('https://example.com/pr/77');
    const subtasks = (await http(server.baseUrl, 'GET', `/v1/tasks/${strict}/subtasks`, { key })).body;
    expect(subtasks).toMatchObject([{ content: 'Run the migration', completed: true }]);
    await page.getByRole('button', { name: 'Remove link #77' }).click();
    await page.getByRole('button', { name: 'Remove link #77' }).waitFor({ state: 'detached' });
    await expect(page.locator('[data-link-id]').count()).resolves.toBe(0);
    await expect(page.locator('ol.timeline').innerText()).resolves.toContain('Created by');

    // Recurrences, automations and ingress sources from their pages (their data is tested in workerd).
    await page.getByRole('link', { name: 'Recurrences' }).click();
    await page.getByLabel('Task', { exact: true }).fill('Rotate the rota');
    await page.getByLabel('Repeats').selectOption('weekly');
    await page.getByRole('button', { name: 'Create recurrence' }).click();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Rotate the rota');
    await page.getByRole('button', { name: 'Pause Rotate the rota' }).click();
    await expect(page.locator('tr[data-recurrence-id] [data-state]').innerText()).resolves.toBe('paused');
    expect((await http(server.baseUrl, 'GET', '/v1/recurrences', { key })).body[0]).toMatchObject({
      content: 'Rotate the rota',
      rule_type: 'weekly',
      active: false,
    });
    await page.getByRole('link', { name: 'Ingress' }).click();
    await page.getByLabel('Name').fill('CI failures');
    await page.getByLabel('Task title template').fill('CI failed: {{workflow}}');
    await page.getByRole('button', { name: 'Create source' }).click();
    await expect(page.locator('[data-secret="ingress-secret"]').innerText()).resolves.toMatch(/\S{16,}/);
    await page.getByRole('link', { name: 'CI failures' }).click();
    await page.waitForURL('**/app/ingress/ing_*');
    await expect(page.locator('[data-secret]').count()).resolves.toBe(0);
    await expect(page.locator('#h-deliveries + p').innerText()).resolves.toBe('No deliveries yet.');
    await page.getByRole('link', { name: 'Automations' }).click();
    await page.getByLabel('Name').fill('Label CI');
    await page.getByLabel('Actions (JSON, in order)').fill('[{"type":"add_label","label":"triage"}]');
    await page.getByRole('button', { name: 'Create rule' }).click();
    await expect(page.locator('#h-runs + p').innerText()).resolves.toContain('No runs yet');

    // Dark scheme: the dark palette, with readable contrast (light too).
    // The page's own computed colours (evaluated in the page, which has a DOM).
    const colours = () =>
      page.evaluate(`(() => {
        const css = (el, prop) => (el ? getComputedStyle(el)[prop] : '');
        const button = document.querySelector('main button:not(.quiet):not(.danger)');
        return {
          bg: css(document.body, 'backgroundColor'),
          text: css(document.body, 'color'),
          panel: css(document.querySelector('.panel'), 'backgroundColor'),
          muted: css(document.querySelector('.muted'), 'color'),
          buttonBg: css(button, 'backgroundColor'),
          buttonText: css(button, 'color'),
        };
      })()`) as Promise<Record<'bg' | 'text' | 'panel' | 'muted' | 'buttonBg' | 'buttonText', string>>;
    // The DOM is there before the stylesheet has loaded: wait for it.
    await page.waitForLoadState('load');
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await colours();
    expect(light.bg).toBe('rgb(246, 247, 249)');
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await colours();
    expect(dark).toMatchObject({ bg: 'rgb(15, 17, 21)', text: 'rgb(230, 233, 239)', panel: 'rgb(23, 26, 33)' });
    for (const scheme of [light, dark]) {
      expect(contrast(scheme.text, scheme.bg)).toBeGreaterThanOrEqual(7);
      expect(contrast(scheme.muted, scheme.panel)).toBeGreaterThanOrEqual(4.5);
      expect(contrast(scheme.buttonText, scheme.buttonBg)).toBeGreaterThanOrEqual(4.5);
    }
    await page.goto(`${server.baseUrl}/app`);
    await page.setViewportSize({ width: 1400, height: 800 });
    await page.screenshot({ path: join(DOCS, 'board-dark.png') });
    // Only the refused drop's answer, which the browser logs as a failed resource.
    expect(errors).toEqual(['Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)']);
    await page.close();
  });
});
