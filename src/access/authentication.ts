/**
 * API keys to principals. A key's principal is read from D1 in one query (`loadKeyHolder`),
 * by the key's own Durable Object (access/key-gate.ts), which keeps it until it is told the
 * principal may have changed (`PrincipalCache`, backed by the `principal_forgets` sweep).
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { accounts, agents } from '../db/schema';
import { ApiError } from '../platform/errors';
import { timingSafeEqual } from '../platform/crypto';
import { modeFor, type Principal } from './policy';
import { accountOfKey, hashKey, hasValidTag } from './api-keys';

const unauthorized = (message: string) => new ApiError({ status: 401, code: 'UNAUTHORIZED', message });

/** Who holds a key, and whether that agent is active. */
export interface KeyHolder {
  principal: Principal;
  active: boolean;
}

/**
 * Where principals are cached; told after any write that changes what a principal holds
 * (agent name, role, active, key; account status, plan, webhooks), so the next request of
 * each affected key reads it afresh.
 */
export interface PrincipalCache {
  forgetKeys(accountId: string, keyHashes: Iterable<string>): Promise<void>;
  /** Every key of the account (its status, plan or webhooks changed). */
  forgetAccount(accountId: string): Promise<void>;
}

/** The key from `X-Agent-Key`, or from `Authorization: Bearer`. */
export function keyFromHeaders(agentKey: string | undefined, authorization: string | undefined): string | null {
  if (agentKey) return agentKey.trim();
  const match = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1] ?? null;
}

/** A key as its gate knows it: the HMAC under which it is stored, and the account it names (null for an older key). */
export interface KeyRef {
  keyHash: string;
  accountId: string | null;
}

/** The key's stored HMAC and account; 401 for a missing, malformed or made-up key (bad tag), before any lookup. */
export async function keyRefOf(pepper: string, key: string | null): Promise<KeyRef> {
  if (!key) throw unauthorized('Missing API key: send it as X-Agent-Key: dlg_... or Authorization: Bearer dlg_...');
  if (!(await hasValidTag(pepper, key))) throw unauthorized('Invalid API key');
  return { keyHash: await hashKey(pepper, key), accountId: accountOfKey(key) };
}

/** The HMAC under which the key is stored (see keyRefOf). */
export async function keyHashOf(pepper: string, key: string | null): Promise<string> {
  return (await keyRefOf(pepper, key)).keyHash;
}

export async function loadKeyHolder(db: Db, keyHash: string): Promise<KeyHolder | null> {
  const row = await db
    .select({
      agentId: agents.id,
      agentName: agents.name,
      role: agents.role,
      active: agents.active,
      keyHash: agents.keyHash,
      sandboxProjectId: agents.sandboxProjectId,
      accountId: accounts.id,
      status: accounts.status,
      plan: accounts.plan,
      defaultAgentId: accounts.defaultAgentId,
      activeWebhooks: accounts.activeWebhooks,
      activeAutomations: accounts.activeAutomations,
    })
    .from(agents)
    .innerJoin(accounts, eq(accounts.id, agents.accountId))
    .where(eq(agents.keyHash, keyHash))
    .get();
  // The index lookup already matched; the constant-time compare keeps the check honest.
  if (!row || !timingSafeEqual(row.keyHash, keyHash)) return null;
  return {
    active: row.active,
    principal: {
      agentId: row.agentId,
      agentName: row.agentName,
      accountId: row.accountId,
      role: row.role,
      mode: modeFor(row.status, row.role),
      plan: row.plan,
      sandboxProjectId: row.sandboxProjectId,
      isDefaultAgent: row.defaultAgentId === row.agentId,
      hasWebhooks: row.activeWebhooks > 0,
      hasAutomations: row.activeAutomations > 0,
    },
  };
}

/** The principal of a key holder, or the 401 for an unknown key or a deactivated agent. */
export function principalOf(holder: KeyHolder | null): Principal {
  if (!holder) throw unauthorized('Invalid API key');
  if (!holder.active) throw unauthorized('This agent is deactivated');
  return holder.principal;
}

/** Straight from D1, without the cache or a rate count (domain tests, tools). */
export async function authenticate(db: Db, pepper: string, key: string | null): Promise<Principal> {
  return principalOf(await loadKeyHolder(db, await keyHashOf(pepper, key)));
}
