/**
 * Account bootstrap shared by both onboarding paths: an account with its recovery (default)
 * admin agent and first project, written in one D1 batch so a half-created account never exists.
 */
import type { Db } from '../db/client';
import { accounts, agents, projects, users } from '../db/schema';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { issueKey } from '../access/api-keys';

export interface NewAccountInput {
  status: 'restricted' | 'active';
  agentName: string;
  agentDisplayName?: string | null;
  agentDescription?: string | null;
  useCase?: string | null;
  /** Human signup: the user row. Agent-first signup has no user until the claim. */
  user?: { email: string; name?: string | null; verified?: boolean };
  projectName: string;
  /** Agent-first signups get a sandbox project the restricted key is pinned to. */
  sandbox: boolean;
}

export interface NewAccount {
  accountId: string;
  agentId: string;
  projectId: string;
  userId: string | null;
  apiKey: string;
}

export interface NewAccountOptions {
  /** Hashes the account's first key. */
  pepper: string;
  input: NewAccountInput;
  now: number;
}

export async function createAccount(db: Db, { pepper, input, now }: NewAccountOptions): Promise<NewAccount> {
  const ts = isoSeconds(now);
  const accountId = newId('acc', now);
  const agentId = newId('agt', now);
  const projectId = newId('prj', now);
  const userId = input.user ? newId('usr', now) : null;
  const key = await issueKey(pepper, accountId);

  const writes = [
    db.insert(accounts).values({
      id: accountId,
      status: input.status,
      plan: 'free',
      defaultAgentId: agentId,
      createdAt: ts,
      updatedAt: ts,
      claimedAt: input.status === 'active' ? ts : null,
    }),
    db
      .insert(projects)
      .values({ id: projectId, accountId, name: input.projectName, sortOrder: 0, isSandbox: input.sandbox, createdAt: ts, updatedAt: ts }),
    db.insert(agents).values({
      id: agentId,
      accountId,
      name: input.agentName,
      displayName: input.agentDisplayName ?? null,
      description: input.agentDescription ?? null,
      useCase: input.useCase ?? null,
      role: 'admin',
      keyHash: key.hash,
      keyPrefix: key.displayPrefix,
      sandboxProjectId: input.sandbox ? projectId : null,
      createdAt: ts,
      updatedAt: ts,
    }),
  ] as const;
  if (input.user && userId) {
    await db.batch([
      ...writes,
      db.insert(users).values({
        id: userId,
        accountId,
        email: input.user.email.toLowerCase(),
        name: input.user.name ?? null,
        verifiedAt: input.user.verified ? ts : null,
        createdAt: ts,
      }),
    ]);
  } else {
    await db.batch(writes);
  }
  return { accountId, agentId, projectId, userId, apiKey: key.plaintext };
}
