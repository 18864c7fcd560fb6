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
  /** Statements sent (a batch counts each of its statements). */
  statements?: number;
  /** Sum of D1's `meta.rows_read` over the counted calls (tests use it to prove index use). */
  rowsRead?: number;
  /** Sum of `meta.rows_written`: with statements, the capacity model's inputs. */
  rowsWritten?: number;
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
  const counted =
    <R>(run: () => Promise<R>) =>
    async (): Promise<R> => {
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
      first: ((column?: string) =>
        counted(() => (column === undefined ? stmt.first() : stmt.first(column)))()) as D1PreparedStatement['first'],
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
    // A session (db/session.ts) is counted like the binding it came from.
    withSession: (constraint?: string) =>
      countingD1(db.withSession(constraint) as unknown as D1Database, counter) as unknown as D1DatabaseSession,
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

/**
 * Every D1 call this isolate made since it started (the Worker and the Durable Objects it runs),
 * by who made it, when D1_METRICS is "1": the benchmark reads it at `GET /__d1-metrics` to
 * count statements per task and to show that an idle fleet makes none.
 */
export const isolateD1Tally: Record<string, RoundTripCounter> = {};
const tallied = new WeakMap<D1Database, Map<string, D1Database>>();

/** `env` with its D1 binding counted under `source` in `isolateD1Tally` (unchanged without D1_METRICS=1). */
export function meteredEnv<E extends { DB: D1Database; D1_METRICS?: string }>(env: E, source: string): E {
  if (env.D1_METRICS !== '1') return env;
  let bySource = tallied.get(env.DB);
  if (!bySource) tallied.set(env.DB, (bySource = new Map()));
  let db = bySource.get(source);
  if (!db) bySource.set(source, (db = tallyingD1(env.DB, (isolateD1Tally[source] ??= { count: 0, statements: 0 }))));
  return { ...env, DB: db };
}

/** Counts calls and statements only, leaving every answer exactly as D1 gave it (raw() included). */
function tallyingD1(db: D1Database, counter: RoundTripCounter): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();
  const once = () => {
    counter.count++;
    counter.statements = (counter.statements ?? 0) + 1;
  };
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = withOverrides(stmt, {
      bind: (...values: unknown[]) => wrap(stmt.bind(...values)),
      all: <T>() => (once(), stmt.all<T>()),
      run: <T>() => (once(), stmt.run<T>()),
      first: ((column?: string) => (once(), column === undefined ? stmt.first() : stmt.first(column))) as D1PreparedStatement['first'],
      raw: ((options?: { columnNames?: boolean }) => (
        once(), options?.columnNames ? stmt.raw({ columnNames: true }) : stmt.raw()
      )) as D1PreparedStatement['raw'],
    });
    originals.set(proxy, stmt);
    return proxy;
  };
  return withOverrides(db, {
    prepare: (query: string) => wrap(db.prepare(query)),
    withSession: (constraint?: string) =>
      tallyingD1(db.withSession(constraint) as unknown as D1Database, counter) as unknown as D1DatabaseSession,
    batch: <T>(stmts: D1PreparedStatement[]) => {
      counter.count++;
      counter.statements = (counter.statements ?? 0) + stmts.length;
      return db.batch<T>(stmts.map((s) => originals.get(s) ?? s));
    },
    exec: (query: string) => {
      counter.count++;
      return db.exec(query);
    },
  });
}
