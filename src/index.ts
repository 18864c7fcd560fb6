/** Worker entry: HTTP (Hono), the webhook Queue consumer, the Cron Trigger's jobs, and the Durable Objects. */
import { createApp } from './app';
import { isOAuthRequest, oauthProviderFor } from './mcp/oauth';
import type { Env } from './env';
import { BOOKMARK_HEADER, requestedBookmark, RequestSession, sessionDatabase } from './db/session';
import { countingD1, isolateD1Tally, meteredEnv, type RoundTripCounter } from './platform/d1-metrics';
import { ApiError } from './platform/errors';
import { HOPS_HEADER, HopMeter, meteredNamespace } from './platform/hops';
import { scheduled } from './scheduled';
import { handleEventBatch } from './queue';
import type { EventQueueMessage } from './webhooks/messages';
import { receiptedQueues } from './work-queue/queue-receipts';

const app = createApp();

/** Counting is opt-in per request, so load runs measure the Worker without the counting proxies. */
interface Metrics {
  d1: RoundTripCounter;
  hops: HopMeter;
}

function newMetrics(): Metrics {
  const hops = new HopMeter();
  return { d1: { count: 0, hops }, hops };
}

/**
 * The bindings one request sees: D1 through the request's session (read replicas, the
 * bookmark), the claim queue answering its writes' bookmarks, and with metrics every D1 round
 * trip and Durable Object call counted.
 */
function requestEnv(env: Env, session: RequestSession, metrics: Metrics | null): Env {
  if (!metrics) return { ...env, DB: session.db, CLAIM_QUEUE: receiptedQueues(env.CLAIM_QUEUE, session) };
  const admission = (value: unknown) => (value as { d1RoundTrips?: number }).d1RoundTrips ?? 0;
  return {
    ...env,
    DB: countingD1(session.db, metrics.d1),
    CLAIM_QUEUE: receiptedQueues(env.CLAIM_QUEUE, session, metrics),
    KEY_GATE: meteredNamespace(env.KEY_GATE, metrics.hops, { admit: admission, forget: null }),
    RATE_LIMITER: meteredNamespace(env.RATE_LIMITER, metrics.hops, { hit: null }),
  };
}

/**
 * The answer with these headers added. The app's own answers have mutable headers and get them
 * as they are; a fetched or redirect answer's headers are immutable, so it is copied (copying
 * every answer cost about 0.1 ms of CPU per request, measured on `GET /health`).
 */
function withHeaders(res: Response, headers: [string, string][]): Response {
  try {
    for (const [name, value] of headers) res.headers.set(name, value);
    return res;
  } catch {
    const copy = new Response(res.body, res);
    for (const [name, value] of headers) copy.headers.set(name, value);
    return copy;
  }
}

export default {
  async fetch(request, plainEnv, ctx) {
    const path = new URL(request.url).pathname;
    // /health apart: load balancers and uptime probes call it whatever the fleet does.
    const env = plainEnv.D1_METRICS === '1' ? meteredEnv(plainEnv, path.endsWith('/health') ? 'health' : 'worker') : plainEnv;
    if (env.D1_METRICS === '1' && path === '/__d1-metrics') return Response.json(isolateD1Tally);
    let session: RequestSession;
    try {
      session = new RequestSession(env.DB, {
        method: request.method,
        path,
        bookmark: requestedBookmark(request.headers.get(BOOKMARK_HEADER)),
      });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      return Response.json(e.body(), { status: e.status, headers: e.headers });
    }
    const metrics = env.D1_METRICS === '1' && request.headers.get('X-D1-Metrics') === '1' ? newMetrics() : null;
    const scoped = requestEnv(env, session, metrics);
    // OAuth endpoints and /mcp with an OAuth token; API keys never touch the provider.
    const res = isOAuthRequest(request, path)
      ? await oauthProviderFor(app, request, scoped).fetch(request, scoped, ctx)
      : await app.fetch(request, scoped, ctx);
    const bookmark = session.bookmark();
    if (res.status === 101 || (!bookmark && !metrics)) return res;
    const headers: [string, string][] = bookmark ? [[BOOKMARK_HEADER, bookmark]] : [];
    if (metrics) {
      headers.push(
        ['X-D1-Round-Trips', String(metrics.d1.count)],
        [HOPS_HEADER, String(metrics.hops.count)],
        // Statements and rows of the whole request, the claim queue's share of its batches included.
        ['X-D1-Statements', String(metrics.d1.statements ?? 0)],
        ['X-D1-Rows-Read', String(metrics.d1.rowsRead ?? 0)],
        ['X-D1-Rows-Written', String(metrics.d1.rowsWritten ?? 0)],
      );
    }
    return withHeaders(res, headers);
  },
  // Deliveries and automation rules read rows their events' requests just wrote: start at the primary.
  queue: (batch, env) => {
    const metered = meteredEnv(env, 'queue');
    const primary = metered.DB.withSession('first-primary');
    return handleEventBatch(batch, { ...metered, DB: sessionDatabase(metered.DB, () => primary) });
  },
  scheduled: (controller: ScheduledController, env: Env, ctx?: ExecutionContext) =>
    scheduled(controller, meteredEnv(env, 'scheduled'), ctx),
} satisfies ExportedHandler<Env, EventQueueMessage>;

export { ClaimQueue } from './work-queue/claim-queue';
export { RateLimiter } from './access/rate-limiter';
export { KeyGate } from './access/key-gate';
