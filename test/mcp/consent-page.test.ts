/**
 * The OAuth consent page shows what a host says about itself (its self-registered name), the
 * agents' names and the human's address as text: a hostile client name injects nothing.
 */
import { env, SELF } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { agents } from '../../src/db/schema';
import { consentPage, failurePage } from '../../src/mcp/consent-page';
import { BASE, db } from '../helpers/fixtures';
import { HOSTILE, injected, parseHtml } from '../helpers/html';
import { freshEmail, freshIp, latestMail } from '../helpers/onboarding';

const CALLBACK = 'https://host.example/callback';

async function send(path: string, init: { method?: string; form?: Record<string, string>; json?: unknown; cookie?: string } = {}) {
  const headers: Record<string, string> = { 'CF-Connecting-IP': freshIp() };
  if (init.cookie) headers.Cookie = init.cookie;
  if (init.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    headers.Origin = BASE;
  }
  if (init.json) headers['Content-Type'] = 'application/json';
  return SELF.fetch(`${BASE}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.form ? new URLSearchParams(init.form).toString() : init.json ? JSON.stringify(init.json) : undefined,
    redirect: 'manual',
  });
}

describe('the consent page with hostile values', () => {
  it('renders a hostile client name, domain, host, agent names and address as text', async () => {
    const res = consentPage({
      clientName: HOSTILE,
      clientDomain: HOSTILE,
      redirectHost: HOSTILE,
      redirectIsLoopback: true,
      handle: HOSTILE,
      email: HOSTILE,
      choices: [{ id: HOSTILE, name: HOSTILE, displayName: HOSTILE, role: 'worker' }],
    });
    expect(res.headers.get('Content-Security-Policy')).toContain("default-src 'none'");
    const shown = await parseHtml(await res.text());
    expect(injected(shown)).toEqual([]);
    expect(shown.text).toContain(`Connect ${HOSTILE}?`);
    expect(shown.text).toContain(`${HOSTILE} (published by ${HOSTILE}) asks to use Delega's MCP tools. Access goes to ${HOSTILE}.`);
    expect(shown.text).toContain(`Signed in as ${HOSTILE}. Act as:`);
    expect(shown.text).toContain(`${HOSTILE} (${HOSTILE}, worker)`);
    expect(shown.attributes.filter((a) => a.element === 'input' && a.name === 'value').map((a) => a.value)).toEqual([HOSTILE, HOSTILE]);
  });

  it('renders a hostile failure message as text', async () => {
    const res = failurePage(HOSTILE, 400);
    expect(res.status).toBe(400);
    const shown = await parseHtml(await res.text());
    expect(injected(shown)).toEqual([]);
    expect(shown.text).toContain(HOSTILE);
  });

  it('through the app: a host that registered itself under a hostile name, and an agent with one', async () => {
    const registered = await send('/oauth/register', {
      method: 'POST',
      json: { client_name: HOSTILE, redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' },
    });
    expect(registered.status).toBe(201);
    const { client_id: clientId } = (await registered.json()) as { client_id: string };

    const email = freshEmail('consent');
    const made = await createAccount(db(), {
      pepper: env.KEY_PEPPER!,
      input: { status: 'active', agentName: 'default', projectName: 'Inbox', sandbox: false, user: { email, name: 'Ada' } },
      now: Date.now(),
    });
    await db().update(agents).set({ displayName: HOSTILE }).where(eq(agents.id, made.agentId));
    expect((await send('/app/sign-in', { method: 'POST', form: { email } })).status).toBe(200);
    const signedIn = await send('/app/sign-in/link', { method: 'POST', form: { token: (await latestMail(email)).token! } });
    const cookie = signedIn.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith('delega_human='))!;

    const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
    const consent = await send(
      `/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: CALLBACK, code_challenge: challenge, code_challenge_method: 'S256', state: 'st', scope: 'mcp', resource: `${env.PUBLIC_BASE_URL}/mcp` })}`,
      { cookie },
    );
    expect(consent.status).toBe(200);
    const shown = await parseHtml(await consent.text());
    expect(injected(shown)).toEqual([]);
    expect(shown.text).toContain(`Connect ${HOSTILE}?`);
    expect(shown.text).toContain(`${HOSTILE} (default, admin)`);
  });
});
