/** db/written-limit.ts: a LIMIT goes into the SQL text as a whole number, never as a bound value. */
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { database } from '../../src/db/client';
import { tasks } from '../../src/db/schema';
import { writtenLimit } from '../../src/db/written-limit';

describe('writtenLimit', () => {
  const db = database(env.DB);

  it('writes the number into the statement and binds nothing for it', () => {
    const query = db.select({ id: tasks.id }).from(tasks).limit(writtenLimit(7)).offset(3).toSQL();
    expect(query.sql).toMatch(/ limit 7 offset \?$/);
    expect(query.params).toEqual([3]);
  });

  it('a statement with it runs on D1 and reads at most that many rows', async () => {
    const rows = await db.select({ n: sql<number>`value` }).from(sql`json_each('[1,2,3,4,5]')`).limit(writtenLimit(2));
    expect(rows).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('refuses anything but a whole number, so nothing else reaches the SQL text', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, '1; drop table tasks' as unknown as number]) {
      expect(() => writtenLimit(bad), String(bad)).toThrow(/whole number/);
    }
  });

  it('passes an SQL expression through (a search arm computes its limit)', () => {
    const query = db
      .select({ id: tasks.id })
      .from(tasks)
      .limit(writtenLimit(sql`case when ${1} > 0 then ${5} else 0 end`))
      .toSQL();
    expect(query.sql).toMatch(/ limit case when \? > 0 then \? else 0 end$/);
  });
});
