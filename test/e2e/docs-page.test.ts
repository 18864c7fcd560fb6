/**
 * /docs in a real browser (headless Debian chromium): the API reference renders with every
 * request kept to the Worker's own origin (anything else is blocked and recorded), its scripts
 * are served by the Worker's static assets, and the page carries a CSP that allows only 'self'.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable } from './browser';
import { startDevServer, type DevServer } from './harness';

const hasChromium = chromiumAvailable('/docs');

describe.skipIf(!hasChromium)('/docs in headless Chromium', () => {
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

  it('renders the reference from same-origin scripts only, under a CSP', async () => {
    const origin = new URL(server.baseUrl).origin;
    const foreign: string[] = [];
    const scripts: string[] = [];
    const cspViolations: string[] = [];
    const page = await context.newPage();
    // As if offline: nothing but the Worker itself answers.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
      foreign.push(url);
      return route.abort();
    });
    page.on('request', (req) => {
      if (req.resourceType() === 'script') scripts.push(req.url());
    });
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });

    const res = await page.goto(`${server.baseUrl}/docs`);
    expect(res?.status()).toBe(200);
    const csp = res?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");

    // Rendered: the document's title and one of its operations are on the page.
    await page.getByRole('heading', { name: 'Delega API' }).waitFor({ timeout: 20_000 });
    await page.getByText('Liveness and whether D1 answers').first().waitFor({ timeout: 20_000 });

    expect(foreign).toEqual([]);
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const url of scripts) expect(new URL(url).origin).toBe(origin);
    expect(scripts.some((url) => url.endsWith('/docs/assets/scalar-api-reference.js'))).toBe(true);
    expect(cspViolations).toEqual([]);
    await page.close();
  }, 60_000);
});
