/**
 * Values SQLite plans with, kept out of its reach. SQLite (3.4x on; the local runtime runs
 * 3.54, D1 a recent release) reads some bound values while planning and marks those
 * parameters so that binding them anew prepares the statement again:
 * - a LIMIT's value, and an integer 0 or 1 compared with a column: written into the SQL as
 *   literals (integers this code produced, never client text; a statement gets at most a few
 *   texts, one per LIMIT value and per pattern of 0s and 1s);
 * - the value of an equality `col = ?` the planner only estimates (it reads the value for its
 *   guess at how selective the term is). The mark is meant to matter only for 0 and 1, but
 *   `sqlite3_clear_bindings` expires the statement on any marked parameter, and the SQL engine
 *   under D1 evidently clears bindings between runs (the local runtime prepared such statements
 *   again on every run; SQLite 3.54 with `sqlite3_clear_bindings` does the same, without it
 *   not). Such values are written `+?`: unary plus changes no value, no affinity and no index
 *   choice, and hides the value from the guess.
 * Without this, the claiming UPDATE and every listing were parsed and planned afresh on every
 * run (about a millisecond for the claim). OFFSET and all other values stay bound as they are.
 *
 * `withLiteralParams` wraps a D1 binding so every statement prepared through it gets this;
 * `literalParams` does it to one statement.
 */
import type { RawQuery } from './sql-batch';
import { withOverrides } from '../platform/with-overrides';

/** A statement's text cut at its `?` parameters, and which of them are a LIMIT's value or an equality's. */
interface Placeholders {
  parts: string[];
  isLimit: boolean[];
  isEquality: boolean[];
}

const placeholdersBySql = new Map<string, Placeholders | null>();
const MAX_REMEMBERED = 1000;

/** Finds the `?` parameters outside quoted text and comments; null when there is none. */
function placeholdersOf(sql: string): Placeholders | null {
  const known = placeholdersBySql.get(sql);
  if (known !== undefined) return known;
  let found: Placeholders | null = null;
  if (sql.includes('?')) {
    found = { parts: [], isLimit: [], isEquality: [] };
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
        found.isEquality.push(/(^|[^<>!=])=\s*$/.test(before));
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

/** The statement with LIMIT values and integer 0s and 1s written in, and equalities' values as `+?`. */
export function literalParams(query: RawQuery): RawQuery {
  const found = placeholdersOf(query.sql);
  if (!found || found.isLimit.length !== query.params.length) return query;
  let sql = found.parts[0]!;
  const params: unknown[] = [];
  let changed = false;
  query.params.forEach((value, i) => {
    const literal = literalFor(value, found.isLimit[i]!);
    if (literal !== null) {
      sql += literal;
      changed = true;
    } else {
      sql += found.isEquality[i] ? '+?' : '?';
      changed ||= found.isEquality[i]!;
      params.push(value);
    }
    sql += found.parts[i + 1]!;
  });
  return changed ? { sql, params } : query;
}

/** The binding, with literalParams applied to every statement prepared through it. */
export function withLiteralParams(d1: D1Database): D1Database {
  return withOverrides(d1, {
    prepare: (sql: string) => {
      const statement = d1.prepare(sql);
      if (!placeholdersOf(sql)) return statement;
      return withOverrides(statement, {
        bind: (...params: unknown[]) => {
          const q = literalParams({ sql, params });
          return d1.prepare(q.sql).bind(...q.params);
        },
      });
    },
  });
}
