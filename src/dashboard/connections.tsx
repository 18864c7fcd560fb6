/**
 * /app/connections: the MCP hosts the signed-in human connected by OAuth (mcp/oauth.ts), each
 * with the agent it acts as and when it was granted, and a button that revokes the grant and
 * its tokens (the host's next /mcp request is refused). Grants live in the OAuth provider's KV
 * and are the human's own (keyed by their user id); the provider's helpers reach this page
 * because index.ts routes /app/connections through the provider (isOAuthRequest).
 */
import type { GrantSummary, OAuthHelpers } from '@cloudflare/workers-oauth-provider';
import { and, eq, inArray } from 'drizzle-orm';
import { Hono } from 'hono';
import type { FC } from 'hono/jsx';
import { database } from '../db/client';
import { agents } from '../db/schema';
import type { Env, Variables } from '../env';
import { ApiError } from '../platform/errors';
import { htmlDocument } from '../platform/html';
import type { Human } from '../sign-in/magic-link';
import { Notice, Table } from './kit';
import { Layout, type Viewer } from './views';

type Bindings = { Bindings: Env; Variables: Variables & { human: Human } };

/** A human has a handful of connections; more than this many pages of grants is not a dashboard's job. */
const GRANT_PAGES = 10;

export interface Connection {
  grantId: string;
  clientName: string;
  /** Where the host receives its tokens: the host a human recognises. */
  redirectHost: string | null;
  clientId: string;
  agent: { id: string; name: string; role: string } | null;
  agentId: string | null;
  grantedAt: string;
  expiresAt: string | null;
}

function helpers(env: Env): OAuthHelpers {
  const oauth = (env as Env & { OAUTH_PROVIDER?: OAuthHelpers }).OAUTH_PROVIDER;
  if (!oauth) throw new ApiError({ status: 503, code: 'OAUTH_UNAVAILABLE', message: 'Connections cannot be read right now.' });
  return oauth;
}

async function grantsOf(oauth: OAuthHelpers, userId: string): Promise<GrantSummary[]> {
  const grants: GrantSummary[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < GRANT_PAGES; page++) {
    const result = await oauth.listUserGrants(userId, cursor ? { cursor } : undefined);
    grants.push(...result.items);
    cursor = result.cursor;
    if (!cursor) break;
  }
  return grants.sort((a, b) => b.createdAt - a.createdAt);
}

const hostOf = (uri: string | undefined) => {
  try {
    return uri ? new URL(uri).host || uri : null;
  } catch {
    return null;
  }
};
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function connectionsOf(env: Env, human: Human): Promise<Connection[]> {
  const oauth = helpers(env);
  const grants = await grantsOf(oauth, human.userId);
  const agentIds = [
    ...new Set(
      grants.map((g) => (g.metadata as { agentId?: unknown } | null)?.agentId).filter((id): id is string => typeof id === 'string'),
    ),
  ];
  const [clients, rows] = await Promise.all([
    Promise.all(grants.map((g) => oauth.lookupClient(g.clientId).catch(() => null))),
    agentIds.length
      ? database(env.DB)
          .select({ id: agents.id, name: agents.name, displayName: agents.displayName, role: agents.role })
          .from(agents)
          .where(and(eq(agents.accountId, human.principal.accountId), inArray(agents.id, agentIds)))
      : Promise.resolve([]),
  ]);
  const byId = new Map(rows.map((a) => [a.id, { id: a.id, name: a.displayName ?? a.name, role: a.role }]));
  return grants.map((g, i) => {
    const agentId = (g.metadata as { agentId?: unknown } | null)?.agentId;
    const client = clients[i];
    return {
      grantId: g.id,
      clientName: client?.clientName ?? 'Unnamed app',
      redirectHost: hostOf(g.redirectUri ?? client?.redirectUris[0]),
      clientId: g.clientId,
      agentId: typeof agentId === 'string' ? agentId : null,
      agent: typeof agentId === 'string' ? (byId.get(agentId) ?? null) : null,
      grantedAt: iso(g.createdAt),
      expiresAt: g.expiresAt ? iso(g.expiresAt) : null,
    };
  });
}

export const ConnectionsPage: FC<{ viewer: Viewer; connections: Connection[]; revoked?: boolean }> = ({ viewer, connections, revoked }) => (
  <Layout title="Connections" viewer={viewer} section="connections">
    <h1>Connections</h1>
    <Notice text={revoked ? 'Connection revoked: the app can no longer use Delega with it.' : undefined} />
    <p class="muted">
      Apps you connected to Delega's MCP server by signing in (OAuth). Each acts as the agent you chose, with that agent's role; revoking
      ends its access at once. Delega does not record when a connection was last used. Apps that use an API key are not listed here: rotate
      the agent's key on the <a href="/app/agents">Agents</a> page.
    </p>
    <div class="panel">
      {connections.length === 0 ? (
        <p class="empty">No app is connected.</p>
      ) : (
        <Table head={['App', 'Acts as', 'Granted', 'Expires', '']}>
          {connections.map((g) => (
            <tr data-grant-id={g.grantId}>
              <td>
                <strong>{g.clientName}</strong>
                <div class="muted small">{g.redirectHost ? `tokens go to ${g.redirectHost}` : null}</div>
                <div class="muted small">
                  client <code>{g.clientId}</code>
                </div>
              </td>
              <td>
                {g.agent ? (
                  <>
                    {g.agent.name} <span class="muted small">({g.agent.role})</span>
                  </>
                ) : (
                  <span class="muted">{g.agentId ? `deleted agent ${g.agentId}` : 'unknown'}</span>
                )}
              </td>
              <td class="small">{g.grantedAt}</td>
              <td class="small">{g.expiresAt ?? 'when revoked'}</td>
              <td>
                <form
                  method="post"
                  action={`/app/connections/${encodeURIComponent(g.grantId)}/revoke`}
                  data-confirm={`Revoke ${g.clientName}? It stops working at once.`}
                >
                  <button class="danger" type="submit" aria-label={`Revoke ${g.clientName}`}>
                    Revoke
                  </button>
                </form>
              </td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  </Layout>
);

const viewer = (h: Human): Viewer => ({ email: h.email, name: h.name });

/** Mounted behind the dashboard's sign-in, CSRF check and page headers (routes.tsx). */
export const connectionRoutes = new Hono<Bindings>()
  .get('/connections', async (c) => {
    const human = c.get('human');
    const connections = await connectionsOf(c.env, human);
    return c.html(
      htmlDocument(<ConnectionsPage viewer={viewer(human)} connections={connections} revoked={c.req.query('revoked') === '1'} />),
    );
  })
  .post('/connections/:grantId/revoke', async (c) => {
    const human = c.get('human');
    const grantId = c.req.param('grantId').slice(0, 200);
    const oauth = helpers(c.env);
    // Only a grant of this human: another's id (or a made-up one) is a 404 that changes nothing.
    const own = await grantsOf(oauth, human.userId);
    if (!own.some((g) => g.id === grantId))
      throw new ApiError({ status: 404, code: 'CONNECTION_NOT_FOUND', message: 'No such connection.' });
    await oauth.revokeGrant(grantId, human.userId);
    return c.redirect('/app/connections?revoked=1', 303);
  });
