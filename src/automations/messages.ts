/** What the events queue carries for automation rules: one message per event some rule reacts to. */
import type { TaskJson } from '../tasks/task-json';
import {
  automationMessage as queuedEventMessage,
  type AutomationEventInput,
  type AutomationMessage as QueuedEventMessage,
} from '../webhooks/messages';

export { isAutomationMessage, type EventCause } from '../webhooks/messages';

/** An event message as rules read it: its task is the task's JSON answer. */
export type AutomationMessage = Omit<QueuedEventMessage, 'task'> & { task: TaskJson };

export const automationMessage = (input: AutomationEventInput & { task: TaskJson }) =>
  queuedEventMessage(input) as MessageSendRequest<AutomationMessage>;
