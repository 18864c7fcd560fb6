/**
 * OAuth 2.1 for MCP hosts (@cloudflare/workers-oauth-provider: discovery, dynamic client
 * registration, Client ID Metadata Documents, tokens, revocation). This module is the /authorize
 * page: a human without a dashboard session is sent to the dashboard's sign-in (with this page as `next`), then picks the
 * agent the host will act as, and approves. A token carries that agent's
 * key hash, so it acts with the agent's role, mode and rate limit, and stops working when the
 * agent's key is rotated or the agent is deactivated; the host or the human can revoke it.
 */
import { OAuthProvider, type OAuthHelpers } from '@cloudflare/workers-oauth-provider';
import { and, asc, eq } from 'drizzle-orm';
import { Hono, type Context } from 'hono';
import { database } from '../db/client';
import { agents } from '../db/schema';
import type { AppBindings, Env } from '../env';
import { isDevelopment, keyPepper } from '../platform/config';
import { sessionToken } from '../sign-in/cookie';
import { loadHuman } from '../sign-in/magic-link';
import { consentPage, failurePage } from './consent-page';
import { MCP_PATH } from './routes';

/** What a grant's tokens carry (encrypted in KV by the provider). */
export interface OAuthProps extends Record<string, unknown> {
  agentId: string;
  accountId: string;
  /** The agent's API key hash: the token is admitted as that key. */
  keyHash: string;
}

export const MCP_SCOPE = 'mcp';

const helpers = (env: Env) => (env as Env & { OAUTH_PROVIDER: OAuthHelpers }).OAUTH_PROVIDER;

/** The human of the dashboard session (revocable, one query), or null. */
async function signedIn(c: Context<AppBindings>) {
  return loadHuman(database(c.env.DB), { pepper: keyPepper(c.env), token: sessionToken(c), now: Date.now() });
}

export const authorizeRoutes = new Hono<AppBindings>()
  .get('/authorize', async (c) => {
    const oauth = helpers(c.env);
    let request: Awaited<ReturnType<typeof oauth.parseAuthRequest>>;
    try {
      request = await oauth.parseAuthRequest(c.req.raw);
    } catch (e) {
      return failurePage(e instanceof Error ? e.message : 'Invalid authorization request');
    }
    const human = await signedIn(c);
    if (!human) {
      const here = new URL(c.req.url);
      return c.redirect(`/app/sign-in?${new URLSearchParams({ next: `${here.pathname}${here.search}` })}`, 302);
    }
    const choices = await database(c.env.DB)
      .select({ id: agents.id, name: agents.name, displayName: agents.displayName, role: agents.role })
      .from(agents)
      .where(and(eq(agents.accountId, human.principal.accountId), eq(agents.active, true)))
      .orderBy(asc(agents.createdAt));
    const details = await oauth.describeConsent(request);
    const consent = await oauth.beginConsent(request);
    return consentPage(
      {
        clientName: details.clientName,
        clientDomain: details.clientDomain,
        redirectHost: details.redirectHost,
        redirectIsLoopback: details.redirectIsLoopback,
        handle: consent.handle,
        email: human.email,
        choices,
      },
      consent.headers,
    );
  })
  .post('/authorize', async (c) => {
    const oauth = helpers(c.env);
    const human = await signedIn(c);
    if (!human) return failurePage('Your sign-in expired; start connecting again from the app.', 401);
    const form = await c.req.parseBody();
    const handle = typeof form.handle === 'string' ? form.handle : '';
    try {
      if (form.decision !== 'approve') {
        const denied = await oauth.denyConsent(c.req.raw, handle);
        return new Response(null, { status: 302, headers: denied.headers });
      }
      const agent = await database(c.env.DB)
        .select({ id: agents.id, keyHash: agents.keyHash })
        .from(agents)
        .where(
          and(
            eq(agents.id, typeof form.agent_id === 'string' ? form.agent_id : ''),
            eq(agents.accountId, human.principal.accountId),
            eq(agents.active, true),
          ),
        )
        .get();
      if (!agent) return failurePage('Choose one of your active agents.');
      const approved = await oauth.approveConsent(c.req.raw, handle, { scope: [MCP_SCOPE] });
      const props: OAuthProps = { agentId: agent.id, accountId: human.principal.accountId, keyHash: agent.keyHash };
      const { redirectTo } = await oauth.completeAuthorization({
        request: approved.request,
        userId: human.userId,
        metadata: { agentId: agent.id },
        scope: [MCP_SCOPE],
        props,
      });
      approved.headers.set('Location', redirectTo);
      return new Response(null, { status: 302, headers: approved.headers });
    } catch (e) {
      return failurePage(e instanceof Error ? e.message : 'This approval no longer works; start again from the app.');
    }
  });

/** Whether a request is for the OAuth provider: its endpoints, the pages that need its helpers (consent, the dashboard's connections), or /mcp with a bearer token that is not an API key. */
export function isOAuthRequest(request: Request, path = new URL(request.url).pathname): boolean {
  if (path === '/authorize' || path.startsWith('/oauth/') || path.startsWith('/.well-known/oauth-')) return true;
  if (path === '/app/connections' || path.startsWith('/app/connections/')) return true;
  if (path !== MCP_PATH || request.method === 'OPTIONS') return false;
  if (request.headers.has('X-Agent-Key')) return false;
  const bearer = request.headers.get('Authorization')?.match(/^Bearer\s+(\S+)/i)?.[1];
  // No credential at all: the provider answers 401 with the discovery challenge.
  return !bearer?.startsWith('dlg_');
}

type FetchHandler = { fetch: (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response> };

const providers = new Map<string, OAuthProvider<Env>>();

/**
 * The provider around the app, one per origin: OAuth endpoints and OAuth-authenticated /mcp go
 * through it, everything else is the app's. The resource is PUBLIC_BASE_URL's /mcp (in
 * development the request's own origin, since dev servers run on any port).
 */
export function oauthProviderFor(app: FetchHandler, request: Request, env: Env): OAuthProvider<Env> {
  const origin = isDevelopment(env)
    ? new URL(request.url).origin
    : (env.PUBLIC_BASE_URL ?? new URL(request.url).origin).replace(/\/+$/, '');
  let provider = providers.get(origin);
  if (!provider) {
    const handler: FetchHandler = { fetch: (req, e, ctx) => app.fetch(req, e, ctx) };
    provider = new OAuthProvider<Env>({
      apiRoute: MCP_PATH,
      apiHandler: handler,
      defaultHandler: handler,
      authorizeEndpoint: '/authorize',
      tokenEndpoint: '/oauth/token',
      clientRegistrationEndpoint: '/oauth/register',
      scopesSupported: [MCP_SCOPE],
      requiredScopes: [MCP_SCOPE],
      // A host may name itself by the URL of its Client ID Metadata Document instead of registering.
      clientIdMetadataDocumentEnabled: true,
      resourceMetadata: { resource: `${origin}${MCP_PATH}`, resource_name: 'Delega MCP' },
    });
    providers.set(origin, provider);
  }
  return provider;
}
