/**
 * `/mcp`: the MCP Streamable HTTP endpoint. The same API keys as `/v1` (X-Agent-Key or
 * Authorization: Bearer), or an OAuth token standing for one agent's key (mcp/oauth.ts),
 * counted against the key's rate limit, one count per HTTP request. Stateless: every POST carries
 * its JSON-RPC message and gets its answer as JSON; there is no session and no server-to-client
 * stream, so GET and DELETE answer 405.
 */
import { isLegacyRequest, WebStandardStreamableHTTPServerTransport, type AuthInfo } from '@modelcontextprotocol/server';
import { createMcpHandler } from 'agents/mcp/server';
import { Hono } from 'hono';
import type { AppBindings } from '../env';
import { ApiError } from '../platform/errors';
import { limit } from '../platform/config';
import { admitRequest } from '../access/router';
import { readTextCapped } from '../http/body';
import { mcpServer } from './server';
import type { OAuthProps } from './oauth';
import { toolContext, type ToolContext } from './tools';

export const MCP_PATH = '/mcp';

/**
 * One handler per isolate for 2026-era (envelope) requests; each request's server is built for
 * its caller from authInfo. 2025-era requests, what today's hosts send, are answered by
 * `legacyAnswer` (the SDK's documented routing with `legacy: 'reject'`).
 */
const handler = createMcpHandler((request) => mcpServer(request.authInfo!.extra!.tools as ToolContext), {
  route: MCP_PATH,
  corsOptions: false,
  responseMode: 'json',
  legacy: 'reject',
});

/**
 * A 2025-era request through the SDK's own stateless transport, answered as one JSON body. The
 * agents package's compatibility lane streams every answer as SSE through two stream wrappers:
 * measured alone in Node, a tools/call took 0.73 ms there and 0.39 ms here.
 */
async function legacyAnswer(request: Request, authInfo: AuthInfo, parsedBody: unknown): Promise<Response> {
  const server = mcpServer(authInfo.extra!.tools as ToolContext);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  try {
    await server.connect(transport);
    return await transport.handleRequest(request, parsedBody === undefined ? { authInfo } : { authInfo, parsedBody });
  } finally {
    await Promise.all([transport.close(), server.close()]).catch(() => undefined);
  }
}

/**
 * The body read once, under the body cap (on the bytes, not only Content-Length), and parsed for
 * the SDK (which then reads it no more); a body that is not JSON stays text for the SDK to refuse.
 */
async function readBody(request: Request, max: number): Promise<{ parsed: unknown; request: Request }> {
  const text = await readTextCapped(request, max);
  if (text === null) throw new ApiError({ status: 413, code: 'PAYLOAD_TOO_LARGE', message: `Request body is larger than ${max} bytes` });
  try {
    return { parsed: JSON.parse(text), request };
  } catch {
    return { parsed: undefined, request: new Request(request, { body: text }) };
  }
}

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
      {
        error: 'This MCP server is stateless: send each JSON-RPC message with POST /mcp (there is no session to open or end).',
        code: 'METHOD_NOT_ALLOWED',
      },
      { status: 405, headers: { ...CORS_HEADERS, Allow: 'POST, OPTIONS' } },
    ),
  )
  .post(MCP_PATH, async (c) => {
    const declared = Number(c.req.header('Content-Length') ?? 0);
    if (declared > limit(c.env, 'BODY_BYTES'))
      throw new ApiError({
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        message: `Request body is larger than ${limit(c.env, 'BODY_BYTES')} bytes`,
      });
    let admitted: Awaited<ReturnType<typeof admitRequest>>;
    try {
      // Set by the OAuth provider when the request carried one of its tokens (mcp/oauth.ts).
      const oauth = (c.executionCtx as { props?: Partial<OAuthProps> }).props;
      admitted = await admitRequest(c, oauth?.keyHash ? { keyHash: oauth.keyHash, accountId: oauth.accountId ?? null } : undefined);
    } catch (e) {
      // Tells MCP hosts how to authenticate.
      if (e instanceof ApiError && e.status === 401)
        throw new ApiError({
          status: 401,
          code: e.code,
          message: e.message,
          headers: { ...e.headers, 'WWW-Authenticate': 'Bearer realm="delega"' },
        });
      throw e;
    }
    c.set('principal', admitted.principal);
    const p = admitted.principal;
    const authInfo: AuthInfo = { token: '', clientId: p.agentId, scopes: [], extra: { tools: toolContext(c.env, c.executionCtx, p) } };
    const { parsed: parsedBody, request } = await readBody(c.req.raw, limit(c.env, 'BODY_BYTES'));
    // A body that is not JSON is legacy too: the transport answers it with a JSON-RPC parse error.
    const res =
      parsedBody === undefined || (await isLegacyRequest(request, parsedBody))
        ? await legacyAnswer(request, authInfo, parsedBody)
        : await handler.fetch(request, { authInfo, parsedBody });
    const answer = new Response(res.body, res);
    for (const [name, value] of Object.entries({ ...CORS_HEADERS, ...admitted.rateHeaders })) answer.headers.set(name, value);
    return answer;
  });
