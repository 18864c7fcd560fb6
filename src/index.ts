/** Worker entry: HTTP (Hono), the webhook Queue consumer, and the claim-queue Durable Object. */
import { createApp } from './app';
import type { Env } from './env';
import { handleWebhookBatch } from './webhooks/consumer';
import type { WebhookMessage } from './webhooks/messages';

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleWebhookBatch(batch, env),
} satisfies ExportedHandler<Env, WebhookMessage>;

export { ClaimQueue } from './queue/claim-queue';
export { RateLimiter } from './limits/rate-limiter';
