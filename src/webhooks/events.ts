/** The task events webhooks subscribe to and rules react to (which write emits which: src/events/effects.ts). */

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

/** Parses a webhook's stored event list; a damaged value subscribes to nothing. */
export function parseEvents(raw: string): string[] {
  try {
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
