/**
 * An MCP host connecting by OAuth, end to end: it registers itself (dynamic client
 * registration), the human is sent to the dashboard's sign-in in headless Chromium, signs in by
 * magic link, lands back on the consent page, picks the agent and approves; the host trades the code (PKCE) for a token and uses /mcp as that agent. Revoking
 * the token, revoking the connection on the dashboard's Connections page, or rotating the agent's
 * key, ends its access. Skips, saying so, only when chromium
 * is not installed (scripts/install-chromium.sh installs it).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable } from './browser';
import { http, startDevServer, type DevServer } from './harness';

const hasChromium = chromiumAvailable('MCP OAuth');

const HUMAN = 'ada@example.com';

/** Waits for the page (after a navigation) to show this heading. */
async function heading(page: Page, text: string) {
  try {
    await page.waitForSelector(`h1:text-is("${text}")`, { timeout: 15_000 });
  } catch {
    throw new Error(`Expected the heading "${text}" at ${page.url()}; the page shows: ${(await page.textContent('body'))?.slice(0, 500)}`);
  }
}
const CALLBACK = 'http://127.0.0.1:9/callback';

describe.skipIf(!hasChromium)('MCP OAuth in headless Chromium', () => {
  let server: DevServer;
  let base: string;
  let context: BrowserContext;
  let profile: string;
  let adminKey: string;
  let worker: { id: string; api_key: string };

  async function mailbox(to: string) {
    return (await http<{ messages: { links: string[]; codes: string[] }[] }>(base, 'GET', `/dev/mailbox?to=${encodeURIComponent(to)}`)).body
      .messages;
  }

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
    base = server.baseUrl;
    const signup = await http(base, 'POST', '/v1/signup', { body: { email: HUMAN } });
    adminKey = signup.body.api_key;
    await http(base, 'POST', '/v1/verify', { body: { email: HUMAN, code: (await mailbox(HUMAN))[0]!.codes[0] } });
    worker = (
      await http(base, 'POST', '/v1/agents', {
        key: adminKey,
        body: { name: 'oauth-worker', display_name: 'OAuth Worker', role: 'worker' },
      })
    ).body;
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** Registers a host, walks the human through sign-in and consent, and returns the host's token. */
  async function connectByOAuth(agentName: string, opts: { signedIn: boolean }): Promise<{ accessToken: string; clientId: string }> {
    const metadata = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as {
      registration_endpoint: string;
      token_endpoint: string;
    };
    expect(metadata).toMatchObject({
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/oauth/token`,
      registration_endpoint: `${base}/oauth/register`,
    });
    const registered = await fetch(metadata.registration_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        client_name: 'E2E Host',
        redirect_uris: [CALLBACK],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      }),
    });
    expect(registered.status).toBe(201);
    const { client_id: clientId } = (await registered.json()) as { client_id: string };

    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const authorize = `${base}/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: CALLBACK, code_challenge: challenge, code_challenge_method: 'S256', state: 'st-1', scope: 'mcp', resource: `${base}/mcp` })}`;

    const page = await context.newPage();
    let redirected: URL | null = null;
    await page.route('http://127.0.0.1:9/**', async (route) => {
      redirected = new URL(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'host callback' });
    });
    await page.goto(authorize);
    // The dashboard session (the same revocable one) carries over to the next host that connects.
    if (!opts.signedIn) {
      await heading(page, 'Sign in to Delega');
      const signInUrl = new URL(page.url());
      expect(signInUrl.pathname).toBe('/app/sign-in');
      expect(signInUrl.searchParams.get('next')).toBe(authorize.slice(base.length));
      expect(await page.textContent('body')).toContain('An app wants to connect to Delega as one of your agents.');
      await page.fill('input[name=email]', HUMAN);
      await page.click('button[type=submit]');
      await expect(page.getByRole('status').innerText()).resolves.toContain('sign-in link is on its way');
      const [mail] = await mailbox(HUMAN);
      const link = mail!.links.find((l) => l.includes('/app/sign-in/link'))!;
      // Opening the link signs nothing in (a mail scanner's fetch spends nothing): the button does.
      await page.goto(link);
      await heading(page, 'Sign in to Delega');
      await page.click('button[type=submit]');
      await page.waitForURL((url) => url.pathname === '/authorize');
      // No sign-in token in the URL once signed in.
      expect(page.url()).not.toContain('token=');
    }
    await heading(page, 'Connect E2E Host?');
    expect(await page.textContent('body')).toContain('127.0.0.1');
    await page.check(`label:has-text("(${agentName},") input[type=radio]`);
    await page.click('button[value=approve]');
    await page.waitForURL('http://127.0.0.1:9/**');
    await page.close();
    expect(redirected!.searchParams.get('state')).toBe('st-1');
    const code = redirected!.searchParams.get('code')!;

    const token = await fetch(metadata.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: CALLBACK,
        client_id: clientId,
        code_verifier: verifier,
        resource: `${base}/mcp`,
      }),
    });
    expect(token.status).toBe(200);
    const body = (await token.json()) as { access_token: string; token_type: string };
    expect(body).toMatchObject({ token_type: expect.stringMatching(/bearer/i), access_token: expect.any(String) });
    expect(body.access_token).not.toMatch(/^dlg_/);
    return { accessToken: body.access_token, clientId };
  }

  async function mcpClient(accessToken: string): Promise<Client> {
    const client = new Client({ name: 'oauth-host', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${accessToken}` } } }),
    );
    return client;
  }

  it('signs the human in by magic link, acts as the chosen agent, and ends when the token is revoked', async () => {
    const { accessToken, clientId } = await connectByOAuth('oauth-worker', { signedIn: false });
    const client = await mcpClient(accessToken);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('claim_task');
    expect(names).not.toContain('list_agents');
    const created = (await client.callTool({ name: 'create_task', arguments: { content: 'Made over OAuth' } })) as {
      content: { text: string }[];
    };
    expect(created.content[0]!.text).toContain(`Created by: ${worker.id}`);
    await client.close();

    const revoked = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: accessToken, token_type_hint: 'access_token', client_id: clientId }),
    });
    expect(revoked.status).toBe(200);
    const after = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${accessToken}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(after.status).toBe(401);
  });

  it('lists the connection on the dashboard’s Connections page, and revoking it there refuses the token at once', async () => {
    const { accessToken, clientId } = await connectByOAuth('oauth-worker', { signedIn: true });
    const ping = () =>
      fetch(`${base}/mcp`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${accessToken}`,
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
    expect((await ping()).status).toBe(200);

    const page = await context.newPage();
    await page.goto(`${base}/app`);
    await page.click('nav >> text=Connections');
    await heading(page, 'Connections');
    expect(await page.getAttribute('nav a[href="/app/connections"]', 'aria-current')).toBe('page');
    const row = page.locator(`tr:has(code:text-is("${clientId}"))`);
    await expect(row.innerText()).resolves.toMatch(
      /E2E Host[\s\S]*tokens go to 127\.0\.0\.1:9[\s\S]*OAuth Worker \(worker\)[\s\S]*\d{4}-\d\d-\d\dT/,
    );
    // Under the dashboard's CSP: no inline script or style, nothing from elsewhere.
    const res = await page.request.get(`${base}/app/connections`);
    expect(res.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers()['cache-control']).toBe('no-store');

    // Refusals that change nothing: a made-up grant id, a revoke posted from another site, no session.
    const session = (await context.cookies(base)).find((c) => c.name === 'delega_human')!.value;
    const revoke = (grantId: string, headers: Record<string, string>) =>
      fetch(`${base}/app/connections/${grantId}/revoke`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
        body: '',
      });
    expect((await revoke('grant-that-is-not-yours', { Cookie: `delega_human=${session}`, Origin: base })).status).toBe(404);
    const grantId = await row.getAttribute('data-grant-id');
    expect(grantId).toBeTruthy();
    expect((await revoke(grantId!, { Cookie: `delega_human=${session}`, Origin: 'https://evil.example' })).status).toBe(403);
    expect((await revoke(grantId!, { Origin: base })).status).toBe(401);
    expect((await ping()).status).toBe(200);

    page.once('dialog', (dialog) => void dialog.accept());
    await row.locator('button:text-is("Revoke")').click();
    await page.waitForURL(`${base}/app/connections?revoked=1`);
    await expect(page.getByRole('status').innerText()).resolves.toContain('Connection revoked');
    expect(await page.locator(`code:text-is("${clientId}")`).count()).toBe(0);
    await page.close();
    // At once: the host's next request is refused.
    expect((await ping()).status).toBe(401);
  });

  it('a token stops working when its agent’s key is rotated', async () => {
    const { accessToken } = await connectByOAuth('oauth-worker', { signedIn: true });
    const ping = () =>
      fetch(`${base}/mcp`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${accessToken}`,
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
        }),
      });
    expect((await ping()).status).toBe(200);
    expect((await http(base, 'POST', `/v1/agents/${worker.id}/rotate-key`, { key: adminKey })).status).toBe(200);
    const refused = await ping();
    expect(refused.status).toBe(401);
  });

  it('refuses a forged or signed-out session, a reused sign-in link and a sign-in posted from another site', async () => {
    const registered = await fetch(`${base}/oauth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_name: 'Other Host', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' }),
    });
    const { client_id: clientId } = (await registered.json()) as { client_id: string };
    const authorize = `${base}/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: CALLBACK, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', scope: 'mcp' })}`;
    const page = await context.newPage();
    // Signing out of the dashboard ends consent too: the session is revoked server-side, not just forgotten.
    await page.goto(`${base}/app`);
    await heading(page, 'Board');
    const [session] = (await context.cookies(base)).filter((c) => c.name === 'delega_human');
    expect(session).toBeDefined();
    await page.click('button:text-is("Sign out")');
    await page.waitForURL(`${base}/app/sign-in`);
    await context.addCookies([{ name: 'delega_human', value: session!.value, url: base }]);
    await page.goto(authorize);
    await heading(page, 'Sign in to Delega');

    await context.clearCookies();
    await context.addCookies([{ name: 'delega_human', value: 'A'.repeat(43), url: base }]);
    await page.goto(authorize);
    await heading(page, 'Sign in to Delega');
    expect(new URL(page.url()).pathname).toBe('/app/sign-in');
    // The consent POST without a session changes nothing.
    const unsigned = await fetch(`${base}/authorize`, {
      method: 'POST',
      headers: { Cookie: `delega_human=${'A'.repeat(43)}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'handle=x&decision=approve',
    });
    expect(unsigned.status).toBe(401);

    const [mail] = await mailbox(HUMAN);
    const used = mail!.links.find((l) => l.includes('/app/sign-in/link'))!;
    await page.goto(used);
    await page.click('button[type=submit]');
    await heading(page, 'Sign-in link not valid');
    await page.close();

    const token = new URL(used).searchParams.get('token')!;
    const crossSite = await fetch(`${base}/app/sign-in/link`, {
      method: 'POST',
      headers: { Origin: 'https://evil.example', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `token=${token}`,
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get('Set-Cookie')).toBeNull();
  });
});
