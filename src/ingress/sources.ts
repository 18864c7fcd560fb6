/**
 * Ingress sources of an account: CRUD with a write-only signing secret (shown on creation and
 * on `rotate_secret: true`), pinned project and assignee, and the delivery log. Admin-only.
 */
import { and, asc, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { agents, ingressDedupeKeys, ingressDeliveries, ingressSources, projects } from '../db/schema';
import type { Principal } from '../access/policy';
import { ApiError, notFound, type ErrorDetail } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { parseList } from '../automations/rules';
import { sqlBatch } from '../db/sql-batch';
import { insertUnderLimit } from '../db/plan-limits';
import { generateIngressSecret } from './signature';
import type { IngressFilter, IngressTemplate } from './template';
import { writtenLimit } from '../db/written-limit';

export type IngressSourceRow = typeof ingressSources.$inferSelect;
export type IngressDeliveryRow = typeof ingressDeliveries.$inferSelect;

export interface IngressSourceJson {
  id: string;
  name: string;
  ingest_path: string;
  scheme: 'hmac-sha256';
  template: IngressTemplate;
  filters: IngressFilter[];
  default_project_id: string | null;
  default_assignee_agent_id: string | null;
  active: boolean;
  delivery_count: number;
  last_delivery_at: string | null;
  created_by_agent_id: string;
  created_at: string;
  updated_at: string;
  /** Only in the answers that created the source or rotated its secret. */
  secret?: string;
}

export const ingestPath = (id: string) => `/v1/ingress/${id}`;

function parseTemplate(raw: string): IngressTemplate {
  try {
    return JSON.parse(raw) as IngressTemplate;
  } catch {
    return { content: '' };
  }
}

export const sourceJson = (r: IngressSourceRow, secret?: string): IngressSourceJson => ({
  id: r.id,
  name: r.name,
  ingest_path: ingestPath(r.id),
  scheme: 'hmac-sha256',
  template: parseTemplate(r.template),
  filters: parseList<IngressFilter>(r.filters),
  default_project_id: r.defaultProjectId,
  default_assignee_agent_id: r.defaultAssigneeAgentId,
  active: r.active,
  delivery_count: r.deliveryCount,
  last_delivery_at: r.lastDeliveryAt,
  created_by_agent_id: r.createdByAgentId,
  created_at: r.createdAt,
  updated_at: r.updatedAt,
  ...(secret ? { secret } : {}),
});

export interface IngressDeliveryJson {
  id: string;
  source_id: string;
  outcome: string;
  status_code: number;
  body_sha256: string;
  body_bytes: number;
  task_id: string | null;
  created_at: string;
}

export const deliveryJson = (r: IngressDeliveryRow): IngressDeliveryJson => ({
  id: r.id,
  source_id: r.sourceId,
  outcome: r.outcome,
  status_code: r.statusCode,
  body_sha256: r.bodySha256,
  body_bytes: r.bodyBytes,
  task_id: r.taskId,
  created_at: r.createdAt,
});

export interface IngressSourceInput {
  name?: string;
  template?: IngressTemplate;
  filters?: IngressFilter[];
  default_project_id?: string | null;
  default_assignee_agent_id?: string | null;
  active?: boolean;
  rotate_secret?: boolean;
}

const sourceNotFound = () => notFound('ingress source', 'INGRESS_SOURCE_NOT_FOUND');

async function ownSource(db: Db, p: Principal, id: string): Promise<IngressSourceRow> {
  const row = await db
    .select()
    .from(ingressSources)
    .where(and(eq(ingressSources.id, id), eq(ingressSources.accountId, p.accountId)))
    .get();
  if (!row) throw sourceNotFound();
  return row;
}

/** eq and neq compare with a value; exists and not_exists take none. */
function checkFilters(filters: IngressFilter[]): IngressFilter[] {
  const details: ErrorDetail[] = [];
  const out = filters.map((f, i) => {
    if (f.op === 'exists' || f.op === 'not_exists') return { path: f.path, op: f.op };
    if (f.value === undefined) details.push({ field: `filters.${i}.value`, message: `${f.op} needs a value` });
    return { path: f.path, op: f.op, value: f.value };
  });
  if (details.length)
    throw new ApiError({
      status: 400,
      code: 'VALIDATION_FAILED',
      message: `Invalid filters: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
      details,
    });
  return out;
}

/** The pinned project and assignee must be the account's (the assignee active). */
async function checkPins(db: Db, p: Principal, input: IngressSourceInput): Promise<void> {
  const projectId = input.default_project_id;
  const agentId = input.default_assignee_agent_id;
  if (!projectId && !agentId) return;
  const [project, agent] = await db.batch([
    db
      .select({ id: projects.id })
      .from(projects)
      .where(and(eq(projects.id, projectId ?? ''), eq(projects.accountId, p.accountId))),
    db
      .select({ id: agents.id })
      .from(agents)
      .where(and(eq(agents.id, agentId ?? ''), eq(agents.accountId, p.accountId), eq(agents.active, true))),
  ]);
  const details: ErrorDetail[] = [];
  if (projectId && !project.length) details.push({ field: 'default_project_id', message: `No project ${projectId} in this account` });
  if (agentId && !agent.length) details.push({ field: 'default_assignee_agent_id', message: `No active agent ${agentId} in this account` });
  if (details.length)
    throw new ApiError({ status: 400, code: 'VALIDATION_FAILED', message: details.map((d) => d.message).join('; '), details });
}

export async function listSources(db: Db, p: Principal): Promise<IngressSourceJson[]> {
  const rows = await db
    .select()
    .from(ingressSources)
    .where(eq(ingressSources.accountId, p.accountId))
    .orderBy(asc(ingressSources.createdAt), asc(ingressSources.id));
  return rows.map((r) => sourceJson(r));
}

export async function getSource(db: Db, p: Principal, id: string): Promise<IngressSourceJson> {
  return sourceJson(await ownSource(db, p, id));
}

export interface CreateSourceOptions {
  input: IngressSourceInput & { name: string; template: IngressTemplate };
  /** The plan's limit. */
  maxSources: number;
  now: number;
}

export async function createSource(db: Db, p: Principal, { input, maxSources, now }: CreateSourceOptions): Promise<IngressSourceJson> {
  const filters = checkFilters(input.filters ?? []);
  await checkPins(db, p, input);
  const secret = generateIngressSecret();
  const ts = isoSeconds(now);
  const row: IngressSourceRow = {
    id: newId('ing', now),
    accountId: p.accountId,
    name: input.name,
    secret,
    template: JSON.stringify(input.template),
    filters: JSON.stringify(filters),
    defaultProjectId: input.default_project_id ?? null,
    defaultAssigneeAgentId: input.default_assignee_agent_id ?? null,
    active: input.active ?? true,
    createdByAgentId: p.agentId,
    deliveryCount: 0,
    lastDeliveryAt: null,
    createdAt: ts,
    updatedAt: ts,
  };
  const [inserted] = await sqlBatch(db, [insertUnderLimit(ingressSources, { row, accountId: p.accountId, max: maxSources })]);
  if (!inserted![0])
    throw new ApiError({
      status: 403,
      code: 'INGRESS_SOURCE_LIMIT_REACHED',
      message: `This account already has ${maxSources} ingress sources, the most allowed`,
    });
  return sourceJson(row, secret);
}

export interface UpdateSourceOptions {
  sourceId: string;
  input: IngressSourceInput;
  now: number;
}

export async function updateSource(db: Db, p: Principal, { sourceId, input, now }: UpdateSourceOptions): Promise<IngressSourceJson> {
  const row = await ownSource(db, p, sourceId);
  await checkPins(db, p, input);
  const changes: Partial<IngressSourceRow> = { updatedAt: isoSeconds(now) };
  if (input.name !== undefined) changes.name = input.name;
  if (input.template !== undefined) changes.template = JSON.stringify(input.template);
  if (input.filters !== undefined) changes.filters = JSON.stringify(checkFilters(input.filters));
  if (input.default_project_id !== undefined) changes.defaultProjectId = input.default_project_id;
  if (input.default_assignee_agent_id !== undefined) changes.defaultAssigneeAgentId = input.default_assignee_agent_id;
  if (input.active !== undefined) changes.active = input.active;
  // The old secret stops working with this write.
  const secret = input.rotate_secret ? generateIngressSecret() : undefined;
  if (secret) changes.secret = secret;
  const updated = await db
    .update(ingressSources)
    .set(changes)
    .where(and(eq(ingressSources.id, sourceId), eq(ingressSources.accountId, p.accountId)))
    .returning()
    .get();
  return sourceJson(updated ?? { ...row, ...changes }, secret);
}

/** Deletes the source with its delivery log and dedupe keys; its endpoint answers 404 at once. Tasks it made stay. */
export async function deleteSource(db: Db, p: Principal, id: string): Promise<void> {
  await ownSource(db, p, id);
  await db.batch([
    db.delete(ingressDeliveries).where(eq(ingressDeliveries.sourceId, id)),
    db.delete(ingressDedupeKeys).where(eq(ingressDedupeKeys.sourceId, id)),
    db.delete(ingressSources).where(and(eq(ingressSources.id, id), eq(ingressSources.accountId, p.accountId))),
  ]);
}

export interface ListSourceDeliveriesOptions {
  sourceId: string;
  page: { limit: number; offset: number };
}

export async function listSourceDeliveries(
  db: Db,
  p: Principal,
  { sourceId, page }: ListSourceDeliveriesOptions,
): Promise<IngressDeliveryJson[]> {
  await ownSource(db, p, sourceId);
  const rows = await db
    .select()
    .from(ingressDeliveries)
    .where(eq(ingressDeliveries.sourceId, sourceId))
    .orderBy(desc(ingressDeliveries.createdAt), desc(ingressDeliveries.id))
    .limit(writtenLimit(page.limit))
    .offset(page.offset);
  return rows.map(deliveryJson);
}
