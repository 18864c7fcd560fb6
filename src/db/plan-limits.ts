/**
 * Plan limits on how many rows an account may have (agents, projects, webhooks), checked by the
 * INSERT itself: `INSERT ... SELECT <values> WHERE (SELECT count(*) ...) < max`. D1 runs each
 * statement alone, so parallel creates at the limit cannot all pass a count read beforehand.
 */
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import { ApiError, type ErrorCode } from '../platform/errors';

/** The guarded insert of `row` into `table`, if fewer than `max` rows of the account exist; answers `inserted` once if it happened. */
export function insertUnderLimit<T extends SQLiteTable & { accountId: unknown }>(
  table: T,
  { row, accountId, max }: { row: T['$inferInsert']; accountId: string; max: number },
): SQL {
  const entries = Object.entries(getTableColumns(table)).filter(([key]) => (row as Record<string, unknown>)[key] !== undefined);
  const names = sql.join(
    entries.map(([, c]) => sql.identifier(c.name)),
    sql`, `,
  );
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

const LIMIT_CODES = {
  agents: 'AGENT_LIMIT_REACHED',
  projects: 'PROJECT_LIMIT_REACHED',
  webhooks: 'WEBHOOK_LIMIT_REACHED',
} as const satisfies Record<string, ErrorCode>;

export const limitReached = (what: keyof typeof LIMIT_CODES, max: number) =>
  new ApiError({ status: 403, code: LIMIT_CODES[what], message: `This account already has ${max} ${what}, the most its plan allows` });
