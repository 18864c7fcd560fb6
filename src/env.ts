/** Worker bindings and per-request context variables. */
import type { ClaimQueue } from './work-queue/claim-queue';
import type { RateLimiter } from './access/rate-limiter';
import type { KeyGate } from './access/key-gate';
import type { EventQueueMessage } from './webhooks/messages';
import type { Principal } from './access/policy';

export interface Env {
  DB: D1Database;
  CLAIM_QUEUE: DurableObjectNamespace<ClaimQueue>;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  /** One per account: its keys' cached principals and rate windows (access/key-gate.ts). */
  KEY_GATE: DurableObjectNamespace<KeyGate>;
  /** Webhook deliveries and the events automation rules react to. */
  WEBHOOKS: Queue<EventQueueMessage>;
  /** OAuth clients, grants and tokens of MCP hosts (@cloudflare/workers-oauth-provider). */
  OAUTH_KV: KVNamespace;
  /** "development" enables the dev mailbox, http webhooks to localhost, and dev conveniences. */
  ENVIRONMENT: string;
  /** Server secret under which API keys, codes and tokens are hashed. */
  KEY_PEPPER?: string;
  MAIL_TRANSPORT?: string;
  MAIL_FROM?: string;
  MAIL_API_URL?: string;
  MAIL_API_KEY?: string;
  EMAIL?: SendEmail;
  PUBLIC_BASE_URL?: string;
  /** "1" answers each request's D1 round trips in X-D1-Round-Trips (benchmarks). */
  D1_METRICS?: string;
  STRIPE_SECRET_KEY?: string;
  /** Stripe's API origin; only tests point it elsewhere. */
  STRIPE_API_BASE?: string;
  STRIPE_WEBHOOK_SECRET?: string;
  STRIPE_PRICE_PRO?: string;
  STRIPE_PRICE_SCALE?: string;
  /** Limits (see platform/config.ts); strings because wrangler vars and secrets are strings. */
  [limit: `LIMIT_${string}`]: string | undefined;
}

export interface Variables {
  principal: Principal;
  requestId: string;
  /** The request body exactly as received (for idempotency fingerprints). */
  rawBody: string;
}

export interface AppBindings {
  Bindings: Env;
  Variables: Variables;
}
