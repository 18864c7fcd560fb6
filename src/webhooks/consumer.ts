/** Queue consumer for webhook deliveries. (Filled in by the webhooks capability.) */
import type { Env } from '../env';
import type { WebhookMessage } from './messages';

export async function handleWebhookBatch(batch: MessageBatch<WebhookMessage>, _env: Env): Promise<void> {
  for (const message of batch.messages) message.ack();
}
