/**
 * Agents of an account: the directory, creation with a key shown once, profile edits,
 * key rotation (the old key is dead the moment the new hash is written) and guarded deletion.
 */
import { and, asc, count, eq, or, sql } from 'drizzle-orm';
import type { AnySQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Db } from '../db/client';
import { accounts, agents, automations, ingressSources, recurrences, tasks } from '../db/schema';
import { conflict, notFound } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { authorizeOn, standsOn, type Principal, type Role } from '../access/policy';
import { issueKey } from '../access/api-keys';
import { insertUnderLimit, limitReached } from '../db/plan-limits';
import { sqlBatch } from '../db/sql-batch';
import type { PrincipalCache } from '../access/authentication';
import { writtenLimit } from '../db/written-limit';

export type AgentRow = typeof agents.$inferSelect;

export interface AgentJson {
  id: string;
  account_id: string;
  name: string;
  display_name: string | null;
  description: string | null;
  role: Role;
  active: boolean;
  is_default: boolean;
  key_prefix: string;
  sandbox_project_id: string | null;
  /** Written by the key gate at most every 5 minutes (access/key-gate.ts). */
  last_seen_at: string | null;
  created_at: string;
  updated_at: string;
  api_key?: string;
}

export function agentJson(row: AgentRow, defaultAgentId: string | null, apiKey?: string): AgentJson {
  return {
    id: row.id,
    account_id: row.accountId,
    name: row.name,
    display_name: row.displayName,
    description: row.description,
    role: row.role,
    active: row.active,
    is_default: row.id === defaultAgentId,
    key_prefix: row.keyPrefix,
    sandbox_project_id: row.sandboxProjectId,
    last_seen_at: row.lastSeenAt,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
    ...(apiKey ? { api_key: apiKey } : {}),
  };
}

const agentNotFound = () => notFound('agent');
const canSeeDirectory = (p: Principal) => p.role === 'coordinator' || p.role === 'admin';

async function defaultAgentOf(db: Db, accountId: string): Promise<string | null> {
  const row = await db.select({ id: accounts.defaultAgentId }).from(accounts).where(eq(accounts.id, accountId)).get();
  return row?.id ?? null;
}

export async function listAgents(db: Db, p: Principal): Promise<AgentJson[]> {
  const [rows, acct] = await db.batch([
    db.select().from(agents).where(eq(agents.accountId, p.accountId)).orderBy(asc(agents.createdAt), asc(agents.id)),
    db.select({ defaultAgentId: accounts.defaultAgentId }).from(accounts).where(eq(accounts.id, p.accountId)),
  ]);
  const defaultId = acct[0]?.defaultAgentId ?? null;
  return rows.map((r) => agentJson(r, defaultId));
}

/** An agent the caller may see: itself, or any account agent for coordinators and admins. */
async function visibleAgent(db: Db, p: Principal, id: string): Promise<AgentRow> {
  if (id !== p.agentId && !canSeeDirectory(p)) throw agentNotFound();
  const row = await db
    .select()
    .from(agents)
    .where(and(eq(agents.id, id), eq(agents.accountId, p.accountId)))
    .get();
  if (!row) throw agentNotFound();
  return row;
}

export async function getAgent(db: Db, p: Principal, id: string): Promise<AgentJson> {
  const [row, defaultId] = await Promise.all([visibleAgent(db, p, id), defaultAgentOf(db, p.accountId)]);
  return agentJson(row, defaultId);
}

export interface CreateAgentInput {
  name: string;
  display_name?: string | null;
  description?: string | null;
  role?: Role;
}

export interface CreateAgentOptions {
  /** Hashes the new key. */
  pepper: string;
  input: CreateAgentInput;
  /** The plan's limit. */
  maxAgents: number;
  now: number;
}

export async function createAgent(db: Db, p: Principal, { pepper, input, maxAgents, now }: CreateAgentOptions): Promise<AgentJson> {
  const key = await issueKey(pepper, p.accountId);
  const ts = isoSeconds(now);
  const row: AgentRow = {
    id: newId('agt', now),
    accountId: p.accountId,
    name: input.name,
    displayName: input.display_name ?? null,
    description: input.description ?? null,
    role: input.role ?? 'worker',
    keyHash: key.hash,
    keyPrefix: key.displayPrefix,
    active: true,
    sandboxProjectId: null,
    useCase: null,
    keyRotatedAt: null,
    lastSeenAt: null,
    createdAt: ts,
    updatedAt: ts,
  };
  try {
    const [inserted] = await sqlBatch(db, [insertUnderLimit(agents, { row, accountId: p.accountId, max: maxAgents })]);
    if (!inserted![0]) throw limitReached('agents', maxAgents);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict('AGENT_NAME_TAKEN', `An agent named "${input.name}" already exists in this account`);
    throw e;
  }
  return agentJson(row, null, key.plaintext);
}

export interface UpdateAgentInput {
  name?: string;
  display_name?: string | null;
  description?: string | null;
  role?: Role;
  active?: boolean;
}

export interface UpdateAgentOptions {
  cache: PrincipalCache;
  agentId: string;
  input: UpdateAgentInput;
  now: number;
}

export async function updateAgent(db: Db, p: Principal, { cache, agentId, input, now }: UpdateAgentOptions): Promise<AgentJson> {
  const row = await visibleAgent(db, p, agentId);
  // Name, role and active state are agents.manage; the profile is agents.update, on itself.
  const managed = (['name', 'role', 'active'] as const).filter((f) => input[f] !== undefined);
  authorizeOn(p, managed.length > 0 ? 'agents.manage' : 'agents.update', { self: agentId === p.agentId });
  const defaultId = await defaultAgentOf(db, p.accountId);
  if (agentId === defaultId && ((input.role !== undefined && input.role !== 'admin') || input.active === false)) {
    throw conflict('AGENT_IS_RECOVERY', 'The recovery (default) agent must stay an active admin');
  }
  if (agentId === p.agentId && ((input.role !== undefined && input.role !== 'admin' && p.role === 'admin') || input.active === false)) {
    throw conflict('AGENT_IS_SELF', 'An agent cannot demote or deactivate itself; ask another admin');
  }
  const changes: Partial<AgentRow> = { updatedAt: isoSeconds(now) };
  if (input.name !== undefined) changes.name = input.name;
  if (input.display_name !== undefined) changes.displayName = input.display_name;
  if (input.description !== undefined) changes.description = input.description;
  if (input.role !== undefined) changes.role = input.role;
  if (input.active !== undefined) changes.active = input.active;
  try {
    const updated = await db
      .update(agents)
      .set(changes)
      .where(and(eq(agents.id, agentId), eq(agents.accountId, p.accountId)))
      .returning()
      .get();
    await cache.forgetKeys(p.accountId, [row.keyHash]);
    return agentJson(updated ?? { ...row, ...changes }, defaultId);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict('AGENT_NAME_TAKEN', `An agent named "${input.name}" already exists in this account`);
    throw e;
  }
}

export interface RotateAgentKeyOptions {
  cache: PrincipalCache;
  pepper: string;
  agentId: string;
  now: number;
}

export async function rotateAgentKey(db: Db, p: Principal, { cache, pepper, agentId, now }: RotateAgentKeyOptions): Promise<AgentJson> {
  const self = agentId === p.agentId;
  // An agent the caller cannot see is a 404 before it is a 403 (admins see every agent).
  if (!standsOn(p, 'agents.rotate_key', { self })) await visibleAgent(db, p, agentId);
  authorizeOn(p, 'agents.rotate_key', { self });
  const key = await issueKey(pepper, p.accountId);
  const ts = isoSeconds(now);
  const isTarget = and(eq(agents.id, agentId), eq(agents.accountId, p.accountId));
  const previous = await db.select({ keyHash: agents.keyHash }).from(agents).where(isTarget).get();
  if (!previous) throw agentNotFound();
  // Replaces only the key read above: of parallel rotations one wins, the others get 409, so
  // every key handed out is the live one.
  const [updated, acct] = await db.batch([
    db
      .update(agents)
      .set({ keyHash: key.hash, keyPrefix: key.displayPrefix, keyRotatedAt: ts, updatedAt: ts })
      .where(and(isTarget, eq(agents.keyHash, previous.keyHash)))
      .returning(),
    db.select({ defaultAgentId: accounts.defaultAgentId }).from(accounts).where(eq(accounts.id, p.accountId)),
  ]);
  const row = updated[0];
  if (!row)
    throw conflict(
      'KEY_ROTATION_CONFLICT',
      'Another rotation of this key happened at the same time and its key is the live one; this rotation changed nothing',
    );
  // The old key's object still holds the principal: it is told to forget it before we answer.
  await cache.forgetKeys(p.accountId, [previous.keyHash]);
  return agentJson(row, acct[0]?.defaultAgentId ?? null, key.plaintext);
}

/** How many ids of each configuration that refers to an agent a refused delete names. */
const REFERENCES_NAMED = 5;

export interface DeleteAgentOptions {
  cache: PrincipalCache;
  agentId: string;
}

/**
 * Refused (409) while anything would act as the agent or route work to it: tasks that reference
 * it, recurrences it creates tasks as or assigns them to, automation rules that act in its name
 * or assign, delegate or create tasks for it, ingress sources that write in its name or assign to
 * it. The answer names them (`references`), so the admin can reassign them or deactivate the agent.
 */
export async function deleteAgent(db: Db, p: Principal, { cache, agentId }: DeleteAgentOptions): Promise<void> {
  const referenced = (column: AnySQLiteColumn) =>
    sql<number>`exists(select 1 from ${tasks} where ${tasks.accountId} = ${p.accountId} and ${column} = ${agentId})`;
  const actsFor = sql`exists (select 1 from json_each(${automations.actions}) a where json_extract(a.value, '$.agent_id') = ${agentId} or json_extract(a.value, '$.assigned_to_agent_id') = ${agentId})`;
  const [target, acct, active, refs, recurring, rules, sources] = await db.batch([
    db
      .select()
      .from(agents)
      .where(and(eq(agents.id, agentId), eq(agents.accountId, p.accountId))),
    db.select({ defaultAgentId: accounts.defaultAgentId }).from(accounts).where(eq(accounts.id, p.accountId)),
    db
      .select({ n: count() })
      .from(agents)
      .where(and(eq(agents.accountId, p.accountId), eq(agents.active, true))),
    db
      .select({
        assigned: referenced(tasks.assignedToAgentId),
        created: referenced(tasks.createdByAgentId),
        claimed: referenced(tasks.claimedByAgentId),
        accountable: referenced(tasks.accountableAgentId),
      })
      .from(sql`(select 1)`),
    db
      .select({ id: recurrences.id })
      .from(recurrences)
      .where(
        and(
          eq(recurrences.accountId, p.accountId),
          or(eq(recurrences.createdByAgentId, agentId), eq(recurrences.assignedToAgentId, agentId)),
        ),
      )
      .orderBy(asc(recurrences.id))
      .limit(writtenLimit(REFERENCES_NAMED)),
    db
      .select({ id: automations.id })
      .from(automations)
      .where(and(eq(automations.accountId, p.accountId), or(eq(automations.createdByAgentId, agentId), actsFor)))
      .orderBy(asc(automations.id))
      .limit(writtenLimit(REFERENCES_NAMED)),
    db
      .select({ id: ingressSources.id })
      .from(ingressSources)
      .where(
        and(
          eq(ingressSources.accountId, p.accountId),
          or(eq(ingressSources.createdByAgentId, agentId), eq(ingressSources.defaultAssigneeAgentId, agentId)),
        ),
      )
      .orderBy(asc(ingressSources.id))
      .limit(writtenLimit(REFERENCES_NAMED)),
  ]);
  const row = target[0];
  if (!row) throw agentNotFound();
  if (row.id === acct[0]?.defaultAgentId)
    throw conflict('AGENT_IS_RECOVERY', 'The recovery (default) agent cannot be deleted; its key is the one account recovery rotates');
  if (row.id === p.agentId) throw conflict('AGENT_IS_SELF', 'An agent cannot delete itself');
  if (row.active && (active[0]?.n ?? 0) <= 1) throw conflict('LAST_ACTIVE_AGENT', 'The last active agent of an account cannot be deleted');
  const r = refs[0];
  const taskRelations = r
    ? Object.entries(r)
        .filter(([, v]) => Boolean(v))
        .map(([k]) => k)
    : [];
  const references = {
    tasks: taskRelations,
    recurrences: recurring.map((x) => x.id),
    automations: rules.map((x) => x.id),
    ingress_sources: sources.map((x) => x.id),
  };
  const named = (ids: string[]) => `${ids.join(', ')}${ids.length === REFERENCES_NAMED ? ' and maybe more' : ''}`;
  const reasons = [
    taskRelations.length ? `tasks (${taskRelations.join(', ')}): reassign or delete them` : '',
    recurring.length ? `recurrences ${named(references.recurrences)} create tasks as it or assign them to it: reassign or delete them` : '',
    rules.length ? `automation rules ${named(references.automations)} act in its name or assign work to it: change or delete them` : '',
    sources.length
      ? `ingress sources ${named(references.ingress_sources)} create tasks in its name or assign them to it: change or delete them`
      : '',
  ].filter(Boolean);
  if (reasons.length > 0) {
    throw conflict(
      'AGENT_REFERENCED',
      `This agent is still referred to: ${reasons.join('; ')}. Or deactivate it with PUT {"active": false} instead.`,
      { references },
    );
  }
  await db.delete(agents).where(and(eq(agents.id, agentId), eq(agents.accountId, p.accountId)));
  await cache.forgetKeys(p.accountId, [row.keyHash]);
}

export function isUniqueViolation(e: unknown): boolean {
  const text = e instanceof Error ? `${e.message} ${String((e as { cause?: unknown }).cause ?? '')}` : String(e);
  return /UNIQUE constraint failed/i.test(text);
}
