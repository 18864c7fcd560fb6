import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import { withLiteralParams } from './literal-params';

/**
 * Queries are written with the query builder only, so the client carries no relational schema:
 * building that config (drizzle walks every table and relation) cost more per request than
 * most queries. One client per D1 binding object, made once per isolate. `$client` is the
 * binding as every query reaches it, raw batches included (values SQLite plans with are written
 * into the SQL: see literal-params.ts).
 */
export type Db = DrizzleD1Database & { $client: D1Database };

const clients = new WeakMap<D1Database, Db>();

export function database(d1: D1Database): Db {
  let db = clients.get(d1);
  if (!db) {
    db = drizzle(withLiteralParams(d1));
    clients.set(d1, db);
  }
  return db;
}
