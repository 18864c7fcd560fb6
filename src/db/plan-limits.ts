/**
 * Plan limits on how many rows an account may have (agents, projects, webhooks), checked by the
 * INSERT itself: `INSERT ... SELECT <values> WHERE (SELECT count(*) ...) < max`. D1 runs each
 * statement alone, so parallel creates at the limit cannot all pass a count read beforehand.
 */
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import { ApiError } from '../platform/errors';

/** The guarded insert of `row` into `table`, if fewer than `max` rows of the account exist; answers `inserted` once if it happened. */
export function insertUnderLimit<T extends SQLiteTable & { accountId: unknown }>(table: T, row: T['$inferInsert'], accountId: string, max: number): SQL {
  const entries = Object.entries(getTableColumns(table)).filter(([key]) => (row as Record<string, unknown>)[key] !== undefined);
  const names = sql.join(entries.map(([, c]) => sql.identifier(c.name)), sql`, `);
  const values = sql.join(
    entries.map(([key, c]) => {
      const v = (row as Record<string, unknown>)[key];
      return sql`${v === null ? null : c.mapToDriverValue(v)}`;
    }),
    sql`, `,
  );
  return sql`insert into ${table} (${names}) select ${values}
    where (select count(*) from ${table} where account_id = ${accountId}) < ${max} returning 1 as inserted`;
}

export const limitReached = (what: 'agents' | 'projects' | 'webhooks', max: number) =>
  new ApiError(403, `${what.slice(0, -1).toUpperCase()}_LIMIT_REACHED`, `This account already has ${max} ${what}, the most its plan allows`);
