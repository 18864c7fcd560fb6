/**
 * Fixture factories: each test makes its own account, so no test depends on another's rows.
 */
import { env, SELF } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { database } from '../../src/db/client';
import { agents } from '../../src/db/schema';
import { createAccount } from '../../src/accounts/accounts';
import type { Role } from '../../src/access/policy';
import { jsonRequest, type JsonResult } from './json-request';

export const BASE = 'https://api.test';
let seq = 0;
export const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(seq++).toString(36)}`;

export const db = () => database(env.DB);

export interface TestAccount {
  accountId: string;
  adminId: string;
  adminKey: string;
  projectId: string;
}

/** An active (claimed) account with its default admin agent and project. */
export async function makeAccount(opts: { status?: 'restricted' | 'active' } = {}): Promise<TestAccount> {
  const status = opts.status ?? 'active';
  const made = await createAccount(db(), {
    pepper: env.KEY_PEPPER!,
    input: {
      status,
      agentName: 'admin-agent',
      projectName: status === 'restricted' ? 'Sandbox' : 'Inbox',
      sandbox: status === 'restricted',
    },
    now: Date.now(),
  });
  return { accountId: made.accountId, adminId: made.agentId, adminKey: made.apiKey, projectId: made.projectId };
}

export interface TestAgent {
  id: string;
  key: string;
  name: string;
}

/** A further agent with the given role, created through the API as an admin would. */
export async function makeAgent(account: TestAccount, role: Role, name = unique(role).slice(0, 32)): Promise<TestAgent> {
  const res = await api('POST', '/v1/agents', account.adminKey, { name, role });
  if (res.status !== 201) throw new Error(`makeAgent: ${res.status} ${JSON.stringify(res.body)}`);
  const body = res.body as { id: string; api_key: string };
  return { id: body.id, key: body.api_key, name };
}

export async function agentRow(id: string) {
  return db().select().from(agents).where(eq(agents.id, id)).get();
}

export type ApiResult<T = unknown> = JsonResult<T>;

/** One request through the Worker, as a client would send it. */
export function api<T = any>(
  method: string,
  path: string,
  key?: string | null,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResult<T>> {
  return jsonRequest<T>((url, init) => SELF.fetch(url, init), `${BASE}${path}`, method, { key, body, headers });
}
