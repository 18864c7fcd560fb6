import type { AutomationMessage } from '../automations/messages';

/** What the WEBHOOKS queue carries: webhook deliveries and events for automation rules. */
export type EventQueueMessage = WebhookMessage | AutomationMessage;

/** One message per (event, webhook) delivery. */
export interface WebhookMessage {
  deliveryId: string;
  webhookId: string;
  accountId: string;
}
