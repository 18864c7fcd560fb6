/**
 * Every LIMIT in src/ is written into the SQL text with `writtenLimit` (db/written-limit.ts): SQLite
 * prepares a statement with a bound LIMIT again at every run, so one plain `.limit(n)` on a hot
 * path costs a parse and a plan per request, and nothing else would show it.
 */
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './source-files';

const ROOT = resolve(import.meta.dirname, '../..');

/** `.limit(` calls and `limit ${` template slots whose value is not given through writtenLimit. */
function boundLimits(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/\.limit\(\s*(?!writtenLimit\()([^)]*)/g)) found.push(`.limit(${m[1]}`);
  for (const m of text.matchAll(/\blimit \$\{(?!writtenLimit\()([^}]*)/gi)) found.push(`limit \${${m[1]}`);
  return found;
}

describe('LIMITs are written in, never bound', () => {
  it('finds a bound LIMIT in the shapes it looks for', () => {
    expect(boundLimits('db.select().from(t).limit(page.limit)')).toEqual(['.limit(page.limit']);
    expect(boundLimits('sql`select 1 limit ${rows}`')).toEqual(['limit ${rows']);
    expect(boundLimits('db.select().from(t).limit(writtenLimit(page.limit))')).toEqual([]);
    expect(boundLimits('sql`select 1 limit ${writtenLimit(rows)}`')).toEqual([]);
  });

  it('no file in src/ binds a LIMIT', () => {
    const offenders = sourceFiles(join(ROOT, 'src')).flatMap((file) =>
      boundLimits(readFileSync(file, 'utf8')).map((found) => `${relative(ROOT, file)}: ${found}`),
    );
    expect(offenders).toEqual([]);
  });
});
