/**
 * Automation rules of an account: CRUD (conditions and actions replace, `active: true`
 * re-enables a rule the engine deactivated) and the run log. Admin-only (access/policy.ts).
 */
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { agents, automationRuns, automations, projects } from '../db/schema';
import type { Principal } from '../access/policy';
import type { PrincipalCache } from '../access/authentication';
import { ApiError, notFound, type ErrorDetail } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { checkEvents } from '../webhooks/webhooks';
import { sqlBatch } from '../db/sql-batch';
import { insertUnderLimit } from '../db/plan-limits';
import type { ActionLog } from './engine';
import { checkActions, checkConditions, parseList, referencedIds, type Action, type Condition } from './rules';
import { writtenLimit } from '../db/written-limit';

export type AutomationRow = typeof automations.$inferSelect;
export type AutomationRunRow = typeof automationRuns.$inferSelect;

export interface AutomationJson {
  id: string;
  name: string;
  event: string;
  conditions: Condition[];
  actions: Action[];
  active: boolean;
  run_count: number;
  failure_count: number;
  last_run_at: string | null;
  disabled_reason: string | null;
  created_by_agent_id: string;
  created_at: string;
  updated_at: string;
}

export const automationJson = (r: AutomationRow): AutomationJson => ({
  id: r.id,
  name: r.name,
  event: r.event,
  conditions: parseList<Condition>(r.conditions),
  actions: parseList<Action>(r.actions),
  active: r.active,
  run_count: r.runCount,
  failure_count: r.failureCount,
  last_run_at: r.lastRunAt,
  disabled_reason: r.disabledReason,
  created_by_agent_id: r.createdByAgentId,
  created_at: r.createdAt,
  updated_at: r.updatedAt,
});

export interface AutomationRunJson {
  id: string;
  automation_id: string;
  event: string;
  event_id: string;
  task_id: string | null;
  hop: number;
  status: 'succeeded' | 'failed' | 'skipped';
  actions: ActionLog[];
  created_at: string;
}

export const runJson = (r: AutomationRunRow): AutomationRunJson => ({
  id: r.id,
  automation_id: r.ruleId,
  event: r.event,
  event_id: r.eventId,
  task_id: r.taskId,
  hop: r.hop,
  status: r.status,
  actions: parseList<ActionLog>(r.actions),
  created_at: r.createdAt,
});

export interface AutomationInput {
  name?: string;
  event?: string;
  conditions?: Condition[];
  actions?: Action[];
  active?: boolean;
}

const automationNotFound = () => notFound('automation');

async function ownRule(db: Db, p: Principal, id: string): Promise<AutomationRow> {
  const row = await db
    .select()
    .from(automations)
    .where(and(eq(automations.id, id), eq(automations.accountId, p.accountId)))
    .get();
  if (!row) throw automationNotFound();
  return row;
}

/** The agents and projects the actions name must be the account's (active agents only). */
async function checkReferences(db: Db, p: Principal, actions: Action[]): Promise<void> {
  const { agents: agentRefs, projects: projectRefs } = referencedIds(actions);
  if (agentRefs.size === 0 && projectRefs.size === 0) return;
  const [foundAgents, foundProjects] = await db.batch([
    db
      .select({ id: agents.id })
      .from(agents)
      .where(and(eq(agents.accountId, p.accountId), eq(agents.active, true), inArray(agents.id, [...agentRefs.keys(), '']))),
    db
      .select({ id: projects.id })
      .from(projects)
      .where(and(eq(projects.accountId, p.accountId), inArray(projects.id, [...projectRefs.keys(), '']))),
  ]);
  const details: ErrorDetail[] = [];
  const agentIds = new Set(foundAgents.map((a) => a.id));
  const projectIds = new Set(foundProjects.map((a) => a.id));
  for (const [id, field] of agentRefs) if (!agentIds.has(id)) details.push({ field, message: `No active agent ${id} in this account` });
  for (const [id, field] of projectRefs) if (!projectIds.has(id)) details.push({ field, message: `No project ${id} in this account` });
  if (details.length)
    throw new ApiError({
      status: 400,
      code: 'INVALID_AUTOMATION',
      message: `Invalid automation rule: ${details.map((d) => d.message).join('; ')}`,
      details,
    });
}

export async function listAutomations(db: Db, p: Principal): Promise<AutomationJson[]> {
  const rows = await db
    .select()
    .from(automations)
    .where(eq(automations.accountId, p.accountId))
    .orderBy(asc(automations.createdAt), asc(automations.id));
  return rows.map(automationJson);
}

export async function getAutomation(db: Db, p: Principal, id: string): Promise<AutomationJson> {
  return automationJson(await ownRule(db, p, id));
}

export interface CreateAutomationOptions {
  cache: PrincipalCache;
  input: Required<Pick<AutomationInput, 'name' | 'event' | 'actions'>> & AutomationInput;
  /** The plan's limit. */
  maxRules: number;
  now: number;
}

export async function createAutomation(
  db: Db,
  p: Principal,
  { cache, input, maxRules, now }: CreateAutomationOptions,
): Promise<AutomationJson> {
  const [event] = checkEvents([input.event]);
  const conditions = checkConditions(input.conditions ?? []);
  const actions = checkActions(input.actions);
  await checkReferences(db, p, actions);
  const ts = isoSeconds(now);
  const row: AutomationRow = {
    id: newId('aut', now),
    accountId: p.accountId,
    name: input.name,
    event: event!,
    conditions: JSON.stringify(conditions),
    actions: JSON.stringify(actions),
    active: input.active ?? true,
    createdByAgentId: p.agentId,
    runCount: 0,
    failureCount: 0,
    lastRunAt: null,
    disabledReason: null,
    createdAt: ts,
    updatedAt: ts,
  };
  // One transaction: whether another rule was active, then the insert under the limit.
  const [before, inserted] = await sqlBatch(db, [
    sql`select exists (select 1 from ${automations} where ${automations.accountId} = ${p.accountId} and ${automations.active} = 1) as active`,
    insertUnderLimit(automations, { row, accountId: p.accountId, max: maxRules }),
  ]);
  if (!inserted![0])
    throw new ApiError({
      status: 403,
      code: 'AUTOMATION_LIMIT_REACHED',
      message: `This account already has ${maxRules} automation rules, the most allowed`,
    });
  // Keys of an account without rules or webhooks emit no events (Principal.hasAutomations).
  if (row.active && !before![0]?.active) await cache.forgetAccount(p.accountId);
  return automationJson(row);
}

export interface UpdateAutomationOptions {
  cache: PrincipalCache;
  automationId: string;
  input: AutomationInput;
  now: number;
}

export async function updateAutomation(
  db: Db,
  p: Principal,
  { cache, automationId, input, now }: UpdateAutomationOptions,
): Promise<AutomationJson> {
  const row = await ownRule(db, p, automationId);
  const changes: Partial<AutomationRow> = { updatedAt: isoSeconds(now) };
  if (input.name !== undefined) changes.name = input.name;
  if (input.event !== undefined) changes.event = checkEvents([input.event])[0]!;
  if (input.conditions !== undefined) changes.conditions = JSON.stringify(checkConditions(input.conditions));
  if (input.actions !== undefined) {
    const actions = checkActions(input.actions);
    await checkReferences(db, p, actions);
    changes.actions = JSON.stringify(actions);
  }
  if (input.active !== undefined) {
    changes.active = input.active;
    // Switching a rule (back) on starts a fresh failure streak.
    if (input.active) Object.assign(changes, { failureCount: 0, disabledReason: null });
  }
  const updated = await db
    .update(automations)
    .set(changes)
    .where(and(eq(automations.id, automationId), eq(automations.accountId, p.accountId)))
    .returning()
    .get();
  if (input.active && !row.active) await cache.forgetAccount(p.accountId);
  return automationJson(updated ?? { ...row, ...changes });
}

/** Deletes the rule with its run log; tasks it created stay. */
export async function deleteAutomation(db: Db, p: Principal, id: string): Promise<void> {
  await ownRule(db, p, id);
  await db.batch([
    db.delete(automationRuns).where(eq(automationRuns.ruleId, id)),
    db.delete(automations).where(and(eq(automations.id, id), eq(automations.accountId, p.accountId))),
  ]);
}

export interface ListRunsOptions {
  automationId: string;
  page: { limit: number; offset: number };
}

export async function listRuns(db: Db, p: Principal, { automationId, page }: ListRunsOptions): Promise<AutomationRunJson[]> {
  await ownRule(db, p, automationId);
  const rows = await db
    .select()
    .from(automationRuns)
    .where(eq(automationRuns.ruleId, automationId))
    .orderBy(desc(automationRuns.createdAt), desc(automationRuns.id))
    .limit(writtenLimit(page.limit))
    .offset(page.offset);
  return rows.map(runJson);
}
