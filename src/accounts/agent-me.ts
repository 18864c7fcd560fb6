/**
 * `GET /v1/agent/me`: who the calling key is. Read in one D1 batch, so a claim shows up on the
 * very next call (mode comes from the account row, never from a cached value).
 */
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { accounts, agents, claimTokens, projects } from '../db/schema';
import { notFound } from '../platform/errors';
import type { Mode, Principal, Role } from '../access/policy';
import { agentJson, type AgentJson } from './agents';
import { maskEmail } from '../email/mask';
import { projectJson, type ProjectJson } from './projects';
import { writtenLimit } from '../db/written-limit';

export interface MeJson {
  agent: AgentJson & { use_case: string | null };
  account: {
    id: string;
    name: string | null;
    status: 'restricted' | 'active';
    plan: string;
    claimed_at: string | null;
    created_at: string;
  };
  mode: Mode;
  role: Role;
  sandbox_project: ProjectJson | null;
  /** Agent-first accounts only (null for human signups): where the claim email went, and how to finish it. */
  claim: { status: 'pending' | 'claimed'; email: string; how: string | null } | null;
}

export async function describeMe(db: Db, p: Principal): Promise<MeJson> {
  const [agentRows, accountRows, sandboxRows, claimRows] = await db.batch([
    db
      .select()
      .from(agents)
      .where(and(eq(agents.id, p.agentId), eq(agents.accountId, p.accountId))),
    db.select().from(accounts).where(eq(accounts.id, p.accountId)),
    db
      .select()
      .from(projects)
      .where(and(eq(projects.id, p.sandboxProjectId ?? '∅'), eq(projects.accountId, p.accountId))),
    db
      .select({ email: claimTokens.email })
      .from(claimTokens)
      .where(eq(claimTokens.accountId, p.accountId))
      .orderBy(desc(claimTokens.createdAt))
      .limit(writtenLimit(1)),
  ]);
  const agent = agentRows[0];
  const account = accountRows[0];
  if (!agent || !account) throw notFound('agent');
  const pending = account.status === 'restricted';
  const claimEmail = claimRows[0]?.email ?? null;
  return {
    agent: { ...agentJson(agent, account.defaultAgentId), use_case: agent.useCase },
    account: {
      id: account.id,
      name: account.name,
      status: account.status,
      plan: account.plan,
      claimed_at: account.claimedAt,
      created_at: account.createdAt,
    },
    mode: p.mode,
    role: p.role,
    sandbox_project: sandboxRows[0] ? projectJson(sandboxRows[0]) : null,
    claim: claimEmail
      ? {
          status: pending ? 'pending' : 'claimed',
          email: maskEmail(claimEmail),
          how: pending
            ? 'The human opens the magic link in the claim email, or you send its 6-digit code to POST /v1/agent/claim/verify. POST /v1/agent/claim/resend sends a new email.'
            : null,
        }
      : null,
  };
}
