/**
 * A task field is one column in src/db/schema.ts and one generated migration, labelled_tasks
 * included: `npm run db:generate` (scripts/db-generate.ts) runs on a copy of migrations/ with a
 * schema holding one task column more, then one less again. After each, a fresh SQLite that applies
 * every migration has the column in labelled_tasks exactly when tasks has it, and its triggers copy
 * it on insert, in-place update and relabel. A column added by plain drizzle-kit is refused until a
 * `--custom` migration brings the copy in line.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { labelledTasksDrift } from '../../scripts/db-generate.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SCHEMA = readFileSync(join(ROOT, 'src/db/schema.ts'), 'utf8');
const ANCHOR = "    sourceIngressId: text('source_ingress_id'),\n";
const EXISTING = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql'));
const next = (n: number) => String(EXISTING.length + n).padStart(4, '0');

const dir = mkdtempSync(join(tmpdir(), 'delega-field-'));
cpSync(join(ROOT, 'migrations'), join(dir, 'migrations'), { recursive: true });
symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
writeFileSync(
  join(dir, 'drizzle.config.mjs'),
  `export default ${JSON.stringify({ dialect: 'sqlite', schema: './schema.ts', out: './migrations' })};\n`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `npm run db:generate`'s script, or plain drizzle-kit (`plain`), on the temp copy. */
function run(schema: string, args: string[], plain = false) {
  writeFileSync(join(dir, 'schema.ts'), schema);
  const command = plain ? [join(ROOT, 'node_modules/drizzle-kit/bin.cjs'), 'generate'] : [join(ROOT, 'scripts/db-generate.ts')];
  const done = spawnSync(process.execPath, [...command, '--config', 'drizzle.config.mjs', ...args], { cwd: dir, encoding: 'utf8' });
  return { status: done.status, output: `${done.stdout}${done.stderr}` };
}

function generate(schema: string, name: string, args: string[] = []): string {
  const done = run(schema, [...args, '--name', name]);
  expect(done.status, done.output).toBe(0);
  const file = readdirSync(join(dir, 'migrations'))
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .at(-1);
  expect(file).toMatch(new RegExp(`^\\d{4}_${name}\\.sql$`));
  return readFileSync(join(dir, 'migrations', file!), 'utf8');
}

function migrated(): DatabaseSync {
  const db = new DatabaseSync(':memory:');
  const files = readdirSync(join(dir, 'migrations'))
    .filter((f) => f.endsWith('.sql'))
    .sort();
  for (const f of files) db.exec(readFileSync(join(dir, 'migrations', f), 'utf8'));
  return db;
}

const taskColumns = (db: DatabaseSync) =>
  (db.prepare(`SELECT name FROM pragma_table_info('tasks') ORDER BY cid`).all() as { name: string }[]).map((r) => r.name);
const copyColumns = (db: DatabaseSync) =>
  (db.prepare(`SELECT name FROM pragma_table_info('labelled_tasks')`).all() as { name: string }[]).map((r) => r.name);

function seedTask(db: DatabaseSync, extra: Record<string, string> = {}): void {
  db.exec(
    `INSERT INTO accounts (id, status, created_at, updated_at) VALUES ('acc_1', 'active', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`,
  );
  const cols = [
    'id',
    'account_id',
    'root_task_id',
    'content',
    'labels',
    'created_by_agent_id',
    'created_at',
    'updated_at',
    ...Object.keys(extra),
  ];
  const values = [
    'tsk_1',
    'acc_1',
    'tsk_1',
    'Ship it',
    '["a","b"]',
    'agt_1',
    '2026-01-01T00:00:00Z',
    '2026-01-01T00:00:00Z',
    ...Object.values(extra),
  ];
  db.prepare(`INSERT INTO tasks (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...values);
}

describe('a task field through `npm run db:generate`', () => {
  // The declared table order (what the triggers list), the added column last before the timestamps.
  const withProbe = SCHEMA.replace(ANCHOR, `${ANCHOR}    probeNote: text('probe_note').notNull().default('none'),\n`);

  it('a column added to tasks: the one generated migration adds it to labelled_tasks and its triggers copy it', () => {
    expect(withProbe).not.toBe(SCHEMA);
    const sql = generate(withProbe, 'probe_note');
    expect(sql).toContain("ALTER TABLE `tasks` ADD `probe_note` text DEFAULT 'none' NOT NULL;");
    expect(sql).toContain("ALTER TABLE `labelled_tasks` ADD `probe_note` text DEFAULT 'none' NOT NULL;");
    expect(readdirSync(join(dir, 'migrations')).filter((f) => f.endsWith('.sql'))).toHaveLength(EXISTING.length + 1);
    expect(readdirSync(join(dir, 'migrations'))).toContain(`${next(0)}_probe_note.sql`);

    const db = migrated();
    const names = taskColumns(db);
    expect(names).toContain('probe_note');
    expect(copyColumns(db)).toContain('probe_note');
    expect(labelledTasksDrift(db, declaredColumns())).toEqual([]);

    seedTask(db, { probe_note: 'first' });
    const copies = () =>
      db
        .prepare(`SELECT label, probe_note FROM labelled_tasks WHERE id = 'tsk_1' ORDER BY label`)
        .all()
        .map((r) => ({ ...r }));
    expect(copies()).toEqual([
      { label: 'a', probe_note: 'first' },
      { label: 'b', probe_note: 'first' },
    ]);
    db.exec(`UPDATE tasks SET probe_note = 'second' WHERE id = 'tsk_1'`);
    expect(copies()).toEqual([
      { label: 'a', probe_note: 'second' },
      { label: 'b', probe_note: 'second' },
    ]);
    db.exec(`UPDATE tasks SET labels = '["c"]' WHERE id = 'tsk_1'`);
    expect(copies()).toEqual([{ label: 'c', probe_note: 'second' }]);
    db.close();
  });

  it('the column taken off again: the next migration drops the triggers before the column, then recreates them', () => {
    const sql = generate(SCHEMA, 'drop_probe_note');
    const dropTrigger = sql.indexOf('DROP TRIGGER IF EXISTS `labelled_tasks_after_insert`');
    expect(dropTrigger).toBeGreaterThanOrEqual(0);
    expect(sql.indexOf('ALTER TABLE `tasks` DROP COLUMN `probe_note`')).toBeGreaterThan(dropTrigger);
    expect(sql).toContain('ALTER TABLE `labelled_tasks` DROP COLUMN `probe_note`;');

    const db = migrated();
    expect(taskColumns(db)).not.toContain('probe_note');
    expect(copyColumns(db)).not.toContain('probe_note');
    expect(labelledTasksDrift(db, declaredColumns())).toEqual([]);
    seedTask(db);
    expect(db.prepare(`SELECT count(*) AS n FROM labelled_tasks WHERE id = 'tsk_1'`).get()).toEqual({ n: 2 });
    db.close();
  });

  it('the control: an unchanged schema generates nothing, and the drift check sees a missing copy column', () => {
    const before = readdirSync(join(dir, 'migrations')).length;
    const done = run(SCHEMA, ['--name', 'nothing']);
    expect(done.status, done.output).toBe(0);
    expect(done.output).toContain('No schema changes');
    expect(readdirSync(join(dir, 'migrations'))).toHaveLength(before);

    const db = migrated();
    db.exec('DROP TRIGGER `labelled_tasks_after_update_moved`; ALTER TABLE `labelled_tasks` DROP COLUMN `handoff_state`');
    expect(labelledTasksDrift(db, declaredColumns())).toEqual([
      expect.stringContaining('labelled_tasks columns'),
      'trigger labelled_tasks_after_update_moved is not the one rendered from the tasks columns',
    ]);
    db.close();
  });

  it('a column added by plain drizzle-kit: db:generate refuses until `--custom` writes the copy its column and triggers', () => {
    const withOther = SCHEMA.replace(ANCHOR, `${ANCHOR}    otherNote: text('other_note'),\n`);
    const plain = run(withOther, ['--name', 'plain_other_note'], true);
    expect(plain.status, plain.output).toBe(0);
    const stale = migrated();
    expect(labelledTasksDrift(stale, declaredColumns())).not.toEqual([]);
    stale.close();

    const refused = run(withOther, ['--name', 'nothing']);
    expect(refused.status).not.toBe(0);
    expect(refused.output).toContain('npm run db:generate -- --custom --name labelled_tasks_columns');

    const sql = generate(withOther, 'labelled_tasks_columns', ['--custom']);
    expect(sql).toContain('ALTER TABLE `labelled_tasks` ADD `other_note` text;');
    const db = migrated();
    expect(labelledTasksDrift(db, declaredColumns())).toEqual([]);
    seedTask(db, { other_note: 'kept' });
    expect(
      db
        .prepare(`SELECT label, other_note FROM labelled_tasks WHERE id = 'tsk_1' ORDER BY label`)
        .all()
        .map((r) => ({ ...r })),
    ).toEqual([
      { label: 'a', other_note: 'kept' },
      { label: 'b', other_note: 'kept' },
    ]);
    db.close();
  });

  // Last: the refused migration stays in the copy.
  it('a change drizzle-kit makes by rebuilding tasks (which drops every trigger on it) is refused, to be written by hand', () => {
    const looser = SCHEMA.replace("    content: text('content').notNull(),\n", "    content: text('content'),\n");
    expect(looser).not.toBe(SCHEMA);
    const done = run(looser, ['--name', 'rebuild']);
    expect(done.status).not.toBe(0);
    expect(done.output).toContain('rebuilds tasks');
  });
});

/** The tasks columns in their declared order, as drizzle-kit's latest snapshot lists them. */
function declaredColumns(): string[] {
  const meta = join(dir, 'migrations', 'meta');
  const latest = readdirSync(meta)
    .filter((f) => f.endsWith('_snapshot.json'))
    .sort()
    .at(-1)!;
  return Object.keys(JSON.parse(readFileSync(join(meta, latest), 'utf8')).tables.tasks.columns);
}
