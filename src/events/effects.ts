/**
 * THE effects table: for each change (a use-case), which events it records, whether it wakes
 * the account's held claimers, and whether it starts a decision mail. Use-cases take their
 * events from here (`eventsOf`), so the table is what the code does; test/events/effects.test.ts
 * performs every row through the API and compares the recorded events with it. Automation rules
 * see every event the table lists (a rule names one event; it never reacts to a task it created,
 * and reacts to ingress tasks only with a `source eq ingress` condition).
 */
import type { TaskEvent } from '../webhooks/events';

/** When a conditional event or wake-up happens. */
export type Condition =
  /** the task has an assignee after the change */
  | 'assigned'
  /** the change set a different assignee (or none), labels or project: other claims may match it now */
  | 'claimability_changed'
  /** the change set a different assignee, and it is an agent */
  | 'newly_assigned'
  /** any field changed (an update that changes nothing records nothing) */
  | 'changed'
  /** the session state or its detail changed */
  | 'state_changed'
  /** a new claim began (extending one's own live claim is not one) */
  | 'new_claim'
  /** the account's claim queue holds long-poll claimers */
  | 'claimers_waiting'
  /** a delegated parent went back to open (its last open child is done or gone) */
  | 'parent_reopened'
  /** the task entered waiting_input */
  | 'entered_waiting_input';

export interface EventRule {
  event: TaskEvent;
  when?: Condition;
}

export interface Effect {
  /** Who causes it: the calling agent, or the system (no agent on the event). */
  by: 'caller' | 'system' | 'rule author';
  events: EventRule[];
  /** Held claimers are woken (always, or when the condition holds); null: never. */
  wakes: 'always' | Condition | null;
  /** A decision mail (answer link) to the account's human starts when the condition holds. */
  decisionMail?: Condition;
}

export const EFFECTS = {
  'tasks.create': {
    by: 'caller',
    events: [{ event: 'task.created' }, { event: 'task.assigned', when: 'assigned' }],
    wakes: 'claimers_waiting',
  },
  'tasks.update': {
    by: 'caller',
    events: [
      { event: 'task.updated', when: 'changed' },
      { event: 'task.assigned', when: 'newly_assigned' },
    ],
    wakes: 'claimability_changed',
  },
  'tasks.delete': { by: 'caller', events: [{ event: 'task.deleted' }], wakes: 'parent_reopened' },
  'tasks.complete': { by: 'caller', events: [{ event: 'task.completed' }], wakes: 'parent_reopened' },
  'tasks.uncomplete': { by: 'caller', events: [{ event: 'task.updated' }], wakes: 'always' },
  'tasks.delegate': {
    by: 'caller',
    events: [{ event: 'task.created' }, { event: 'task.delegated' }, { event: 'task.assigned', when: 'assigned' }],
    wakes: 'always',
  },
  'tasks.comments.write': { by: 'caller', events: [{ event: 'task.commented' }], wakes: null },
  'tasks.links.write': { by: 'caller', events: [{ event: 'task.linked' }], wakes: null },
  'queue.claim_next': { by: 'caller', events: [{ event: 'task.claimed' }], wakes: null },
  'queue.claim': { by: 'caller', events: [{ event: 'task.claimed', when: 'new_claim' }], wakes: null },
  'queue.heartbeat': {
    by: 'caller',
    events: [{ event: 'task.state_changed', when: 'state_changed' }],
    wakes: null,
    decisionMail: 'entered_waiting_input',
  },
  'queue.state': {
    by: 'caller',
    events: [{ event: 'task.state_changed', when: 'state_changed' }],
    wakes: null,
    decisionMail: 'entered_waiting_input',
  },
  'queue.release': { by: 'caller', events: [{ event: 'task.released' }], wakes: 'always' },
  'queue.lease_expired': { by: 'system', events: [{ event: 'task.released' }], wakes: 'always' },
  'queue.hold_abandoned': { by: 'system', events: [{ event: 'task.released' }], wakes: 'always' },
  'decisions.answer': { by: 'system', events: [{ event: 'task.commented' }], wakes: null },
  'ingress.deliver': {
    by: 'caller',
    events: [{ event: 'task.created' }, { event: 'task.assigned', when: 'assigned' }],
    wakes: 'claimers_waiting',
  },
  'recurrences.spawn': {
    by: 'system',
    events: [{ event: 'task.created' }, { event: 'task.assigned', when: 'assigned' }],
    wakes: 'claimers_waiting',
  },
  'automations.field_action': { by: 'rule author', events: [{ event: 'task.updated' }], wakes: 'claimability_changed' },
  'automations.add_comment': { by: 'rule author', events: [{ event: 'task.commented' }], wakes: null },
  'automations.create_task': { by: 'rule author', events: [{ event: 'task.created' }], wakes: 'claimers_waiting' },
  'automations.delegate': {
    by: 'rule author',
    events: [{ event: 'task.created' }, { event: 'task.delegated' }],
    wakes: 'claimers_waiting',
  },
} as const satisfies Record<string, Effect>;

export type Change = keyof typeof EFFECTS;
export type Facts = Partial<Record<Condition, boolean>>;

/** The events a change records, given what is true of it. */
export function eventsOf(change: Change, facts: Facts = {}): TaskEvent[] {
  return (EFFECTS[change] as Effect).events.filter((r) => r.when === undefined || facts[r.when] === true).map((r) => r.event);
}

/** Whether a change wakes held claimers, given what is true of it. */
export function wakes(change: Change, facts: Facts = {}): boolean {
  const rule = (EFFECTS[change] as Effect).wakes;
  return rule === 'always' || (rule !== null && facts[rule] === true);
}

/** Whether a change starts a decision mail. */
export function startsDecisionMail(change: Change, facts: Facts = {}): boolean {
  const rule = (EFFECTS[change] as Effect).decisionMail;
  return rule !== undefined && facts[rule] === true;
}
