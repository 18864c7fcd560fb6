/**
 * Values SQLite plans with, written into the SQL text. SQLite (3.4x and later; D1 and the local
 * simulator run 3.54) reads some bound values while planning and marks the statement to be
 * prepared again when they are bound anew: a LIMIT's value, and an integer 0 or 1 compared with
 * a column (its guess at how selective the term is). So a cached statement with such a
 * parameter was parsed and planned afresh on every run; the claiming UPDATE (a LIMIT and three
 * `completed = 0`) spent about a millisecond on that alone. Written in as literals (integers
 * this code produced, never client text) they leave the statement cached; a statement gets at
 * most a few texts (one per LIMIT value and per pattern of 0s and 1s). Other values stay bound.
 *
 * `withLiteralParams` wraps a D1 binding so every statement prepared through it gets this;
 * `literalParams` does it to one statement.
 */
import type { RawQuery } from '../domain/sql-batch';

/** A statement's text cut at its `?` parameters, and which of them are a LIMIT's value. */
interface Placeholders {
  parts: string[];
  isLimit: boolean[];
}

const placeholdersBySql = new Map<string, Placeholders | null>();
const MAX_REMEMBERED = 1000;

/** Finds the `?` parameters outside quoted text and comments; null when there is none. */
function placeholdersOf(sql: string): Placeholders | null {
  const known = placeholdersBySql.get(sql);
  if (known !== undefined) return known;
  let found: Placeholders | null = null;
  if (sql.includes('?')) {
    found = { parts: [], isLimit: [] };
    let from = 0;
    for (let i = 0; i < sql.length; i++) {
      const ch = sql[i];
      if (ch === "'" || ch === '"' || ch === '`') {
        const end = sql.indexOf(ch, i + 1);
        i = end === -1 ? sql.length : end;
      } else if (ch === '-' && sql[i + 1] === '-') {
        const end = sql.indexOf('\n', i);
        i = end === -1 ? sql.length : end;
      } else if (ch === '/' && sql[i + 1] === '*') {
        const end = sql.indexOf('*/', i + 2);
        i = end === -1 ? sql.length : end + 1;
      } else if (ch === '?') {
        // Numbered parameters (?NNN) are not what drizzle writes: leave such a statement alone.
        if (/\d/.test(sql[i + 1] ?? '')) return remember(sql, null);
        const before = sql.slice(from, i);
        found.parts.push(before);
        found.isLimit.push(/(^|[^\w$])limit\s*$/i.test(before));
        from = i + 1;
      }
    }
    found.parts.push(sql.slice(from));
    if (found.isLimit.length === 0) found = null;
  }
  return remember(sql, found);
}

function remember(sql: string, found: Placeholders | null): Placeholders | null {
  if (placeholdersBySql.size >= MAX_REMEMBERED) placeholdersBySql.clear();
  placeholdersBySql.set(sql, found);
  return found;
}

/** The literal to write for a value at a parameter, or null to keep it bound. */
function literalFor(value: unknown, isLimit: boolean): string | null {
  if (value === true) return '1';
  if (value === false) return '0';
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) return null;
  return isLimit || value === 0 || value === 1 ? String(value) : null;
}

/** The statement with LIMIT values and integer 0s and 1s written in. */
export function literalParams(query: RawQuery): RawQuery {
  const found = placeholdersOf(query.sql);
  if (!found || found.isLimit.length !== query.params.length) return query;
  const literals = query.params.map((value, i) => literalFor(value, found.isLimit[i]!));
  if (literals.every((l) => l === null)) return query;
  let sql = found.parts[0]!;
  const params: unknown[] = [];
  literals.forEach((literal, i) => {
    if (literal === null) {
      sql += '?';
      params.push(query.params[i]);
    } else {
      sql += literal;
    }
    sql += found.parts[i + 1]!;
  });
  return { sql, params };
}

/** The binding, with literalParams applied to every statement prepared through it. */
export function withLiteralParams(d1: D1Database): D1Database {
  const prepare = (sql: string): D1PreparedStatement => {
    const statement = d1.prepare(sql);
    if (!placeholdersOf(sql)) return statement;
    return new Proxy(statement, {
      get(target, prop) {
        if (prop === 'bind') {
          return (...params: unknown[]) => {
            const q = literalParams({ sql, params });
            return d1.prepare(q.sql).bind(...q.params);
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  return new Proxy(d1, {
    get(target, prop) {
      if (prop === 'prepare') return prepare;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
