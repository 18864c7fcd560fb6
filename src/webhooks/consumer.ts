/**
 * Queue consumer for webhook deliveries, for both queues. On `delega-webhooks` each message is
 * one signed POST: 2xx succeeds, 429/5xx/no answer is retried with exponential backoff, any
 * other answer is final. When the Queue gives up (max_retries), the message lands on the
 * dead-letter queue, whose consumer marks the delivery failed, so nothing is silently dropped.
 */
import { database } from '../db/client';
import type { Env } from '../env';
import { limit } from '../platform/config';
import { attemptDelivery, retryDelaySeconds, type FetchLike } from './delivery';
import { failDelivery, loadDelivery, recordAttempt } from './deliveries';
import { isAutomationMessage, type AutomationMessage, type EventQueueMessage, type WebhookMessage } from './messages';

export interface ConsumerDeps {
  /** Outbound HTTP; the global `fetch` unless a test supplies a receiver. */
  fetch?: FetchLike;
  now?: () => number;
  /** Runs the rules of one event: the automations subscriber, registered at the entry (src/queue.ts). */
  automations?: (env: Env, msg: AutomationMessage, now: number) => Promise<void>;
}

/** Dead-letter queues are named `<queue>-dlq` in every environment (see wrangler.toml). */
export const isDeadLetterQueue = (queue: string) => queue.endsWith('-dlq');

export async function handleWebhookBatch(batch: MessageBatch<EventQueueMessage>, env: Env, deps: ConsumerDeps = {}): Promise<void> {
  const deadLetters = isDeadLetterQueue(batch.queue);
  for (const message of batch.messages) {
    if (isAutomationMessage(message.body)) {
      await handleAutomationMessage(message as Message<typeof message.body>, env, { deps, deadLetters });
      continue;
    }
    if (typeof message.body?.deliveryId !== 'string') {
      // Not one of ours: retrying would never make it deliverable.
      console.error(JSON.stringify({ level: 'error', message: 'malformed webhook message dropped', queue: batch.queue, id: message.id }));
      message.ack();
      continue;
    }
    try {
      const delivery = message as Message<WebhookMessage>;
      if (deadLetters) await handleDeadLetter(delivery, env, deps);
      else await handleDelivery(delivery, env, deps);
    } catch (e) {
      // Our own failure (e.g. D1 unavailable), not the receiver's: try the message again later.
      console.error(
        JSON.stringify({
          level: 'error',
          message: 'webhook consumer failed',
          queue: batch.queue,
          deliveryId: message.body?.deliveryId,
          error: String(e),
        }),
      );
      message.retry({ delaySeconds: limit(env, 'WEBHOOK_RETRY_BASE_SECONDS') });
    }
  }
}

async function handleDelivery(message: Message<WebhookMessage>, env: Env, deps: ConsumerDeps): Promise<void> {
  const db = database(env.DB);
  const now = deps.now ?? Date.now;
  const { delivery, webhook } = await loadDelivery(db, message.body.deliveryId);
  // Deleted meanwhile, or a duplicate of a message whose delivery already finished.
  if (
    !delivery ||
    !webhook ||
    webhook.accountId !== message.body.accountId ||
    (delivery.status !== 'pending' && delivery.status !== 'retrying')
  ) {
    message.ack();
    return;
  }
  const disableAfter = limit(env, 'WEBHOOK_FAILURES_BEFORE_DISABLE');
  if (!webhook.active) {
    await failDelivery(db, delivery, {
      error: 'Not sent: the webhook was deactivated before delivery',
      countAgainstWebhook: false,
      disableAfter,
      now: now(),
    });
    message.ack();
    return;
  }
  const outcome = await attemptDelivery(
    deps.fetch ?? ((input, init) => fetch(input, init)),
    { url: webhook.url, secret: webhook.secret, event: delivery.event, deliveryId: delivery.id, body: delivery.payload },
    { timeoutMs: limit(env, 'WEBHOOK_TIMEOUT_MS'), now },
  );
  const status = outcome.kind === 'retry' ? 'retrying' : outcome.kind;
  await recordAttempt(db, delivery, { outcome, status, disableAfter, now: now() });
  if (outcome.kind === 'retry') {
    message.retry({
      delaySeconds: retryDelaySeconds(message.attempts, limit(env, 'WEBHOOK_RETRY_BASE_SECONDS'), limit(env, 'WEBHOOK_RETRY_MAX_SECONDS')),
    });
  } else {
    message.ack();
  }
}

async function handleDeadLetter(message: Message<WebhookMessage>, env: Env, deps: ConsumerDeps): Promise<void> {
  const db = database(env.DB);
  const { delivery, webhook } = await loadDelivery(db, message.body.deliveryId);
  if (delivery && (delivery.status === 'pending' || delivery.status === 'retrying')) {
    const last = delivery.lastError ? ` (last error: ${delivery.lastError})` : '';
    await failDelivery(db, delivery, {
      error: `Dead-lettered after ${delivery.attempts} attempts${last}`,
      countAgainstWebhook: webhook !== null,
      disableAfter: limit(env, 'WEBHOOK_FAILURES_BEFORE_DISABLE'),
      now: (deps.now ?? Date.now)(),
    });
  }
  message.ack();
}

interface AutomationHandling {
  deps: ConsumerDeps;
  deadLetters: boolean;
}

/** Runs the rules of one event; effects are idempotent, so a retry after a partial run is safe. */
async function handleAutomationMessage(
  message: Message<AutomationMessage>,
  env: Env,
  { deps, deadLetters }: AutomationHandling,
): Promise<void> {
  const runAutomations = deps.automations;
  if (deadLetters || !runAutomations) {
    console.error(
      JSON.stringify({
        level: 'error',
        message: 'automation event dead-lettered',
        eventId: message.body.eventId,
        event: message.body.event,
      }),
    );
    message.ack();
    return;
  }
  try {
    await runAutomations(env, message.body, (deps.now ?? Date.now)());
    message.ack();
  } catch (e) {
    console.error(JSON.stringify({ level: 'error', message: 'automation run failed', eventId: message.body.eventId, error: String(e) }));
    message.retry({ delaySeconds: limit(env, 'WEBHOOK_RETRY_BASE_SECONDS') });
  }
}
