/**
 * src/db/schema.ts and migrations/ agree: drizzle-kit, run against a copy of migrations/, finds
 * nothing to generate. The hand-written migrations (0001 on: triggers, indexes, a column) are
 * recorded in migrations/meta like generated ones, so the next `drizzle-kit generate` emits only
 * what is new; a column or index changed on one side only fails here.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function generate(schemaFile: string): { output: string; files: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'delega-drizzle-'));
  try {
    cpSync(join(ROOT, 'migrations'), join(dir, 'migrations'), { recursive: true });
    // drizzle-kit reads `out` relative to where it runs.
    writeFileSync(
      join(dir, 'drizzle.config.mjs'),
      `export default ${JSON.stringify({ dialect: 'sqlite', schema: schemaFile, out: './migrations' })};\n`,
    );
    const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'drizzle-kit'), ['generate', '--config', 'drizzle.config.mjs'], {
      cwd: dir,
      encoding: 'utf8',
    });
    return { output: `${run.stdout}${run.stderr}`, files: readdirSync(join(dir, 'migrations')).filter((f) => f.endsWith('.sql')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('migrations and the drizzle schema', () => {
  const migrations = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql'));

  it('drizzle-kit finds no schema change to generate', () => {
    const { output, files } = generate(join(ROOT, 'src/db/schema.ts'));
    expect(output).toContain('No schema changes');
    expect(files.sort()).toEqual(migrations.sort());
  });

  it('and it notices one (the control): a table only the schema has would be generated as the next migration', () => {
    const dir = mkdtempSync(join(tmpdir(), 'delega-schema-'));
    try {
      const schema = join(ROOT, 'src/db/schema.ts');
      const extended = join(dir, 'schema.ts');
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      // The same schema plus one table, imported from the real file so every table stays.
      writeFileSync(
        extended,
        `export * from ${JSON.stringify(schema.replace(/\.ts$/, ''))};\nimport { sqliteTable, text } from 'drizzle-orm/sqlite-core';\nexport const probe = sqliteTable('probe', { id: text('id').primaryKey() });\n`,
      );
      const { files } = generate(extended);
      const next = String(migrations.length).padStart(4, '0');
      expect(files.filter((f) => !migrations.includes(f))).toEqual([expect.stringMatching(new RegExp(`^${next}_`))]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
