/**
 * `/mcp`: the MCP Streamable HTTP endpoint. The same API keys as `/v1` (X-Agent-Key or
 * Authorization: Bearer), or an OAuth token standing for one agent's key (mcp/oauth.ts),
 * counted against the key's rate limit, one count per HTTP request. Stateless: every POST carries its JSON-RPC message and gets its answer as JSON; there
 * is no session and no server-to-client stream, so GET and DELETE answer 405.
 */
import { createMcpHandler } from 'agents/mcp/server';
import { Hono } from 'hono';
import type { AppBindings } from '../env';
import { ApiError } from '../platform/errors';
import { limit } from '../platform/config';
import { admitRequest } from '../access/router';
import { mcpServer } from './server';
import type { OAuthProps } from './oauth';
import { toolContext, type ToolContext } from './tools';

export const MCP_PATH = '/mcp';

/** One handler per isolate; each request's server is built for its caller from authInfo. */
const handler = createMcpHandler((request) => mcpServer(request.authInfo!.extra!.tools as ToolContext), { route: MCP_PATH, corsOptions: false, responseMode: 'json' });

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, X-Agent-Key, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID',
  'Access-Control-Expose-Headers': 'Mcp-Session-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After',
  'Access-Control-Max-Age': '86400',
};

export const mcpRoutes = new Hono<AppBindings>()
  .options(MCP_PATH, () => new Response(null, { status: 204, headers: CORS_HEADERS }))
  .on(['GET', 'DELETE'], MCP_PATH, () =>
    Response.json(
      { error: 'This MCP server is stateless: send each JSON-RPC message with POST /mcp (there is no session to open or end).', code: 'METHOD_NOT_ALLOWED' },
      { status: 405, headers: { ...CORS_HEADERS, Allow: 'POST, OPTIONS' } },
    ),
  )
  .post(MCP_PATH, async (c) => {
    const declared = Number(c.req.header('Content-Length') ?? 0);
    if (declared > limit(c.env, 'BODY_BYTES')) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `Request body is larger than ${limit(c.env, 'BODY_BYTES')} bytes`);
    let admitted: Awaited<ReturnType<typeof admitRequest>>;
    try {
      // Set by the OAuth provider when the request carried one of its tokens (mcp/oauth.ts).
      const oauth = (c.executionCtx as { props?: Partial<OAuthProps> }).props;
      admitted = await admitRequest(c, oauth?.keyHash);
    } catch (e) {
      // Tells MCP hosts how to authenticate.
      if (e instanceof ApiError && e.status === 401) throw new ApiError(401, e.code, e.message, undefined, undefined, { ...e.headers, 'WWW-Authenticate': 'Bearer realm="delega"' });
      throw e;
    }
    c.set('principal', admitted.principal);
    const p = admitted.principal;
    const res = await handler.fetch(c.req.raw, {
      authInfo: { token: '', clientId: p.agentId, scopes: [], extra: { tools: toolContext(c.env, c.executionCtx, p) } },
    });
    const answer = new Response(res.body, res);
    for (const [name, value] of Object.entries({ ...CORS_HEADERS, ...admitted.rateHeaders })) answer.headers.set(name, value);
    return answer;
  });
