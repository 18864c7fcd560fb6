/**
 * The claim page in a real browser: headless Debian chromium (driven by playwright-core) opens
 * the magic link from the dev mailbox, confirms, and sees the success page. Skips, saying so,
 * only when chromium is not installed (scripts/install-chromium.sh installs it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable } from './browser';
import { http, startDevServer, type DevServer } from './harness';

const hasChromium = chromiumAvailable('claim-page');

describe.skipIf(!hasChromium)('claim page in headless Chromium', () => {
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

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function signUpAgent(name: string, label: string) {
    const human = `${name}-${Date.now().toString(36)}@example.com`;
    const signup = await http(server.baseUrl, 'POST', '/v1/agent/signup', {
      body: { human_email: human, agent_name: name, agent_label: label, use_case: 'Keeps the backlog tidy' },
    });
    expect(signup.status).toBe(201);
    const mailbox = await http<{ messages: { links: string[] }[] }>(server.baseUrl, 'GET', `/dev/mailbox?to=${encodeURIComponent(human)}`);
    const link = mailbox.body.messages[0]!.links[0]!;
    return { key: signup.body.api_key as string, link };
  }

  it('opens the link from the dev mailbox, confirms, and sees the success page; the key is full', async () => {
    const { key, link } = await signUpAgent('tidy-bot', 'Tidy Bot');
    const page = await context.newPage();

    const opened = await page.goto(link);
    expect(opened?.status()).toBe(200);
    await expect(page.title()).resolves.toContain('Claim this agent');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Claim this agent');
    const body = await page.locator('main').innerText();
    expect(body).toContain('tidy-bot');
    expect(body).toContain('Keeps the backlog tidy');
    expect(body).toMatch(/t\*\*\*@example\.com/);
    // Opening the link alone claims nothing.
    expect((await http(server.baseUrl, 'GET', '/v1/agent/me', { key })).body.mode).toBe('restricted');

    const [answer] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Claim Tidy Bot' }).click()]);
    expect(answer?.status()).toBe(200);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Agent claimed');
    await expect(page.getByRole('status').innerText()).resolves.toContain('Tidy Bot');

    const me = await http(server.baseUrl, 'GET', '/v1/agent/me', { key });
    expect(me.body).toMatchObject({ mode: 'admin', account: { status: 'active' } });
    const caps = await http(server.baseUrl, 'GET', '/v1/capabilities', { key });
    expect(caps.body.mode).toBe('admin');

    // The back button and a reload show that the link is spent.
    const again = await page.goto(link);
    expect(again?.status()).toBe(410);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Claim link already used');
    await page.close();
  });

  it('shows a clear page for an unknown link', async () => {
    const page = await context.newPage();
    const res = await page.goto(`${server.baseUrl}/claim?token=${'Q'.repeat(43)}`);
    expect(res?.status()).toBe(404);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Claim link not recognised');
    await page.close();
  });
});
