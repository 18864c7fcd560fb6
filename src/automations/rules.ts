/**
 * The rule vocabulary: which conditions and actions a rule may hold (a closed set, checked on
 * every write), how a condition matches a task, and how text placeholders render.
 */
import type { TaskJson } from '../tasks/task-json';
import { ApiError, type ErrorDetail } from '../platform/errors';

export const CONDITION_FIELDS = ['label', 'priority', 'project_id', 'assigned_to_agent_id', 'created_by_agent_id', 'source'] as const;
export const CONDITION_OPS = ['has', 'not_has', 'eq', 'neq', 'gte', 'lte', 'is_null', 'not_null'] as const;
export const ACTION_TYPES = [
  'assign',
  'set_priority',
  'add_label',
  'add_comment',
  'create_task',
  'delegate',
  'set_evidence_policy',
] as const;
/** Where a task came from, for `source` conditions. */
export const TASK_SOURCES = ['api', 'ingress'] as const;

export type ConditionField = (typeof CONDITION_FIELDS)[number];
export type ConditionOp = (typeof CONDITION_OPS)[number];
export type ActionType = (typeof ACTION_TYPES)[number];

export interface Condition {
  field: ConditionField;
  op: ConditionOp;
  value?: string | number;
}

export interface Action {
  type: ActionType;
  agent_id?: string;
  priority?: number;
  label?: string;
  policy?: 'required';
  content?: string;
  description?: string;
  project_id?: string;
  labels?: string[];
  assigned_to_agent_id?: string;
}

/** Which ops each field takes. */
const OPS_BY_FIELD: Record<ConditionField, readonly ConditionOp[]> = {
  label: ['has', 'not_has'],
  priority: ['eq', 'neq', 'gte', 'lte'],
  project_id: ['eq', 'neq', 'is_null', 'not_null'],
  assigned_to_agent_id: ['eq', 'neq', 'is_null', 'not_null'],
  created_by_agent_id: ['eq', 'neq', 'is_null', 'not_null'],
  source: ['eq', 'neq'],
};

/** Fields each action type needs. */
const REQUIRED: Record<ActionType, readonly (keyof Action)[]> = {
  assign: ['agent_id'],
  set_priority: ['priority'],
  add_label: ['label'],
  add_comment: ['content'],
  create_task: ['content'],
  delegate: ['agent_id'],
  set_evidence_policy: ['policy'],
};

const invalid = (details: ErrorDetail[]) =>
  new ApiError({
    status: 400,
    code: 'INVALID_AUTOMATION',
    message: `Invalid automation rule: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
    details,
  });

/** Checks each condition's field, op and value against the vocabulary; throws 400 with every problem. */
export function checkConditions(conditions: Condition[]): Condition[] {
  const details: ErrorDetail[] = [];
  const out = conditions.map((c, i) => {
    const at = `conditions.${i}`;
    const ops = OPS_BY_FIELD[c.field];
    if (!ops.includes(c.op)) details.push({ field: `${at}.op`, message: `${c.field} takes ${ops.join(', ')}` });
    const needsValue = c.op !== 'is_null' && c.op !== 'not_null';
    if (!needsValue) return { field: c.field, op: c.op };
    if (c.value === undefined || c.value === '') details.push({ field: `${at}.value`, message: `${c.op} needs a value` });
    if (c.field === 'priority' && c.value !== undefined) {
      const n = Number(c.value);
      if (!Number.isInteger(n) || n < 1 || n > 4) details.push({ field: `${at}.value`, message: 'Priority is an integer 1-4' });
      return { field: c.field, op: c.op, value: n };
    }
    if (c.field === 'source' && c.value !== undefined && !(TASK_SOURCES as readonly string[]).includes(String(c.value))) {
      details.push({ field: `${at}.value`, message: `Source is one of ${TASK_SOURCES.join(', ')}` });
    }
    return { field: c.field, op: c.op, value: c.value === undefined ? undefined : String(c.value) };
  });
  if (details.length) throw invalid(details);
  return out;
}

/** Checks each action has what its type needs, and keeps only the fields its type reads. */
export function checkActions(actions: Action[]): Action[] {
  const details: ErrorDetail[] = [];
  const out = actions.map((a, i) => {
    for (const field of REQUIRED[a.type]) {
      if (a[field] === undefined || a[field] === '') details.push({ field: `actions.${i}.${field}`, message: `${a.type} needs ${field}` });
    }
    return pick(a);
  });
  if (details.length) throw invalid(details);
  return out;
}

function pick(a: Action): Action {
  switch (a.type) {
    case 'assign':
      return { type: a.type, agent_id: a.agent_id };
    case 'set_priority':
      return { type: a.type, priority: a.priority };
    case 'add_label':
      return { type: a.type, label: a.label };
    case 'add_comment':
      return { type: a.type, content: a.content };
    case 'set_evidence_policy':
      return { type: a.type, policy: a.policy };
    case 'create_task':
    case 'delegate':
      return Object.fromEntries(
        Object.entries({
          type: a.type,
          agent_id: a.agent_id,
          content: a.content,
          description: a.description,
          priority: a.priority,
          project_id: a.project_id,
          labels: a.labels,
          assigned_to_agent_id: a.assigned_to_agent_id,
        }).filter(([, v]) => v !== undefined),
      ) as unknown as Action;
  }
}

/** The agents and projects a rule's actions name, to check they belong to the account. */
export function referencedIds(actions: Action[]): { agents: Map<string, string>; projects: Map<string, string> } {
  const agents = new Map<string, string>();
  const projects = new Map<string, string>();
  actions.forEach((a, i) => {
    if (a.agent_id) agents.set(a.agent_id, `actions.${i}.agent_id`);
    if (a.assigned_to_agent_id) agents.set(a.assigned_to_agent_id, `actions.${i}.assigned_to_agent_id`);
    if (a.project_id) projects.set(a.project_id, `actions.${i}.project_id`);
  });
  return { agents, projects };
}

/** The label every task from an ingress source carries, and tasks rules make from them. */
export const INGRESS_LABEL = 'ingress';

/** The ingress source a task came from (rules ignore such tasks unless they opt in). */
export const ingressSourceOf = (task: Pick<TaskJson, 'source_ingress_id'>): string | null => task.source_ingress_id;

export const sourceOf = (task: TaskJson): (typeof TASK_SOURCES)[number] => (ingressSourceOf(task) ? 'ingress' : 'api');

/** A rule opts into ingress tasks only with an explicit `source eq ingress` condition. */
export const optsIntoIngress = (conditions: Condition[]) =>
  conditions.some((c) => c.field === 'source' && c.op === 'eq' && c.value === 'ingress');

function fieldValue(task: TaskJson, field: Exclude<ConditionField, 'label'>): string | number | null {
  if (field === 'source') return sourceOf(task);
  return task[field];
}

/** Every condition holds for the task (AND); no conditions always match. */
export function matches(conditions: Condition[], task: TaskJson): boolean {
  return conditions.every((c) => {
    if (c.field === 'label') {
      const has = task.labels.includes(String(c.value));
      return c.op === 'has' ? has : !has;
    }
    const actual = fieldValue(task, c.field);
    switch (c.op) {
      case 'is_null':
        return actual === null;
      case 'not_null':
        return actual !== null;
      case 'eq':
        return actual !== null && String(actual) === String(c.value);
      case 'neq':
        return actual === null || String(actual) !== String(c.value);
      case 'gte':
        return typeof actual === 'number' && actual >= Number(c.value);
      case 'lte':
        return typeof actual === 'number' && actual <= Number(c.value);
      default:
        return false;
    }
  });
}

const PLACEHOLDER = /\{\{\s*([a-z_.]+)\s*\}\}/g;

/** `{{event}}` and `{{task.id|content|priority|project_id|labels|due_date}}`; unknown placeholders render empty. */
export function renderText(template: string, event: string, task: TaskJson): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    switch (name) {
      case 'event':
        return event;
      case 'task.id':
        return task.id;
      case 'task.content':
        return task.content;
      case 'task.priority':
        return String(task.priority);
      case 'task.project_id':
        return task.project_id ?? '';
      case 'task.labels':
        return task.labels.join(', ');
      case 'task.due_date':
        return task.due_date ?? '';
      default:
        return '';
    }
  });
}

export function parseList<T>(raw: string): T[] {
  try {
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) ? (value as T[]) : [];
  } catch {
    return [];
  }
}
