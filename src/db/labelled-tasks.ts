/**
 * labelled_tasks (migration 0006): a copy of each task row, minus its context, per label it
 * carries, in a WITHOUT ROWID table clustered by (account_id, label, created_at, id), kept by
 * triggers. Declared here, outside the drizzle schema, because drizzle-kit cannot express
 * WITHOUT ROWID and must not generate it. Only the key columns are declared: a label listing
 * aliases this table as `tasks`, so every condition and column written against `tasks`
 * (visibility, filters, the listed columns) reads the copy's column of the same name.
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
