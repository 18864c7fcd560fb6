import { is, SQL, sql } from 'drizzle-orm';

/**
 * A LIMIT written into the SQL text instead of bound. SQLite plans a bound LIMIT by its value, so
 * it marks the statement to be prepared again whenever the value is bound, which is every run: the
 * task listing's statement was parsed and planned again on every request (0.5 M of the runtime's
 * 16 M instructions a request; bench/RESULTS.md, "Instructions per request"). Typed as a number
 * for drizzle's query builder; an SQL expression (a search arm's computed limit) passes through.
 */
export function writtenLimit(n: number | SQL): number {
  if (is(n, SQL)) return n as unknown as number;
  if (!Number.isSafeInteger(n) || (n as number) < 0) throw new Error(`a LIMIT must be a whole number, not ${String(n)}`);
  return sql.raw(String(n)) as unknown as number;
}
