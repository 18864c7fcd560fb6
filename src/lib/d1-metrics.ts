/**
 * Counts D1 round trips of one request (a statement run outside a batch, or one batch).
 * Enabled only when the `D1_METRICS` var is "1" (the benchmark sets it) and the request sends
 * `X-D1-Metrics: 1`; the count is answered in the `X-D1-Round-Trips` header. Work done inside Durable Objects is not counted here.
 */
const RUNNERS = new Set(['all', 'raw', 'run', 'first']);

export interface RoundTripCounter {
  count: number;
  /** Sum of D1's `meta.rows_read` over the counted calls (tests use it to prove index use). */
  rowsRead?: number;
}

function addRowsRead(counter: RoundTripCounter, result: unknown): void {
  const results = Array.isArray(result) ? result : [result];
  for (const r of results) {
    const rows = (r as { meta?: { rows_read?: number } } | null)?.meta?.rows_read;
    if (typeof rows === 'number') counter.rowsRead = (counter.rowsRead ?? 0) + rows;
  }
}

export function countingD1(db: D1Database, counter: RoundTripCounter): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        if (prop === 'bind') return (...args: unknown[]) => wrap((value as (...a: unknown[]) => D1PreparedStatement).apply(target, args));
        // raw() answers no meta, so the counter runs all() and hands back the same arrays
        // (column order; fine for the distinct column names our queries select).
        if (prop === 'raw') {
          return async (options?: { columnNames?: boolean }) => {
            counter.count++;
            const result = await target.all<Record<string, unknown>>();
            addRowsRead(counter, result);
            const rows = result.results.map((row) => Object.values(row));
            return options?.columnNames ? [Object.keys(result.results[0] ?? {}), ...rows] : rows;
          };
        }
        if (typeof prop === 'string' && RUNNERS.has(prop)) {
          return async (...args: unknown[]) => {
            counter.count++;
            const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            addRowsRead(counter, result);
            return result;
          };
        }
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
    originals.set(proxy, stmt);
    return proxy;
  };
  return new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop === 'prepare') return (query: string) => wrap(target.prepare(query));
      if (prop === 'batch') {
        return async (stmts: D1PreparedStatement[]) => {
          counter.count++;
          const results = await target.batch(stmts.map((s) => originals.get(s) ?? s));
          addRowsRead(counter, results);
          return results;
        };
      }
      if (prop === 'exec') {
        return (query: string) => {
          counter.count++;
          return target.exec(query);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
