/**
 * Resolves an API key to its principal (agent, account, mode, role) in one D1 query.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { accounts, agents } from '../db/schema';
import { ApiError } from '../lib/errors';
import { timingSafeEqual } from '../lib/crypto';
import { modeFor, type Principal } from './access';
import { hashKey, looksLikeKey } from './api-keys';

const unauthorized = (message: string) => new ApiError(401, 'UNAUTHORIZED', message);

/** The key from `X-Agent-Key`, or from `Authorization: Bearer`. */
export function keyFromHeaders(agentKey: string | undefined, authorization: string | undefined): string | null {
  if (agentKey) return agentKey.trim();
  const match = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1] ?? null;
}

export async function authenticate(db: Db, pepper: string, key: string | null): Promise<Principal> {
  if (!key) throw unauthorized('Missing API key: send it as X-Agent-Key: dlg_... or Authorization: Bearer dlg_...');
  if (!looksLikeKey(key)) throw unauthorized('Invalid API key');
  const hash = await hashKey(pepper, key);
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
    })
    .from(agents)
    .innerJoin(accounts, eq(accounts.id, agents.accountId))
    .where(eq(agents.keyHash, hash))
    .get();
  // The index lookup already matched; the constant-time compare keeps the check honest.
  if (!row || !timingSafeEqual(row.keyHash, hash)) throw unauthorized('Invalid API key');
  if (!row.active) throw unauthorized('This agent is deactivated');
  return {
    agentId: row.agentId,
    agentName: row.agentName,
    accountId: row.accountId,
    role: row.role,
    mode: modeFor(row.status, row.role),
    plan: row.plan,
    sandboxProjectId: row.sandboxProjectId,
    isDefaultAgent: row.defaultAgentId === row.agentId,
    hasWebhooks: row.activeWebhooks > 0,
  };
}
