/**
 * Counts D1 round trips of one request (a statement run outside a batch, or one batch).
 * Enabled only when the `D1_METRICS` var is "1" (the benchmark sets it) and the request sends
 * `X-D1-Metrics: 1`; the count is answered in the `X-D1-Round-Trips` header. Work done inside Durable Objects is not counted here.
 * It wraps whatever D1 binding the request uses, its D1 session included (db/session.ts).
 */
import type { HopMeter } from './hops';
import { withOverrides } from './with-overrides';

export interface RoundTripCounter {
  count: number;
  /** Sum of D1's `meta.rows_read` over the counted calls (tests use it to prove index use). */
  rowsRead?: number;
  /** Sum of `meta.rows_written`, and the statements run (each of a batch counts): the capacity model's inputs. */
  rowsWritten?: number;
  statements?: number;
  /** Each round trip is also a remote hop of the request (platform/hops.ts). */
  hops?: HopMeter;
}

export function addStatementCosts(counter: Pick<RoundTripCounter, 'rowsRead' | 'rowsWritten' | 'statements'>, result: unknown): void {
  const results = Array.isArray(result) ? result : [result];
  for (const r of results) {
    const meta = (r as { meta?: { rows_read?: number; rows_written?: number } } | null)?.meta;
    counter.statements = (counter.statements ?? 0) + 1;
    if (typeof meta?.rows_read === 'number') counter.rowsRead = (counter.rowsRead ?? 0) + meta.rows_read;
    if (typeof meta?.rows_written === 'number') counter.rowsWritten = (counter.rowsWritten ?? 0) + meta.rows_written;
  }
}

export function countingD1(db: D1Database, counter: RoundTripCounter): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();
  const counted = <R>(run: () => Promise<R>) => async (): Promise<R> => {
    counter.count++;
    const result = counter.hops ? await counter.hops.hop(run) : await run();
    addStatementCosts(counter, result);
    return result;
  };
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = withOverrides(stmt, {
      bind: (...values: unknown[]) => wrap(stmt.bind(...values)),
      all: <T>() => counted(() => stmt.all<T>())(),
      run: <T>() => counted(() => stmt.run<T>())(),
      first: ((column?: string) => counted(() => (column === undefined ? stmt.first() : stmt.first(column)))()) as D1PreparedStatement['first'],
      // raw() answers no meta, so the counter runs all() and hands back the same arrays
      // (column order; fine for the distinct column names our queries select).
      raw: (async (options?: { columnNames?: boolean }) => {
        const result = await counted(() => stmt.all<Record<string, unknown>>())();
        const rows = result.results.map((row) => Object.values(row));
        return options?.columnNames ? [Object.keys(result.results[0] ?? {}), ...rows] : rows;
      }) as D1PreparedStatement['raw'],
    });
    originals.set(proxy, stmt);
    return proxy;
  };
  return withOverrides(db, {
    prepare: (query: string) => wrap(db.prepare(query)),
    batch: async <T>(stmts: D1PreparedStatement[]) => {
      counter.count++;
      const send = () => db.batch<T>(stmts.map((s) => originals.get(s) ?? s));
      const results = counter.hops ? await counter.hops.hop(send) : await send();
      addStatementCosts(counter, results);
      return results;
    },
    exec: (query: string) => {
      counter.count++;
      return db.exec(query);
    },
  });
}
