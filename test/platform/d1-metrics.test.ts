import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { database } from '../../src/db/client';
import { accounts } from '../../src/db/schema';
import { countingD1 } from '../../src/platform/d1-metrics';

describe('D1 round-trip counter', () => {
  it('counts one per statement run and one per batch', async () => {
    const counter = { count: 0 };
    const db = database(countingD1(env.DB, counter));
    await db.select().from(accounts).limit(1);
    expect(counter.count).toBe(1);
    await db.batch([db.select().from(accounts).limit(1), db.run(sql`select 1`), db.select({ n: sql`2` }).from(accounts)]);
    expect(counter.count).toBe(2);
    const raw = await countingD1(env.DB, counter).prepare('select ?1 as v').bind(7).first<{ v: number }>();
    expect(raw?.v).toBe(7);
    expect(counter.count).toBe(3);
  });
});
