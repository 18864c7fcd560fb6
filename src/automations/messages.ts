/** What the events queue carries for automation rules: one message per event some rule reacts to. */
import type { TaskJson } from '../tasks/task-json';

/** The cascade an automation-caused event belongs to. */
export interface EventCause {
  /** The event that started the cascade (an API write, an ingress delivery, a lease expiring). */
  originEventId: string;
  /** 1 for an event an action caused directly, +1 per further reaction. */
  hop: number;
}

export interface AutomationMessage {
  kind: 'automation';
  eventId: string;
  accountId: string;
  event: string;
  agentId: string | null;
  /** The task as the event saw it (conditions and placeholders read this snapshot). */
  task: TaskJson;
  originEventId: string;
  hop: number;
}

export interface AutomationEventInput {
  eventId: string;
  accountId: string;
  event: string;
  agentId: string | null;
  task: TaskJson;
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
  typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'automation' && typeof (body as { eventId?: unknown }).eventId === 'string';
