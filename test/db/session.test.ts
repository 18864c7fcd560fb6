/**
 * D1 read replicas through the Sessions API: every answer that touched D1 carries the session's
 * bookmark in X-D1-Bookmark, a request that sends it back sees at least that state (its own
 * writes), claims and completions written by the claim queue answer their own batch's bookmark,
 * and a malformed bookmark is a 400 that changes nothing.
 */
import { env, SELF } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it, vi } from 'vitest';
import { accounts } from '../../src/db/schema';
import { RequestSession } from '../../src/db/session';
import { withOverrides } from '../../src/platform/with-overrides';
import { api, BASE, db, makeAccount } from '../helpers/fixtures';

const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;
const bookmarkOf = (res: { headers: Headers }) => res.headers.get('X-D1-Bookmark');

describe('D1 sessions and bookmarks', () => {
  it("a write's answer carries a bookmark, and a read sent with it sees the write", async () => {
    const account = await makeAccount();
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'Read me back' });
    expect(created.status).toBe(201);
    const written = bookmarkOf(created);
    expect(written).toMatch(BOOKMARK);

    const read = await api('GET', `/v1/tasks/${created.body.id}`, account.adminKey, undefined, { 'X-D1-Bookmark': written! });
    expect(read.status).toBe(200);
    expect(read.body.content).toBe('Read me back');
    // The read's own bookmark is never older than the one it was sent.
    expect(bookmarkOf(read)! >= written!).toBe(true);

    const list = await api('GET', '/v1/tasks', account.adminKey, undefined, { 'X-D1-Bookmark': bookmarkOf(read)! });
    expect(list.body.map((t: { id: string }) => t.id)).toContain(created.body.id);
  });

  it('claims and completions (written by the claim queue) answer a bookmark that covers them', async () => {
    const account = await makeAccount();
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'Claim me', labels: ['bookmarked'] });
    const claimed = await api(
      'POST',
      '/v1/tasks/claim',
      account.adminKey,
      { labels: ['bookmarked'] },
      { 'X-D1-Bookmark': bookmarkOf(created)! },
    );
    expect(claimed.body.task.id).toBe(created.body.id);
    const afterClaim = bookmarkOf(claimed)!;
    expect(afterClaim).toMatch(BOOKMARK);
    expect(afterClaim > bookmarkOf(created)!).toBe(true);
    const seen = await api('GET', `/v1/tasks/${created.body.id}`, account.adminKey, undefined, { 'X-D1-Bookmark': afterClaim });
    expect(seen.body.status).toBe('claimed');

    const done = await api('POST', `/v1/tasks/${created.body.id}/complete`, account.adminKey, undefined, { 'X-D1-Bookmark': afterClaim });
    expect(done.status).toBe(200);
    expect(bookmarkOf(done)! > afterClaim).toBe(true);
    const after = await api('GET', `/v1/tasks/${created.body.id}`, account.adminKey, undefined, { 'X-D1-Bookmark': bookmarkOf(done)! });
    expect(after.body.completed).toBe(true);
  });

  it('a long-poll claim woken by a new task answers the bookmark of the batch that won it', async () => {
    const account = await makeAccount();
    const held = api('POST', '/v1/tasks/claim', account.adminKey, { labels: ['held-bookmark'], wait_seconds: 20 });
    // Parked once its queue published that claimers wait.
    await vi.waitFor(
      async () => {
        const row = await db().select({ waiting: accounts.claimersWaiting }).from(accounts).where(eq(accounts.id, account.accountId)).get();
        expect(row?.waiting).toBe(true);
      },
      { timeout: 10_000, interval: 20 },
    );
    const created = await api('POST', '/v1/tasks', account.adminKey, { content: 'Wake the claimer', labels: ['held-bookmark'] });
    const claimed = await held;
    expect(claimed.body.task.id).toBe(created.body.id);
    expect(bookmarkOf(claimed)).toMatch(BOOKMARK);
    expect(bookmarkOf(claimed)! > bookmarkOf(created)!).toBe(true);
  });

  it('a malformed bookmark is a 400 that changes nothing; an empty one is none', async () => {
    const account = await makeAccount();
    for (const bad of [
      'garbage',
      '00000001-00000002-00004e2f',
      'zzzzzzzz-00000002-00004e2f-0a83ea2fceebc654de0640c422be4653',
      '00000001-00000002-00004e2f-0a83ea2fceebc654de0640c422be4653-extra',
      'x'.repeat(5000),
    ]) {
      const res = await api('POST', '/v1/tasks', account.adminKey, { content: 'Never written' }, { 'X-D1-Bookmark': bad });
      expect(res.status, bad.slice(0, 40)).toBe(400);
      expect(res.body.code).toBe('INVALID_BOOKMARK');
      expect(res.body.details).toEqual([{ field: 'X-D1-Bookmark', message: 'Malformed bookmark' }]);
      // A browser client can read the refusal.
      expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    }
    const list = await api('GET', '/v1/tasks', account.adminKey);
    expect(list.body).toEqual([]);
    const empty = await api('GET', '/v1/tasks', account.adminKey, undefined, { 'X-D1-Bookmark': '' });
    expect(empty.status).toBe(200);
    expect(bookmarkOf(empty)).toMatch(BOOKMARK);
  });

  it('browsers may send the bookmark and read it back (CORS)', async () => {
    const preflight = await SELF.fetch(`${BASE}/v1/tasks`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'x-agent-key, x-d1-bookmark',
      },
    });
    expect(preflight.headers.get('Access-Control-Allow-Headers')?.toLowerCase()).toContain('x-d1-bookmark');
    const account = await makeAccount();
    const res = await SELF.fetch(`${BASE}/v1/tasks`, { headers: { Origin: 'https://app.example', 'X-Agent-Key': account.adminKey } });
    expect(res.headers.get('Access-Control-Expose-Headers')?.toLowerCase()).toContain('x-d1-bookmark');
    expect(bookmarkOf(res)).toMatch(BOOKMARK);
  });

  it('the OpenAPI document tells clients about the bookmark', async () => {
    const res = await api('GET', '/v1/openapi.json');
    expect(res.body.info.description).toContain('X-D1-Bookmark');
    expect(res.body.info.description).toContain('INVALID_BOOKMARK');
  });

  it('API reads may start on a replica (or at their bookmark); writes and pages start at the primary', () => {
    const asked: (string | undefined)[] = [];
    const d1 = withOverrides(env.DB, {
      withSession: ((c?: string) => (asked.push(c), env.DB.withSession(c))) as D1Database['withSession'],
    });
    const mark = '00000001-00000002-00004e2f-0a83ea2fceebc654de0640c422be4653';
    const cases: [string, string, string | null][] = [
      ['GET', '/v1/tasks', null],
      ['GET', '/api/tasks', mark],
      ['POST', '/v1/tasks', mark],
      ['DELETE', '/v1/tasks/tsk_1', null],
      ['GET', '/app', null],
      ['GET', '/health', null],
    ];
    const sessions = cases.map(([method, path, bookmark]) => new RequestSession(d1, { method, path, bookmark }));
    // A session opens at its request's first query: none yet.
    expect(asked).toEqual([]);
    expect(sessions.map((s) => s.bookmark())).toEqual([null, mark, mark, null, null, null]);
    for (const s of sessions) s.db.prepare('select 1');
    expect(asked).toEqual(['first-unconstrained', mark, 'first-primary', 'first-primary', 'first-primary', 'first-primary']);
  });
});
