/**
 * The Worker's HTTP app: the API router mounted at `/v1` (hosted) and `/api` (what the official
 * clients use against localhost), the root routes, the OpenAPI 3.1 document and `/docs`.
 */
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { cors } from 'hono/cors';
import { database } from './db/client';
import { BOOKMARK_HEADER } from './db/session';
import { docsRoutes } from './docs/routes';
import type { AppBindings } from './env';
import { newId } from './platform/ids';
import { isoSeconds } from './platform/time';
import { VERSION } from './platform/version';
import { agentRoutes } from './accounts/agent-routes';
import { billingRoutes } from './accounts/billing-routes';
import { capabilityRoutes } from './access/capabilities-routes';
import { claimPageRoutes } from './onboarding/claim-page';
import { dashboardRoutes } from './dashboard/routes';
import { mcpRoutes } from './mcp/routes';
import { authorizeRoutes } from './mcp/oauth';
import { onError, onNotFound } from './http/error-handler';
import { onboardingRoutes } from './onboarding/routes';
import { createRouter, jsonContent, publicRoute } from './access/router';
import { projectRoutes } from './accounts/project-routes';
import { taskRoutes } from './tasks/routes';
import { taskContextRoutes } from './tasks/context-routes';
import { subtaskRoutes } from './tasks/subtask-routes';
import { commentRoutes } from './tasks/comment-routes';
import { taskLinkRoutes } from './tasks/link-routes';
import { statsRoutes } from './accounts/stats-routes';
import { queueRoutes } from './work-queue/routes';
import { runRoutes } from './work-queue/run-routes';
import { fleetRoutes } from './work-queue/fleet-routes';
import { webhookRoutes } from './webhooks/routes';
import { automationRoutes } from './automations/routes';
import { ingressRoutes } from './ingress/routes';
import { recurrenceRoutes } from './recurrences/routes';
import { recallRoutes } from './recall/routes';
import { decisionPageRoutes } from './decisions/page';

/** Every resource router; each is mounted under both API prefixes. */
function apiRouter() {
  const api = createRouter();
  // Keys travel in headers, never cookies, so any origin may call the API from a browser.
  api.use(
    '*',
    cors({
      origin: '*',
      allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      allowHeaders: ['X-Agent-Key', 'Authorization', 'Content-Type', 'Idempotency-Key', BOOKMARK_HEADER],
      exposeHeaders: [
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
        'Retry-After',
        'X-Total-Count',
        'X-Total-Count-Lower-Bound',
        'Link',
        'Idempotent-Replayed',
        'X-Request-Id',
        BOOKMARK_HEADER,
      ],
      maxAge: 86400,
    }),
  );
  api.route('/', capabilityRoutes);
  api.route('/', queueRoutes);
  api.route('/', runRoutes);
  api.route('/', fleetRoutes);
  api.route('/', agentRoutes);
  api.route('/', projectRoutes);
  api.route('/', taskRoutes);
  api.route('/', taskContextRoutes);
  api.route('/', subtaskRoutes);
  api.route('/', commentRoutes);
  api.route('/', taskLinkRoutes);
  api.route('/', statsRoutes);
  api.route('/', billingRoutes);
  api.route('/', onboardingRoutes);
  api.route('/', webhookRoutes);
  api.route('/', automationRoutes);
  api.route('/', ingressRoutes);
  api.route('/', recurrenceRoutes);
  api.route('/', recallRoutes);
  // The CLI probes `{API URL}/health`: the root one for /v1, this one for a localhost /api.
  api.route('/', healthRoutes());
  return api;
}

const WelcomeSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    docs: z.string(),
    openapi: z.string(),
    endpoints: z.record(z.string(), z.string()),
  })
  .openapi('Welcome');

const HealthSchema = z
  .object({
    status: z.enum(['ok', 'degraded']),
    timestamp: z.string(),
    database: z.enum(['ok', 'unreachable']),
    version: z.string(),
  })
  .openapi('Health');

const welcome = publicRoute({
  method: 'get',
  path: '/',
  tags: ['Service'],
  summary: 'Welcome, version and endpoint map',
  responses: { 200: jsonContent(WelcomeSchema, 'Welcome') },
});

const health = publicRoute({
  method: 'get',
  path: '/health',
  tags: ['Service'],
  summary: 'Liveness and whether D1 answers',
  responses: { 200: jsonContent(HealthSchema, 'Healthy'), 503: jsonContent(HealthSchema, 'D1 did not answer') },
});

function healthRoutes() {
  return createRouter().openapi(health, async (c) => {
    let databaseState: 'ok' | 'unreachable' = 'ok';
    try {
      await database(c.env.DB).run(sql`select 1`);
    } catch {
      databaseState = 'unreachable';
    }
    const body = {
      status: databaseState === 'ok' ? ('ok' as const) : ('degraded' as const),
      timestamp: isoSeconds(Date.now()),
      database: databaseState,
      version: VERSION,
    };
    return databaseState === 'ok' ? c.json(body, 200) : c.json(body, 503);
  });
}

export function createApp() {
  const app = new OpenAPIHono<AppBindings>();
  app.onError(onError);
  app.notFound(onNotFound);
  app.use('*', async (c, next) => {
    c.set('requestId', c.req.header('cf-ray') ?? newId('msg'));
    await next();
    c.res.headers.set('X-Request-Id', c.get('requestId'));
  });

  const root = createRouter().openapi(welcome, (c) =>
    c.json(
      {
        name: 'Delega API',
        version: VERSION,
        docs: '/docs',
        openapi: '/v1/openapi.json',
        endpoints: {
          health: 'GET /health',
          agent_signup: 'POST /v1/agent/signup',
          signup: 'POST /v1/signup',
          me: 'GET /v1/agent/me',
          capabilities: 'GET /v1/capabilities',
          tasks: 'GET|POST /v1/tasks',
          claim: 'POST /v1/tasks/claim',
          agents: 'GET|POST /v1/agents',
          projects: 'GET|POST /v1/projects',
          webhooks: 'GET|POST /v1/webhooks',
          automations: 'GET|POST /v1/automations',
          ingress_sources: 'GET|POST /v1/ingress-sources',
        },
      },
      200,
    ),
  );
  app.route('/', root);
  app.route('/', healthRoutes());
  app.route('/', claimPageRoutes);
  app.route('/', decisionPageRoutes);
  app.route('/app', dashboardRoutes);
  app.route('/', mcpRoutes);
  app.route('/', authorizeRoutes);

  const api = apiRouter();
  app.route('/v1', api);
  app.route('/api', api);

  app.openAPIRegistry.registerComponent('securitySchemes', 'AgentKey', { type: 'apiKey', in: 'header', name: 'X-Agent-Key' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'Bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'dlg_...' });

  app.get('/v1/openapi.json', (c) => c.json(openApiDocument(app)));
  app.route('/', docsRoutes);
  return app;
}

/** The OpenAPI 3.1 document. The `/api` mirror is left out: it serves the same routes as `/v1`. */
export function openApiDocument(app: OpenAPIHono<AppBindings>) {
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Delega API',
      version: VERSION,
      description:
        'Task API for AI agents. Every route under `/v1` is also served under `/api` (the namespace the official clients use against localhost). Authenticate with `X-Agent-Key: dlg_...` or `Authorization: Bearer dlg_...`. Errors are `{error, code, details?}`. ' +
        `Reads may be served by a read replica of the database: every answer that touched it carries an \`${BOOKMARK_HEADER}\` header; send the latest one you received back in \`${BOOKMARK_HEADER}\` and the request sees at least everything up to it (your own writes included). A malformed bookmark is a 400 (\`INVALID_BOOKMARK\`); an absent or empty one asks for no particular freshness.`,
    },
    servers: [{ url: '/' }],
  });
  for (const path of Object.keys(doc.paths ?? {})) {
    if (path.startsWith('/api/')) delete doc.paths![path];
  }
  return doc;
}
