/**
 * One D1 batch (one round trip, one transaction) of statements written as drizzle `sql`
 * fragments or query builders. Drizzle's own `db.batch` cannot carry raw `sql` statements with
 * parameters, and the guarded writes here need raw SQL (INSERT ... SELECT ... WHERE, json_patch).
 * Rows come back as D1 gives them: column names, driver values.
 */
import type { SQL, SQLWrapper } from 'drizzle-orm';
import { SQLiteAsyncDialect } from 'drizzle-orm/sqlite-core';
import type { Db } from './client';

const dialect = new SQLiteAsyncDialect();

export type RawRow = Record<string, unknown>;

/** A statement as D1 takes it. */
export interface RawQuery {
  sql: string;
  params: unknown[];
}

/** A drizzle statement as SQL text and parameters, as D1 takes them. */
export function toRawQuery(s: SQL | SQLWrapper): RawQuery {
  return dialect.sqlToQuery('getSQL' in s ? s.getSQL() : (s as SQL));
}

export async function sqlBatch(db: Db, statements: (SQL | SQLWrapper)[]): Promise<RawRow[][]> {
  const client = db.$client;
  const prepared = statements.map((s) => {
    const query = toRawQuery(s);
    return client.prepare(query.sql).bind(...query.params);
  });
  const results = await client.batch<RawRow>(prepared);
  return results.map((r) => r.results ?? []);
}
