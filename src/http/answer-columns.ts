/**
 * A resource's answer derived from its drizzle table: every column not hidden shows under its
 * SQL name, typed as drizzle-zod derives it, so a new column reaches the answer, its zod schema
 * and the OpenAPI document from `db/schema.ts` alone. Per column, only what the table cannot say
 * is given: a description or example. Columns named `*_at` are timestamps.
 */
import { z } from '@hono/zod-openapi';
import { getTableColumns, type Column, type Table } from 'drizzle-orm';
import { createSchemaFactory } from 'drizzle-zod';
import { timestamp } from './schemas';

const { createSelectSchema } = createSchemaFactory({ zodInstance: z });

/** `createdByAgentId` -> `created_by_agent_id`: drizzle keys against their SQL names (a test checks they agree). */
export type SnakeCase<S extends string> = S extends `${infer C}${infer Rest}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${SnakeCase<Rest>}`
  : S;

type Row<T extends Table> = T['$inferSelect'];
type Shown<T extends Table, H extends keyof Row<T>> = Exclude<keyof Row<T>, H> & string;
export type ColumnsJson<T extends Table, H extends keyof Row<T>> = { [K in Shown<T, H> as SnakeCase<K>]: Row<T>[K] };

export interface AnswerColumns<T extends Table, H extends keyof Row<T>> {
  /** The zod shape of the shown columns, by SQL name. */
  shape: { [K in Shown<T, H> as SnakeCase<K>]: z.ZodType<Row<T>[K]> };
  /** The shown columns of a row, by SQL name. */
  json: (row: Pick<Row<T>, Shown<T, H>>) => ColumnsJson<T, H>;
}

export function answerColumns<T extends Table, H extends keyof Row<T>>(
  table: T,
  options: {
    /** Columns the answer never shows (or shows under a name and type of the resource's own). */
    hide: readonly H[];
    /** OpenAPI metadata of a column, by its drizzle key. */
    describe?: Partial<Record<Shown<T, H>, { description?: string; example?: unknown }>>;
    /**
     * Shown columns written out as one object literal, for answers built by the hundred (a task
     * page). Columns it leaves out are still copied by name after it, so a new column needs
     * nothing here. Why: bench/RESULTS.md ("Instructions per request").
     */
    written?: (row: Pick<Row<T>, Shown<T, H>>) => Partial<ColumnsJson<T, H>>;
  },
): AnswerColumns<T, H> {
  const hidden = new Set<string>(options.hide as readonly string[]);
  const derived = createSelectSchema(table).shape as Record<string, z.ZodType>;
  const describe = (options.describe ?? {}) as Record<string, { description?: string; example?: unknown }>;
  const entries = Object.entries(getTableColumns(table) as Record<string, Column>).filter(([key]) => !hidden.has(key));
  const shape: Record<string, z.ZodType> = {};
  for (const [key, column] of entries) {
    let schema = columnSchema(column, derived[key]!);
    if (describe[key]) schema = schema.openapi(describe[key]);
    shape[column.name] = schema;
  }
  const written = options.written as ((row: Record<string, unknown>) => Record<string, unknown>) | undefined;
  // The literal's names, read once from a row whose every column is null.
  const writtenNames = new Set(written ? Object.keys(written(Object.fromEntries(entries.map(([key]) => [key, null])))) : []);
  const notShown = [...writtenNames].filter((name) => !(name in shape));
  if (notShown.length > 0) throw new Error(`written names columns the answer does not show: ${notShown.join(', ')}`);
  const copied = entries.filter(([, column]) => !writtenNames.has(column.name));
  const names = copied.map(([, column]) => column.name);
  const keys = copied.map(([key]) => key);
  const json = (row: Record<string, unknown>) => {
    const out: Record<string, unknown> = written ? written(row) : {};
    for (let i = 0; i < keys.length; i++) out[names[i]!] = row[keys[i]!];
    return out;
  };
  return { shape, json } as unknown as AnswerColumns<T, H>;
}

/** drizzle-zod's schema, answer-side: integers without its safe-integer bounds, `*_at` as timestamps. */
function columnSchema(column: Column, derived: z.ZodType): z.ZodType {
  const nullable = !column.notNull;
  let base: z.ZodType | null = null;
  if (column.name.endsWith('_at') && column.dataType === 'string') base = timestamp;
  else if (column.columnType === 'SQLiteInteger') base = z.number().int();
  if (base === null) return derived;
  return nullable ? base.nullable() : base;
}
