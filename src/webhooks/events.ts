/**
 * Task events for webhooks. Routes call `emitTaskEvent` after a D1 write succeeded; the work
 * (finding subscribed webhooks, recording deliveries, enqueueing) runs in `waitUntil`, off the
 * request path. (Delivery is filled in by the webhooks capability.)
 */
import type { Env } from '../env';
import type { TaskJson } from '../domain/task-json';

export const TASK_EVENTS = [
  'task.created',
  'task.updated',
  'task.completed',
  'task.deleted',
  'task.assigned',
  'task.delegated',
  'task.commented',
  'task.claimed',
  'task.released',
  'task.state_changed',
  'task.linked',
] as const;

export type TaskEvent = (typeof TASK_EVENTS)[number];

export interface TaskEventInput {
  event: TaskEvent;
  accountId: string;
  /** The agent that caused the event (null for the system, e.g. a lease expiring). */
  agentId: string | null;
  task: TaskJson;
}

export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

export function emitTaskEvent(env: Env, ctx: WaitUntil, input: TaskEventInput): void {
  ctx.waitUntil(enqueueTaskEvents(env, [input]));
}

export async function enqueueTaskEvents(_env: Env, _inputs: TaskEventInput[]): Promise<void> {
  // Filled in by the webhooks capability.
}
