/** Worker entry: HTTP (Hono), the webhook Queue consumer, the Cron Trigger's jobs, and the Durable Objects. */
import { createApp } from './app';
import { isOAuthRequest, oauthProviderFor } from './mcp/oauth';
import type { Env } from './env';
import { countingD1, isolateD1Tally, meteredEnv, type RoundTripCounter } from './platform/d1-metrics';
import { scheduled } from './scheduled';
import { handleWebhookBatch } from './webhooks/consumer';
import type { EventQueueMessage } from './webhooks/messages';

const app = createApp();

export default {
  async fetch(request, plainEnv, ctx) {
    // /health apart: load balancers and uptime probes call it whatever the fleet does.
    const env = plainEnv.D1_METRICS === '1' ? meteredEnv(plainEnv, new URL(request.url).pathname.endsWith('/health') ? 'health' : 'worker') : plainEnv;
    if (env.D1_METRICS === '1' && new URL(request.url).pathname === '/__d1-metrics') return Response.json(isolateD1Tally);
    // OAuth endpoints and /mcp with an OAuth token; API keys never touch the provider.
    if (isOAuthRequest(request)) return oauthProviderFor(app, request, env).fetch(request, env, ctx);
    // Counting is opt-in per request, so load runs measure the Worker without the counting proxy.
    if (env.D1_METRICS !== '1' || request.headers.get('X-D1-Metrics') !== '1') return app.fetch(request, env, ctx);
    const counter: RoundTripCounter = { count: 0 };
    const res = await app.fetch(request, { ...env, DB: countingD1(env.DB, counter) }, ctx);
    const counted = new Response(res.body, res);
    counted.headers.set('X-D1-Round-Trips', String(counter.count));
    return counted;
  },
  queue: (batch, env) => handleWebhookBatch(batch, meteredEnv(env, 'queue')),
  scheduled: (controller: ScheduledController, env: Env, ctx?: ExecutionContext) => scheduled(controller, meteredEnv(env, 'scheduled'), ctx),
} satisfies ExportedHandler<Env, EventQueueMessage>;

export { ClaimQueue } from './work-queue/claim-queue';
export { RateLimiter } from './access/rate-limiter';
export { KeyGate } from './access/key-gate';
