/**
 * Values SQLite plans with (LIMIT values, integers 0 and 1) are written into the SQL, so the
 * statement is not prepared again on every run; everything else stays bound, and queries answer
 * the same.
 */
import { env } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import { literalParams, withLiteralParams } from '../../src/db/literal-params';
import { tasks } from '../../src/db/schema';
import { withOverrides } from '../../src/platform/with-overrides';
import { shareLeading } from '../../src/work-queue/claim-queue';
import { makeAccount } from '../helpers/fixtures';
import { insertTasks } from '../helpers/task-rows';

/** The binding, recording the SQL text of each statement prepared through it. */
function recording(d1: D1Database, seen: string[]): D1Database {
  return withOverrides(d1, { prepare: (query: string) => (seen.push(query), d1.prepare(query)) });
}

describe('literalParams', () => {
  it('writes LIMIT values and integer 0s and 1s in, and keeps OFFSET and every other value bound', () => {
    expect(literalParams({ sql: 'select * from t where a = ? order by b limit ? offset ?', params: ['x', 20, 40] })).toEqual({
      sql: 'select * from t where a = +? order by b limit 20 offset ?',
      params: ['x', 40],
    });
    expect(literalParams({ sql: 'update t set done = ?, n = ? where flag = ? and k = ? and d = ?', params: [true, 7, 0, 1, false] })).toEqual({
      sql: 'update t set done = 1, n = +? where flag = 0 and k = 1 and d = 0',
      params: [7],
    });
    expect(literalParams({ sql: 'select * from (select id from t where a = ? limit ?) union all select id from u LIMIT ?', params: ['x', 1, 3] })).toEqual({
      sql: 'select * from (select id from t where a = +? limit 1) union all select id from u LIMIT 3',
      params: ['x'],
    });
    // Only equalities: ranges, inequalities and IN lists keep a bare parameter.
    expect(literalParams({ sql: 'select * from t where a=? and b <= ? and c >= ? and d != ? and e == ? and f in (?, ?) and g < ?', params: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] })).toEqual({
      sql: 'select * from t where a=+? and b <= ? and c >= ? and d != ? and e == ? and f in (?, ?) and g < ?',
      params: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'],
    });
  });

  it('leaves quoted text, comments, look-alike names and other values alone', () => {
    const quoted = { sql: `select 'limit ?', "x?" from t where c > ? and my_limit > ? -- limit ?\n limit ?`, params: ['y', 5, 2] };
    expect(literalParams(quoted)).toEqual({ sql: `select 'limit ?', "x?" from t where c > ? and my_limit > ? -- limit ?\n limit 2`, params: ['y', 5] });
    for (const value of ['3', '1', 1.5, null, Number.MAX_SAFE_INTEGER + 2]) {
      const q = { sql: 'select 1 limit ?', params: [value] };
      expect(literalParams(q)).toEqual(q);
    }
    // Numbered parameters are not drizzle's: such a statement is left as it is.
    const numbered = { sql: 'select ?1 limit ?2', params: [1, 5] };
    expect(literalParams(numbered)).toBe(numbered);
    const none = { sql: 'select * from t where a > ?', params: [7] };
    expect(literalParams(none)).toBe(none);
  });

  it('reaches D1 for drizzle queries with the LIMIT written in, and they answer the same', async () => {
    const account = await makeAccount();
    const ids = await insertTasks(account, [{ priority: 1 }, { priority: 2 }, { priority: 3 }, { priority: 4 }]);
    const seen: string[] = [];
    const db = drizzle(withLiteralParams(recording(env.DB, seen)));
    const page = await db.select({ id: tasks.id }).from(tasks).where(eq(tasks.accountId, account.accountId)).orderBy(tasks.priority).limit(2).offset(2);
    expect(page.map((r) => r.id)).toEqual(ids.slice(2, 4));
    expect(seen.at(-1)).toMatch(/ limit 2 offset \?$/);
    const open = await db.select({ id: tasks.id }).from(tasks).where(and(eq(tasks.accountId, account.accountId), eq(tasks.completed, false))).orderBy(tasks.priority);
    expect(open.map((r) => r.id)).toEqual(ids);
    expect(seen.at(-1)).toContain('"tasks"."completed" = 0');
    expect(seen.at(-1)).toContain('"tasks"."account_id" = +?');
    const one = await db.select({ id: tasks.id }).from(tasks).where(eq(tasks.id, ids[0]!)).limit(1).get();
    expect(one?.id).toBe(ids[0]);
    expect(seen.at(-1)).toMatch(/ limit 1$/);
  });
});

describe('a claim queue batch', () => {
  it('runs a statement several jobs lead with once, and gives each job every one of its results', () => {
    const sweep = { sql: 'update runs set x = 1 where account_id = ?', params: ['acc'] };
    const otherMoment = { sql: sweep.sql, params: ['acc2'] };
    const claim = (n: number) => ({ sql: 'update tasks set n = ?', params: [n] });
    const job = (shared: number) => ({ build: () => [], shared, resolve: () => undefined, reject: () => undefined });
    const { statements, slots } = shareLeading([
      { job: job(0), queries: [sweep, claim(0)] },
      { job: job(1), queries: [sweep, claim(1)] },
      { job: job(1), queries: [sweep, claim(2)] },
      { job: job(1), queries: [otherMoment, claim(3)] },
    ]);
    // The first job does not share: its sweep is its own; the next two share one.
    expect(statements).toEqual([sweep, claim(0), sweep, claim(1), claim(2), otherMoment, claim(3)]);
    expect(slots).toEqual([[0, 1], [2, 3], [2, 4], [5, 6]]);
  });
});
