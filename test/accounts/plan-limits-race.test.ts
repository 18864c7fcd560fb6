/**
 * Plan limits under concurrency: parallel creates near the limit never end above it. Each
 * account is filled to just under its limit directly in D1, then many creates race for the rest.
 */
import { count, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { agents, projects, webhooks } from '../../src/db/schema';
import { LIMIT_DEFAULTS } from '../../src/platform/config';
import { api, db, makeAccount, unique } from '../helpers/fixtures';

const ts = new Date().toISOString();

async function fill(table: 'agents' | 'projects' | 'webhooks', accountId: string, upTo: number) {
  const have = async () => {
    const t = { agents, projects, webhooks }[table];
    return (await db().select({ n: count() }).from(t).where(eq(t.accountId, accountId)).get())!.n;
  };
  const missing = upTo - (await have());
  for (let i = 0; i < missing; i++) {
    const id = unique('fill').replace(/-/g, '');
    if (table === 'agents')
      await db()
        .insert(agents)
        .values({ id: `agt_${id}`, accountId, name: `fill-${i}`, keyHash: `h${id}`, keyPrefix: 'dlg_x', createdAt: ts, updatedAt: ts });
    if (table === 'projects')
      await db()
        .insert(projects)
        .values({ id: `prj_${id}`, accountId, name: `fill ${i}`, createdAt: ts, updatedAt: ts });
    if (table === 'webhooks')
      await db()
        .insert(webhooks)
        .values({
          id: `whk_${id}`,
          accountId,
          url: 'https://hooks.example.com/x',
          events: '["task.created"]',
          secret: 'whsec_fill_0123456789abcdef',
          createdAt: ts,
          updatedAt: ts,
        });
  }
  return have;
}

const CASES = [
  {
    table: 'agents',
    path: '/v1/agents',
    body: (i: number) => ({ name: `racer-${i}` }),
    max: LIMIT_DEFAULTS.AGENTS_PER_ACCOUNT,
    code: 'AGENT_LIMIT_REACHED',
  },
  {
    table: 'projects',
    path: '/v1/projects',
    body: (i: number) => ({ name: `Racer ${i}` }),
    max: LIMIT_DEFAULTS.PROJECTS_PER_ACCOUNT,
    code: 'PROJECT_LIMIT_REACHED',
  },
  {
    table: 'webhooks',
    path: '/v1/webhooks',
    body: () => ({ url: 'https://hooks.example.com/race', events: ['task.created'] }),
    max: LIMIT_DEFAULTS.WEBHOOKS_PER_ACCOUNT,
    code: 'WEBHOOK_LIMIT_REACHED',
  },
] as const;

describe('plan limits hold under parallel creates', () => {
  it.each(CASES)('$table: 12 parallel creates with room for 3 make exactly 3', async ({ table, path, body, max, code }) => {
    const account = await makeAccount();
    const have = await fill(table, account.accountId, max - 3);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => api('POST', path, account.adminKey, body(i))));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused.map((r) => r.status)).toEqual(Array(9).fill(403));
    expect(new Set(refused.map((r) => r.body.code))).toEqual(new Set([code]));
    expect(await have()).toBe(max);
  });
});
