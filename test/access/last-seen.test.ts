/**
 * An agent's last_seen_at, recorded by its key's gate object: set by the first request, then
 * written at most once per LAST_SEEN_WRITE_MS however many requests arrive (no D1 write per
 * request); shown in the API's agent JSON and on the dashboard's agents page.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { agents } from '../../src/db/schema';
import { gateFor, LAST_SEEN_WRITE_MS, type KeyGate } from '../../src/access/key-gate';
import { agentRow, api, db, makeAccount, makeAgent } from '../helpers/fixtures';
import { send, signedInHuman } from '../helpers/dashboard';

afterEach(() => vi.useRealTimers());

/** Waits for the gate's pending last_seen_at write (no sleep). */
async function gateSettled(agentId: string) {
  const { keyHash, accountId } = (await agentRow(agentId))!;
  const stub = gateFor(env, { keyHash, accountId });
  await runInDurableObject(stub, async (gate: KeyGate) => gate.seenWrite);
}

describe('last seen', () => {
  it('is written by the first request, then at most once per interval, whatever the traffic', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = new Date('2026-06-01T09:00:00Z').getTime();
    vi.setSystemTime(start);
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    expect((await agentRow(worker.id))!.lastSeenAt).toBeNull();

    expect((await api('GET', '/v1/agent/me', worker.key)).status).toBe(200);
    await gateSettled(worker.id);
    expect((await agentRow(worker.id))!.lastSeenAt).toBe('2026-06-01T09:00:00Z');

    // Many requests inside the interval: no write (a write behind the gate's back stays as it is).
    await db().update(agents).set({ lastSeenAt: '2000-01-01T00:00:00Z' }).where(eq(agents.id, worker.id));
    vi.setSystemTime(start + LAST_SEEN_WRITE_MS - 1000);
    for (let i = 0; i < 5; i++) expect((await api('GET', '/v1/tasks', worker.key)).status).toBe(200);
    await gateSettled(worker.id);
    expect((await agentRow(worker.id))!.lastSeenAt).toBe('2000-01-01T00:00:00Z');

    // Past the interval: the next request writes again.
    vi.setSystemTime(start + LAST_SEEN_WRITE_MS);
    expect((await api('GET', '/v1/tasks', worker.key)).status).toBe(200);
    await gateSettled(worker.id);
    expect((await agentRow(worker.id))!.lastSeenAt).toBe('2026-06-01T09:05:00Z');
    const listed = (await api('GET', '/v1/agents', account.adminKey)).body as { id: string; last_seen_at: string | null }[];
    expect(listed.find((a) => a.id === worker.id)!.last_seen_at).toBe('2026-06-01T09:05:00Z');
  });

  it('a refused key (deactivated agent) records nothing', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    expect((await api('PATCH', `/v1/agents/${worker.id}`, account.adminKey, { active: false })).status).toBe(200);
    expect((await api('GET', '/v1/agent/me', worker.key)).status).toBe(401);
    await gateSettled(worker.id);
    expect((await agentRow(worker.id))!.lastSeenAt).toBeNull();
  });

  it('shows on the agents page: never, or how long ago', async () => {
    const human = await signedInHuman();
    const made = (await api('POST', '/v1/agents', human.apiKey, { name: 'seen-bot', role: 'worker' })).body as {
      id: string;
      api_key: string;
    };
    const row = (html: string) =>
      html.slice(html.indexOf(`data-agent-id="${made.id}"`), html.indexOf('</tr>', html.indexOf(`data-agent-id="${made.id}"`)));
    expect(row((await send('/app/agents', { cookie: human.cookie })).html)).toMatch(/data-last-seen="true">never</);
    await api('GET', '/v1/agent/me', made.api_key);
    await gateSettled(made.id);
    expect(row((await send('/app/agents', { cookie: human.cookie })).html)).toMatch(
      /data-last-seen="true"><time datetime="[^"]+Z">just now<\/time>/,
    );
  });
});
