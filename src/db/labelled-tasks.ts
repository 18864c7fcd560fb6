/**
 * labelled_tasks (migration 0006): a copy of each task row, minus its context, per label it
 * carries, in a WITHOUT ROWID table clustered by (account_id, label, created_at, id), kept by
 * triggers. Declared here, outside the drizzle schema, because drizzle-kit cannot express
 * WITHOUT ROWID and must not generate it. Only the key columns are declared: a label listing
 * aliases this table as `tasks`, so every condition and column written against `tasks`
 * (visibility, filters, the listed columns) reads the copy's column of the same name.
 *
 * Its triggers list every copied column, so they are rendered here from the `tasks` columns:
 * `npm run db:generate` (scripts/db-generate.ts) adds the copy's columns and these triggers to a
 * migration that changes the task columns, and test/tasks/tasks-perf.test.ts checks the database
 * holds exactly them.
 */
import { alias, sqliteTable, text } from 'drizzle-orm/sqlite-core';

const labelledTasksTable = sqliteTable('labelled_tasks', {
  accountId: text('account_id').notNull(),
  label: text('label').notNull(),
  createdAt: text('created_at').notNull(),
  id: text('id').notNull(),
});

/** labelled_tasks under the name `tasks`. */
export const labelledTasks = alias(labelledTasksTable, 'tasks');

/** Task columns the copy leaves out: the context is large and no listing answers it. */
export const NOT_COPIED = ['context'];

/** The copy's key besides the label: an update that keeps these (and the labels) rewrites copies in place. */
const KEY = ['account_id', 'created_at', 'id'];

/** The triggers that list the copied columns (`labelled_tasks_after_delete` lists none). */
export const LABELLED_TASKS_TRIGGERS = [
  'labelled_tasks_after_insert',
  'labelled_tasks_after_update_in_place',
  'labelled_tasks_after_update_moved',
] as const;

/**
 * The CREATE TRIGGER statements (without `;`) for the given `tasks` column names, in the table's
 * order: the text migration 0009 wrote by hand, now rendered.
 */
export function labelledTasksTriggerSql(taskColumns: readonly string[]): Record<(typeof LABELLED_TASKS_TRIGGERS)[number], string> {
  const copied = taskColumns.filter((c) => !NOT_COPIED.includes(c));
  const q = (c: string) => `\`${c}\``;
  const names = ['label', ...copied].map(q).join(', ');
  const values = ['`value`', ...copied.map((c) => `NEW.${q(c)}`)].join(', ');
  const insert = `INSERT OR IGNORE INTO \`labelled_tasks\` (${names})\n    SELECT ${values} FROM json_each(NEW.\`labels\`) WHERE \`type\` = 'text';`;
  const same =
    'NEW.`labels` = OLD.`labels` AND NEW.`account_id` = OLD.`account_id` AND NEW.`created_at` = OLD.`created_at` AND NEW.`id` = OLD.`id`';
  const copiesOf = (row: 'NEW' | 'OLD') =>
    `\`account_id\` = ${row}.\`account_id\` AND \`label\` IN (SELECT \`value\` FROM json_each(${row}.\`labels\`) WHERE \`type\` = 'text') AND \`created_at\` = ${row}.\`created_at\` AND \`id\` = ${row}.\`id\``;
  const set = copied
    .filter((c) => !KEY.includes(c))
    .map((c) => `    ${q(c)} = NEW.${q(c)}`)
    .join(',\n');
  return {
    labelled_tasks_after_insert: `CREATE TRIGGER \`labelled_tasks_after_insert\` AFTER INSERT ON \`tasks\` WHEN NEW.\`labels\` <> '[]' BEGIN\n  ${insert}\nEND`,
    labelled_tasks_after_update_in_place: `CREATE TRIGGER \`labelled_tasks_after_update_in_place\` AFTER UPDATE ON \`tasks\`\n  WHEN NEW.\`labels\` <> '[]' AND ${same} BEGIN\n  UPDATE \`labelled_tasks\` SET\n${set}\n  WHERE ${copiesOf('NEW')};\nEND`,
    labelled_tasks_after_update_moved: `CREATE TRIGGER \`labelled_tasks_after_update_moved\` AFTER UPDATE ON \`tasks\`\n  WHEN NOT (${same}) BEGIN\n  DELETE FROM \`labelled_tasks\` WHERE ${copiesOf('OLD')};\n  ${insert}\nEND`,
  };
}
