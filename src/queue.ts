/** The events queue's consumer with its subscribers: webhook deliveries, and automation rules on events. */
import { runAutomations } from './automations/engine';
import type { AutomationMessage } from './automations/messages';
import type { Env } from './env';
import { handleWebhookBatch, type ConsumerDeps } from './webhooks/consumer';
import type { EventQueueMessage } from './webhooks/messages';

export function handleEventBatch(batch: MessageBatch<EventQueueMessage>, env: Env, deps: ConsumerDeps = {}): Promise<void> {
  return handleWebhookBatch(batch, env, { automations: (e, msg, now) => runAutomations(e, msg as AutomationMessage, now), ...deps });
}
