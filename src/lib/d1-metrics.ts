/**
 * Counts D1 round trips of one request (a statement run outside a batch, or one batch).
 * Enabled only when the `D1_METRICS` var is "1" (the benchmark sets it) and the request sends
 * `X-D1-Metrics: 1`; the count is answered in the `X-D1-Round-Trips` header. Work done inside Durable Objects is not counted here.
 */
const RUNNERS = new Set(['all', 'raw', 'run', 'first']);

export interface RoundTripCounter {
  count: number;
}

export function countingD1(db: D1Database, counter: RoundTripCounter): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        if (prop === 'bind') return (...args: unknown[]) => wrap((value as (...a: unknown[]) => D1PreparedStatement).apply(target, args));
        if (typeof prop === 'string' && RUNNERS.has(prop)) {
          return (...args: unknown[]) => {
            counter.count++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
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
        return (stmts: D1PreparedStatement[]) => {
          counter.count++;
          return target.batch(stmts.map((s) => originals.get(s) ?? s));
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
