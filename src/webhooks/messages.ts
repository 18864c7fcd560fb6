/** What the WEBHOOKS queue carries: one message per (event, webhook) delivery. */
export interface WebhookMessage {
  deliveryId: string;
  webhookId: string;
  accountId: string;
}
