import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';

/**
 * Queries are written with the query builder only, so the client carries no relational schema:
 * building that config (drizzle walks every table and relation) cost more per request than
 * most queries. One client per D1 binding object, made once per isolate. `$client` is the
 * binding itself, for raw batches.
 */
export type Db = DrizzleD1Database & { $client: D1Database };

const clients = new WeakMap<D1Database, Db>();

export function database(d1: D1Database): Db {
  let db = clients.get(d1);
  if (!db) {
    db = drizzle(d1);
    clients.set(d1, db);
  }
  return db;
}
