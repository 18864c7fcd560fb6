/**
 * Client ID Metadata Documents (the MCP authorization spec's registration by URL): a host whose
 * client_id is the https URL of its metadata document connects without registering. The
 * provider fetches the document (here answered by a stub of the Worker's outbound fetch, the
 * test's stand-in for the host's web server), the human consents to the name and domain it
 * states, and the token works at /mcp. A document that does not match is refused.
 */
import { env, SELF } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAccount } from '../../src/accounts/accounts';
import { BASE, db } from '../helpers/fixtures';
import { freshEmail, freshIp, latestMail } from '../helpers/onboarding';

const CLIENT_ID = 'https://host.example/oauth/client.json';
const CALLBACK = 'https://host.example/callback';
const documents = new Map<string, unknown>();
const fetched: string[] = [];

beforeEach(() => {
  const outbound = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith('https://host.example/')) return outbound(input, init);
    fetched.push(url);
    const doc = documents.get(url);
    return doc ? Response.json(doc, { headers: { 'Cache-Control': 'no-store' } }) : new Response('not found', { status: 404 });
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  documents.clear();
  fetched.length = 0;
});

async function send(path: string, init: { method?: string; form?: Record<string, string>; cookies?: string[] } = {}) {
  const headers: Record<string, string> = { 'CF-Connecting-IP': freshIp() };
  if (init.cookies?.length) headers.Cookie = init.cookies.join('; ');
  if (init.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    headers.Origin = BASE;
  }
  return SELF.fetch(`${BASE}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    redirect: 'manual',
  });
}
const cookiesOf = (res: Response) => res.headers.getSetCookie().map((c) => c.split(';')[0]!);

/** A human with an account, signed in to the dashboard: the session cookie. */
async function signedInHuman() {
  const email = freshEmail('cimd');
  const made = await createAccount(db(), {
    pepper: env.KEY_PEPPER!,
    input: { status: 'active', agentName: 'default', projectName: 'Inbox', sandbox: false, user: { email, name: 'Ada' } },
    now: Date.now(),
  });
  expect((await send('/app/sign-in', { method: 'POST', form: { email } })).status).toBe(200);
  const { token } = await latestMail(email);
  const signedIn = await send('/app/sign-in/link', { method: 'POST', form: { token: token! } });
  expect(signedIn.status).toBe(303);
  return { cookie: cookiesOf(signedIn).find((c) => c.startsWith('delega_human='))!, agentId: made.agentId };
}

async function pkce() {
  const verifier = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const challenge = btoa(String.fromCharCode(...digest))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  return { verifier, challenge };
}

/** The protected resource: outside development the provider names /mcp at PUBLIC_BASE_URL, and its tokens work there only. */
const RESOURCE = `${env.PUBLIC_BASE_URL}/mcp`;

const authorizePath = (challenge: string, redirectUri = CALLBACK) =>
  `/authorize?${new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', state: 'st', scope: 'mcp', resource: RESOURCE })}`;

const DOCUMENT = {
  client_id: CLIENT_ID,
  client_name: 'CIMD Host',
  redirect_uris: [CALLBACK],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};

describe('Client ID Metadata Documents', () => {
  it('are advertised in the authorization server metadata', async () => {
    const metadata = (await (await send('/.well-known/oauth-authorization-server')).json()) as Record<string, unknown>;
    expect(metadata.client_id_metadata_document_supported).toBe(true);
  });

  it('connect a host by the URL of its document: consent names it, the token acts as the chosen agent at /mcp', async () => {
    documents.set(CLIENT_ID, DOCUMENT);
    const human = await signedInHuman();
    const { verifier, challenge } = await pkce();
    const consent = await send(authorizePath(challenge), { cookies: [human.cookie] });
    expect(consent.status).toBe(200);
    const html = await consent.text();
    expect(fetched).toContain(CLIENT_ID);
    expect(html).toContain('Connect CIMD Host?');
    expect(html).toContain('published by host.example');
    const handle = html.match(/name="handle" value="([^"]+)"/)![1]!;

    const approved = await send('/authorize', {
      method: 'POST',
      cookies: [human.cookie, ...cookiesOf(consent)],
      form: { handle, decision: 'approve', agent_id: human.agentId },
    });
    expect(approved.status).toBe(302);
    const redirect = new URL(approved.headers.get('Location')!);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(CALLBACK);
    const code = redirect.searchParams.get('code')!;

    const token = await SELF.fetch(`${BASE}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: CALLBACK,
        client_id: CLIENT_ID,
        code_verifier: verifier,
        resource: RESOURCE,
      }),
    });
    expect(token.status).toBe(200);
    const { access_token: accessToken } = (await token.json()) as { access_token: string };
    const mcp = await SELF.fetch(RESOURCE, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${accessToken}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'create_task', arguments: { content: 'Made by a CIMD host' } },
      }),
    });
    expect(mcp.status).toBe(200);
    expect(await mcp.text()).toContain(`Created by: ${human.agentId}`);
  });

  it('refuse a document that names another client id, a redirect it does not list, and a URL that does not answer', async () => {
    const human = await signedInHuman();
    const { challenge } = await pkce();
    documents.set(CLIENT_ID, { ...DOCUMENT, client_id: 'https://elsewhere.example/client.json' });
    const mismatched = await send(authorizePath(challenge), { cookies: [human.cookie] });
    expect(mismatched.status).toBe(400);
    expect(await mismatched.text()).toContain('Cannot connect');

    documents.set(CLIENT_ID, DOCUMENT);
    const foreignRedirect = await send(authorizePath(challenge, 'https://evil.example/callback'), { cookies: [human.cookie] });
    expect(foreignRedirect.status).toBe(400);
    expect(foreignRedirect.headers.get('Location')).toBeNull();

    documents.clear();
    const missing = await send(authorizePath(challenge), { cookies: [human.cookie] });
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain('Cannot connect');
  });
});
