/**
 * Recurring task templates: create, list, update (pause/resume), delete. Visibility and
 * ownership follow the task rules (task-access.ts) without claims: a worker sees and changes the
 * recurrences it created or is assigned; coordinators and admins see every one, admins change any.
 */
import { and, desc, eq, getTableColumns, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client';
import { agents, projects, recurrences } from '../db/schema';
import { ApiError, notFound } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { normaliseLabels } from '../tasks/tasks';
import { sqlBatch } from '../db/sql-batch';
import { firstOccurrence, localDateTime, localTimeOfDay, nextOccurrence, zonedToUtc, type Rule, type RuleType } from './schedule';
import { writtenLimit } from '../db/written-limit';

export type RecurrenceRow = typeof recurrences.$inferSelect;

export interface RecurrenceInput {
  content?: string;
  description?: string | null;
  project_id?: string | null;
  labels?: string[];
  priority?: number;
  assigned_to_agent_id?: string | null;
  rule_type?: RuleType;
  interval?: number;
  timezone?: string;
  anchor_day?: number | null;
  anchor_month?: number | null;
  anchor_weekday?: number | null;
  /** `YYYY-MM-DD` (local midnight) or a UTC timestamp, already normalised. */
  next_due_at?: string | null;
  active?: boolean;
  skip_if_open?: boolean;
}

export interface RecurrenceJson {
  id: string;
  content: string;
  description: string | null;
  project_id: string | null;
  labels: string[];
  priority: number;
  assigned_to_agent_id: string | null;
  created_by_agent_id: string;
  rule_type: RuleType;
  interval: number;
  timezone: string;
  anchor_day: number | null;
  anchor_month: number | null;
  anchor_weekday: number | null;
  next_due_at: string;
  active: boolean;
  skip_if_open: boolean;
  last_spawned_at: string | null;
  created_at: string;
  updated_at: string;
}

export function recurrenceJson(r: RecurrenceRow): RecurrenceJson {
  let labels: string[] = [];
  try {
    labels = JSON.parse(r.labels) as string[];
  } catch {
    labels = [];
  }
  return {
    id: r.id,
    content: r.content,
    description: r.description,
    project_id: r.projectId,
    labels,
    priority: r.priority,
    assigned_to_agent_id: r.assignedToAgentId,
    created_by_agent_id: r.createdByAgentId,
    rule_type: r.ruleType,
    interval: r.interval,
    timezone: r.timezone,
    anchor_day: r.anchorDay,
    anchor_month: r.anchorMonth,
    anchor_weekday: r.anchorWeekday,
    next_due_at: r.nextDueAt,
    active: r.active,
    skip_if_open: r.skipIfOpen,
    last_spawned_at: r.lastSpawnedAt,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

export const recurrenceNotFound = () => notFound('recurrence');

export function ruleOf(
  r: Pick<RecurrenceRow, 'ruleType' | 'interval' | 'timezone' | 'anchorDay' | 'anchorMonth' | 'anchorWeekday' | 'timeOfDay'>,
): Rule {
  return {
    ruleType: r.ruleType,
    interval: r.interval,
    timezone: r.timezone,
    anchorDay: r.anchorDay,
    anchorMonth: r.anchorMonth,
    anchorWeekday: r.anchorWeekday,
    timeOfDay: r.timeOfDay,
  };
}

/** The recurrences `p` may see, as a condition on the table. */
export function visibleRecurrences(p: Principal): SQL {
  const inAccount = eq(recurrences.accountId, p.accountId);
  if (p.mode === 'restricted')
    return and(inAccount, eq(recurrences.createdByAgentId, p.agentId), eq(recurrences.projectId, p.sandboxProjectId ?? '∅'))!;
  if (p.role === 'worker')
    return and(inAccount, or(eq(recurrences.createdByAgentId, p.agentId), eq(recurrences.assignedToAgentId, p.agentId)))!;
  return inAccount;
}

function canSee(p: Principal, r: RecurrenceRow): boolean {
  if (r.accountId !== p.accountId) return false;
  if (p.mode === 'restricted') return r.createdByAgentId === p.agentId && r.projectId === p.sandboxProjectId;
  if (p.role === 'worker') return r.createdByAgentId === p.agentId || r.assignedToAgentId === p.agentId;
  return true;
}

function assertCanWrite(p: Principal, r: RecurrenceRow | undefined): asserts r is RecurrenceRow {
  if (!r || !canSee(p, r)) throw recurrenceNotFound();
  if (p.role === 'admin' && p.mode !== 'restricted') return;
  if (r.createdByAgentId !== p.agentId && r.assignedToAgentId !== p.agentId) {
    throw new ApiError({
      status: 403,
      code: 'RECURRENCE_NOT_OWNED',
      message: 'Only the recurrence’s creator, its assignee or an admin can change it',
    });
  }
}

/** Fills the anchors a rule type uses from its first occurrence, so later ones keep to them (the 31st stays the 31st). */
function withAnchors(rule: Rule, due: number): Rule {
  const local = localDateTime(due, rule.timezone);
  const weekday = new Date(Date.UTC(local.year, local.month - 1, local.day)).getUTCDay();
  return {
    ...rule,
    anchorWeekday: rule.ruleType === 'weekly' ? (rule.anchorWeekday ?? weekday) : rule.anchorWeekday,
    anchorDay: rule.ruleType === 'monthly' || rule.ruleType === 'yearly' ? (rule.anchorDay ?? local.day) : rule.anchorDay,
    anchorMonth: rule.ruleType === 'yearly' ? (rule.anchorMonth ?? local.month) : rule.anchorMonth,
  };
}

/** The instant a given `next_due_at` names: a bare date is local midnight in the recurrence's zone. */
function dueInstant(nextDueAt: string, timezone: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(nextDueAt)) {
    const [year, month, day] = nextDueAt.split('-').map(Number) as [number, number, number];
    return zonedToUtc({ year, month, day, hour: 0, minute: 0, second: 0 }, timezone);
  }
  return Date.parse(nextDueAt);
}

/**
 * The schedule after a create or an update: an explicit `next_due_at` is the next occurrence and
 * sets the time of day; otherwise the first occurrence of the rule after `now`.
 */
function schedule(rule: Rule, nextDueAt: string | null | undefined, now: number): { rule: Rule; due: number } {
  if (nextDueAt) {
    const due = dueInstant(nextDueAt, rule.timezone);
    return { rule: withAnchors({ ...rule, timeOfDay: localTimeOfDay(due, rule.timezone) }, due), due };
  }
  const due = firstOccurrence(rule, now);
  return { rule: withAnchors(rule, due), due };
}

const ruleColumns = (rule: Rule) => ({
  ruleType: rule.ruleType,
  interval: rule.interval,
  timezone: rule.timezone,
  anchorDay: rule.anchorDay,
  anchorMonth: rule.anchorMonth,
  anchorWeekday: rule.anchorWeekday,
  timeOfDay: rule.timeOfDay,
});

/** Restricted keys stay in their sandbox and assign only themselves; references must exist in the account. */
async function checkReferences(db: Db, p: Principal, input: RecurrenceInput): Promise<void> {
  if (p.mode === 'restricted') {
    if (input.project_id && input.project_id !== p.sandboxProjectId) throw notFound('project');
    if (input.assigned_to_agent_id && input.assigned_to_agent_id !== p.agentId) {
      throw new ApiError({
        status: 403,
        code: 'ASSIGNMENT_NOT_ALLOWED',
        message: 'A restricted key can only assign recurrences to itself until a human claims the account',
      });
    }
  }
  const [project, agent] = await Promise.all([
    input.project_id
      ? db
          .select({ id: projects.id })
          .from(projects)
          .where(and(eq(projects.id, input.project_id), eq(projects.accountId, p.accountId)))
          .get()
      : null,
    input.assigned_to_agent_id
      ? db
          .select({ active: agents.active })
          .from(agents)
          .where(and(eq(agents.id, input.assigned_to_agent_id), eq(agents.accountId, p.accountId)))
          .get()
      : null,
  ]);
  if (input.project_id && !project) throw notFound('project');
  if (input.assigned_to_agent_id) {
    if (!agent) throw notFound('agent');
    if (!agent.active)
      throw new ApiError({ status: 409, code: 'AGENT_INACTIVE', message: 'That agent is deactivated and cannot be assigned recurrences' });
  }
}

export async function listRecurrences(db: Db, p: Principal, page: { limit: number; offset: number }): Promise<RecurrenceRow[]> {
  return db
    .select()
    .from(recurrences)
    .where(visibleRecurrences(p))
    .orderBy(desc(recurrences.createdAt), desc(recurrences.id))
    .limit(writtenLimit(page.limit))
    .offset(page.offset);
}

export type NewRecurrenceInput = RecurrenceInput & { content: string; rule_type: RuleType };

export interface CreateRecurrenceOptions {
  input: NewRecurrenceInput;
  /** The plan's limit of recurrences per account. */
  maxPerAccount: number;
  now: number;
}

export async function createRecurrence(db: Db, p: Principal, opts: CreateRecurrenceOptions): Promise<RecurrenceRow> {
  const { input, now } = opts;
  await checkReferences(db, p, input);
  const base: Rule = {
    ruleType: input.rule_type,
    interval: input.interval ?? 1,
    timezone: input.timezone ?? 'UTC',
    anchorDay: input.anchor_day ?? null,
    anchorMonth: input.anchor_month ?? null,
    anchorWeekday: input.anchor_weekday ?? null,
    timeOfDay: '00:00:00',
  };
  const { rule, due } = schedule(base, input.next_due_at, now);
  const ts = isoSeconds(now);
  const row: RecurrenceRow = {
    id: newId('rec', now),
    accountId: p.accountId,
    content: input.content,
    description: input.description ?? null,
    projectId: input.project_id ?? (p.mode === 'restricted' ? p.sandboxProjectId : null),
    labels: JSON.stringify(normaliseLabels(input.labels ?? [])),
    priority: input.priority ?? 1,
    assignedToAgentId: input.assigned_to_agent_id ?? null,
    createdByAgentId: p.agentId,
    ...ruleColumns(rule),
    nextDueAt: isoSeconds(due),
    active: input.active ?? true,
    skipIfOpen: input.skip_if_open ?? false,
    lastTaskId: null,
    lastSpawnedAt: null,
    createdAt: ts,
    updatedAt: ts,
  };
  // The cap is a condition of the insert, so concurrent creates cannot pass it together.
  const columns = Object.entries(getTableColumns(recurrences));
  const names = sql.join(
    columns.map(([, c]) => sql.identifier(c.name)),
    sql`, `,
  );
  const values = sql.join(
    columns.map(([key, c]) => {
      const v = (row as unknown as Record<string, unknown>)[key];
      return sql`${v === null || v === undefined ? null : c.mapToDriverValue(v)}`;
    }),
    sql`, `,
  );
  const [inserted] = await sqlBatch(db, [
    sql`insert into ${recurrences} (${names}) select ${values}
      where (select count(*) from ${recurrences} where account_id = ${p.accountId}) < ${opts.maxPerAccount} returning id`,
  ]);
  if (!inserted![0]) {
    throw new ApiError({
      status: 409,
      code: 'RECURRENCE_LIMIT_REACHED',
      message: `This account has ${opts.maxPerAccount} recurrences, the most allowed; delete one first`,
    });
  }
  return row;
}

const RULE_FIELDS = ['rule_type', 'interval', 'timezone', 'anchor_day', 'anchor_month', 'anchor_weekday'] as const;

export interface UpdateRecurrenceOptions {
  recurrenceId: string;
  input: RecurrenceInput;
  now: number;
}

export async function updateRecurrence(
  db: Db,
  p: Principal,
  { recurrenceId, input, now }: UpdateRecurrenceOptions,
): Promise<RecurrenceRow> {
  const [before] = await Promise.all([
    db
      .select()
      .from(recurrences)
      .where(and(eq(recurrences.id, recurrenceId), eq(recurrences.accountId, p.accountId)))
      .get(),
    checkReferences(db, p, input),
  ]);
  assertCanWrite(p, before);
  const changes: Partial<RecurrenceRow> = {};
  if (input.content !== undefined) changes.content = input.content;
  if (input.description !== undefined) changes.description = input.description;
  if (input.project_id !== undefined) {
    if (p.mode === 'restricted' && input.project_id === null) throw notFound('project');
    changes.projectId = input.project_id;
  }
  if (input.labels !== undefined) changes.labels = JSON.stringify(normaliseLabels(input.labels));
  if (input.priority !== undefined) changes.priority = input.priority;
  if (input.assigned_to_agent_id !== undefined) changes.assignedToAgentId = input.assigned_to_agent_id;
  if (input.skip_if_open !== undefined) changes.skipIfOpen = input.skip_if_open;
  if (input.active !== undefined) changes.active = input.active;

  const ruleChanged = RULE_FIELDS.some((f) => input[f] !== undefined);
  const resumed = input.active === true && !before.active;
  if (ruleChanged || resumed || input.next_due_at) {
    const ruleType = input.rule_type ?? before.ruleType;
    const keep = <T>(given: T | undefined, old: T) => (given !== undefined ? given : ruleType === before.ruleType ? old : null);
    const base: Rule = {
      ruleType,
      interval: input.interval ?? before.interval,
      timezone: input.timezone ?? before.timezone,
      anchorDay: keep(input.anchor_day, before.anchorDay),
      anchorMonth: keep(input.anchor_month, before.anchorMonth),
      anchorWeekday: keep(input.anchor_weekday, before.anchorWeekday),
      timeOfDay: before.timeOfDay,
    };
    // A resumed schedule starts from now: the occurrences it slept through are not owed.
    const { rule, due } = schedule(base, input.next_due_at, now);
    Object.assign(changes, ruleColumns(rule), { nextDueAt: isoSeconds(due) });
  }
  if (Object.keys(changes).length === 0) return before;
  changes.updatedAt = isoSeconds(now);
  const after = await db
    .update(recurrences)
    .set(changes)
    .where(and(eq(recurrences.id, recurrenceId), eq(recurrences.accountId, p.accountId)))
    .returning()
    .get();
  if (!after) throw recurrenceNotFound();
  return after;
}

export async function deleteRecurrence(db: Db, p: Principal, id: string): Promise<void> {
  const row = await db
    .select()
    .from(recurrences)
    .where(and(eq(recurrences.id, id), eq(recurrences.accountId, p.accountId)))
    .get();
  assertCanWrite(p, row);
  await db.delete(recurrences).where(and(eq(recurrences.id, id), eq(recurrences.accountId, p.accountId)));
}

/** The recurrence's next occurrence after a spawn (exported for the scheduler). */
export const followingOccurrence = (r: RecurrenceRow, now: number) => nextOccurrence(ruleOf(r), Date.parse(r.nextDueAt), now);
