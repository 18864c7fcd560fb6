/** What the WEBHOOKS queue carries: webhook deliveries and events for automation rules. */

export type EventQueueMessage = WebhookMessage | AutomationMessage;

/** One message per (event, webhook) delivery. */
export interface WebhookMessage {
  deliveryId: string;
  webhookId: string;
  accountId: string;
}

/** The task as an event saw it: its JSON answer (webhooks and rules read it, never its row). */
export type EventTask = { id: string } & object;

/** The cascade an automation-caused event belongs to. */
export interface EventCause {
  /** The event that started the cascade (an API write, an ingress delivery, a lease expiring). */
  originEventId: string;
  /** 1 for an event an action caused directly, +1 per further reaction. */
  hop: number;
}

/** One message per event some rule reacts to; `eventId` is its outbox row, so a resent one applies nothing twice. */
export interface AutomationMessage {
  kind: 'automation';
  eventId: string;
  accountId: string;
  event: string;
  agentId: string | null;
  /** The task as the event saw it (conditions and placeholders read this snapshot). */
  task: EventTask;
  originEventId: string;
  hop: number;
}

export interface AutomationEventInput {
  eventId: string;
  accountId: string;
  event: string;
  agentId: string | null;
  task: EventTask;
  cause?: EventCause;
}

export function automationMessage(input: AutomationEventInput): MessageSendRequest<AutomationMessage> {
  const { cause, ...rest } = input;
  return {
    body: { kind: 'automation', ...rest, originEventId: cause?.originEventId ?? input.eventId, hop: cause?.hop ?? 0 },
    contentType: 'json',
  };
}

export const isAutomationMessage = (body: unknown): body is AutomationMessage =>
  typeof body === 'object' &&
  body !== null &&
  (body as { kind?: unknown }).kind === 'automation' &&
  typeof (body as { eventId?: unknown }).eventId === 'string';
