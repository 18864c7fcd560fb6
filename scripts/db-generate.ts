/**
 * `npm run db:generate -- --name <name>`: `drizzle-kit generate` (every argument goes to it); when
 * the migration it wrote changes the task columns, the same migration gets what keeps labelled_tasks
 * a copy of tasks: the copy's triggers dropped first (SQLite refuses to drop a column a trigger
 * names), the same column changes on labelled_tasks, and the triggers created again, rendered from
 * the table's columns (src/db/labelled-tasks.ts). Rendered rather than column-free (`SELECT t.*`)
 * triggers, which would hang on column order and copy the context. Then every migration is applied
 * to an in-memory SQLite and any difference left fails the run; with no new migration it only
 * checks, and says how to repair a copy that plain `drizzle-kit generate` left behind. A migration
 * that rebuilds tasks (which drops all its triggers) is refused: that one is written by hand.
 * Run from the folder whose `./migrations` drizzle-kit writes to (the repository root).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { LABELLED_TASKS_TRIGGERS, NOT_COPIED, labelledTasksTriggerSql } from '../src/db/labelled-tasks.ts';

const ROOT = resolve(import.meta.dirname, '..');
const MIGRATIONS = resolve('migrations');
const BREAK = '--> statement-breakpoint\n';

interface SnapshotColumn {
  name: string;
  type: string;
  notNull: boolean;
  default?: string | number | boolean;
}

const sqlFiles = () =>
  readdirSync(MIGRATIONS)
    .filter((f) => f.endsWith('.sql'))
    .sort();

function migrated(files: string[]): DatabaseSync {
  const db = new DatabaseSync(':memory:');
  for (const f of files) db.exec(readFileSync(join(MIGRATIONS, f), 'utf8'));
  return db;
}

const columnsOf = (db: DatabaseSync, table: string) =>
  db.prepare(`SELECT name, type, "notnull", dflt_value FROM pragma_table_info(?) ORDER BY name`).all(table) as {
    name: string;
    type: string;
    notnull: number;
    dflt_value: string | null;
  }[];

const triggersOf = (db: DatabaseSync) =>
  Object.fromEntries(
    LABELLED_TASKS_TRIGGERS.map((name) => [
      name,
      (db.prepare(`SELECT sql FROM sqlite_master WHERE name = ?`).get(name) as { sql: string } | undefined)?.sql,
    ]),
  );

/** What still differs between tasks and its copy once every migration ran (nothing: empty). */
export function labelledTasksDrift(db: DatabaseSync, taskColumns: readonly string[]): string[] {
  const wanted = columnsOf(db, 'tasks').filter((c) => !NOT_COPIED.includes(c.name));
  const copy = columnsOf(db, 'labelled_tasks').filter((c) => c.name !== 'label');
  const drift: string[] = [];
  if (JSON.stringify(copy) !== JSON.stringify(wanted))
    drift.push(`labelled_tasks columns ${JSON.stringify(copy)} are not tasks' ${JSON.stringify(wanted)}`);
  const triggers = triggersOf(db);
  for (const [name, sql] of Object.entries(labelledTasksTriggerSql(taskColumns))) {
    if (triggers[name] !== sql) drift.push(`trigger ${name} is not the one rendered from the tasks columns`);
  }
  return drift;
}

/** drizzle-kit's snapshot of the schema after the newest migration (the tasks columns in their declared order). */
function latestSnapshot() {
  const meta = join(MIGRATIONS, 'meta');
  const latest = readdirSync(meta)
    .filter((f) => f.endsWith('_snapshot.json'))
    .sort()
    .at(-1)!;
  return JSON.parse(readFileSync(join(meta, latest), 'utf8'));
}

function main(): void {
  const before = new Set(sqlFiles());
  const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'drizzle-kit'), ['generate', ...process.argv.slice(2)], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
  const added = sqlFiles().filter((f) => !before.has(f));
  if (added.length === 0) {
    // Nothing new, but a migration written by plain `drizzle-kit generate` may have left the copy behind.
    const db = migrated(sqlFiles());
    const drift = labelledTasksDrift(db, Object.keys(latestSnapshot().tables.tasks.columns));
    db.close();
    if (drift.length > 0) {
      throw new Error(
        `labelled_tasks differs from tasks:\n${drift.join('\n')}\nrun \`npm run db:generate -- --custom --name labelled_tasks_columns\` to write the migration that brings it in line`,
      );
    }
    return;
  }
  if (added.length > 1) throw new Error(`expected one new migration, found ${added.join(', ')}`);
  const file = added[0]!;
  const snapshot = latestSnapshot();
  const columns = Object.values(snapshot.tables.tasks.columns as Record<string, SnapshotColumn>);
  const names = columns.map((c) => c.name);
  const generated = readFileSync(join(MIGRATIONS, file), 'utf8');
  if (generated.includes('`__new_tasks`')) {
    // A rebuilt table loses every trigger on it (labels, counts, search, copies): too much to guess.
    throw new Error(
      `${file} rebuilds tasks, which drops all its triggers: write the labelled_tasks and other tasks triggers into it by hand`,
    );
  }

  // labelled_tasks as the migrations before this one leave it.
  const previous = migrated([...before].sort());
  const copied = columnsOf(previous, 'labelled_tasks')
    .map((c) => c.name)
    .filter((n) => n !== 'label');
  const triggersBefore = triggersOf(previous);
  previous.close();

  const renames = [...generated.matchAll(/ALTER TABLE `tasks` RENAME COLUMN `([^`]+)` TO `([^`]+)`/g)]
    .map(([, from, to]) => ({ from: from!, to: to! }))
    .filter((r) => copied.includes(r.from));
  const afterRenames = copied.map((n) => renames.find((r) => r.from === n)?.to ?? n);
  const wanted = columns.filter((c) => !NOT_COPIED.includes(c.name));
  const adds = wanted.filter((c) => !afterRenames.includes(c.name));
  const drops = afterRenames.filter((n) => !wanted.some((c) => c.name === n));
  const triggers = labelledTasksTriggerSql(names);
  const triggersChange = LABELLED_TASKS_TRIGGERS.some((n) => triggersBefore[n] !== triggers[n]);

  if (renames.length + adds.length + drops.length > 0 || triggersChange) {
    const q = (n: string) => `\`${n}\``;
    const definition = (c: SnapshotColumn) =>
      `${q(c.name)} ${c.type}${c.default === undefined ? '' : ` DEFAULT ${c.default}`}${c.notNull ? ' NOT NULL' : ''}`;
    const first = LABELLED_TASKS_TRIGGERS.map((n) => `DROP TRIGGER IF EXISTS ${q(n)};`);
    const then = [
      ...renames.map((r) => `ALTER TABLE \`labelled_tasks\` RENAME COLUMN ${q(r.from)} TO ${q(r.to)};`),
      ...drops.map((n) => `ALTER TABLE \`labelled_tasks\` DROP COLUMN ${q(n)};`),
      ...adds.map((c) => `ALTER TABLE \`labelled_tasks\` ADD ${definition(c)};`),
      ...LABELLED_TASKS_TRIGGERS.map((n) => `${triggers[n]};`),
    ];
    const note =
      '-- labelled_tasks copies every task column but the context: its triggers are dropped first, then its\n' +
      '-- columns and triggers follow the tasks columns (added by `npm run db:generate`, from src/db/labelled-tasks.ts).\n';
    writeFileSync(join(MIGRATIONS, file), `${note}${[...first, generated.trim(), ...then].join(BREAK)}\n`);
    console.log(
      `${file}: labelled_tasks follows the tasks columns (${[...renames.map((r) => `${r.from} -> ${r.to}`), ...drops.map((n) => `-${n}`), ...adds.map((c) => `+${c.name}`)].join(', ') || 'triggers only'})`,
    );
  }

  const db = migrated(sqlFiles());
  const drift = labelledTasksDrift(db, names);
  db.close();
  if (drift.length > 0) throw new Error(`${file}: after every migration, labelled_tasks still differs from tasks:\n${drift.join('\n')}`);
}

if (import.meta.main) main();
