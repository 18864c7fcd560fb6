/**
 * The reads behind the recurrences, automations and ingress pages, each one D1 batch, built on
 * the domain's visibility rules and JSON shapes (so a page shows what the API would answer).
 */
import { and, asc, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { agents, automationRuns, automations, ingressDeliveries, ingressSources, projects, recurrences } from '../db/schema';
import type { Principal } from '../access/policy';
import { notFound } from '../platform/errors';
import { agentJson, type AgentJson } from '../accounts/agents';
import { projectJson, type ProjectJson } from '../accounts/projects';
import { recurrenceJson, visibleRecurrences, type RecurrenceJson } from '../recurrences/recurrences';
import { automationJson, runJson, type AutomationJson, type AutomationRunJson } from '../automations/store';
import { deliveryJson, sourceJson, type IngressDeliveryJson, type IngressSourceJson } from '../ingress/sources';
import { writtenLimit } from '../db/written-limit';

/** The agents and projects a form's selects offer. */
export interface Choices {
  agents: AgentJson[];
  projects: ProjectJson[];
}

const RECURRENCES_SHOWN = 200;
const LOG_SHOWN = 50;

const choiceQueries = (db: Db, p: Principal) =>
  [
    db.select().from(agents).where(eq(agents.accountId, p.accountId)).orderBy(asc(agents.createdAt), asc(agents.id)),
    db.select().from(projects).where(eq(projects.accountId, p.accountId)).orderBy(asc(projects.sortOrder), asc(projects.id)),
  ] as const;

const choices = (agentRows: (typeof agents.$inferSelect)[], projectRows: (typeof projects.$inferSelect)[]): Choices => ({
  agents: agentRows.map((r) => agentJson(r, null)),
  projects: projectRows.map(projectJson),
});

export async function recurrencesPageData(db: Db, p: Principal): Promise<Choices & { recurrences: RecurrenceJson[] }> {
  const [rows, agentRows, projectRows] = await db.batch([
    db
      .select()
      .from(recurrences)
      .where(visibleRecurrences(p))
      .orderBy(desc(recurrences.createdAt), desc(recurrences.id))
      .limit(writtenLimit(RECURRENCES_SHOWN)),
    ...choiceQueries(db, p),
  ]);
  return { recurrences: rows.map(recurrenceJson), ...choices(agentRows, projectRows) };
}

/** One recurrence the principal may see, for its edit page; otherwise the API's 404. */
export async function recurrencePageData(db: Db, p: Principal, id: string): Promise<Choices & { recurrence: RecurrenceJson }> {
  const [rows, agentRows, projectRows] = await db.batch([
    db
      .select()
      .from(recurrences)
      .where(and(visibleRecurrences(p), eq(recurrences.id, id))),
    ...choiceQueries(db, p),
  ]);
  if (!rows[0]) throw notFound('recurrence');
  return { recurrence: recurrenceJson(rows[0]), ...choices(agentRows, projectRows) };
}

export async function automationsPageData(db: Db, p: Principal): Promise<Choices & { automations: AutomationJson[] }> {
  const [rows, agentRows, projectRows] = await db.batch([
    db.select().from(automations).where(eq(automations.accountId, p.accountId)).orderBy(asc(automations.createdAt), asc(automations.id)),
    ...choiceQueries(db, p),
  ]);
  return { automations: rows.map(automationJson), ...choices(agentRows, projectRows) };
}

/** A rule of the account with its latest runs. */
export async function automationPageData(
  db: Db,
  p: Principal,
  id: string,
): Promise<Choices & { automation: AutomationJson; runs: AutomationRunJson[] }> {
  const [rule, runs, agentRows, projectRows] = await db.batch([
    db
      .select()
      .from(automations)
      .where(and(eq(automations.id, id), eq(automations.accountId, p.accountId))),
    db
      .select()
      .from(automationRuns)
      .where(and(eq(automationRuns.ruleId, id), eq(automationRuns.accountId, p.accountId)))
      .orderBy(desc(automationRuns.createdAt), desc(automationRuns.id))
      .limit(writtenLimit(LOG_SHOWN)),
    ...choiceQueries(db, p),
  ]);
  if (!rule[0]) throw notFound('automation');
  return { automation: automationJson(rule[0]), runs: runs.map(runJson), ...choices(agentRows, projectRows) };
}

export async function ingressPageData(db: Db, p: Principal): Promise<Choices & { sources: IngressSourceJson[] }> {
  const [rows, agentRows, projectRows] = await db.batch([
    db
      .select()
      .from(ingressSources)
      .where(eq(ingressSources.accountId, p.accountId))
      .orderBy(asc(ingressSources.createdAt), asc(ingressSources.id)),
    ...choiceQueries(db, p),
  ]);
  return { sources: rows.map((r) => sourceJson(r)), ...choices(agentRows, projectRows) };
}

/** A source of the account (never its secret) with its latest deliveries. */
export async function ingressSourcePageData(
  db: Db,
  p: Principal,
  id: string,
): Promise<Choices & { source: IngressSourceJson; deliveries: IngressDeliveryJson[] }> {
  const [source, deliveries, agentRows, projectRows] = await db.batch([
    db
      .select()
      .from(ingressSources)
      .where(and(eq(ingressSources.id, id), eq(ingressSources.accountId, p.accountId))),
    db
      .select()
      .from(ingressDeliveries)
      .where(and(eq(ingressDeliveries.sourceId, id), eq(ingressDeliveries.accountId, p.accountId)))
      .orderBy(desc(ingressDeliveries.createdAt), desc(ingressDeliveries.id))
      .limit(writtenLimit(LOG_SHOWN)),
    ...choiceQueries(db, p),
  ]);
  if (!source[0]) throw notFound('ingress source', 'INGRESS_SOURCE_NOT_FOUND');
  return { source: sourceJson(source[0]), deliveries: deliveries.map(deliveryJson), ...choices(agentRows, projectRows) };
}
