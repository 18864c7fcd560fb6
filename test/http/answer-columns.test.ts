/**
 * Answers derived from drizzle tables (http/answer-columns.ts): a column's drizzle key must be
 * its SQL name in camelCase (the answer's type is computed from the key, its value from the name),
 * and a column added to `tasks` must reach the task answer and its schema with nothing else written.
 */
import { getTableColumns, getTableName, is, type Column } from 'drizzle-orm';
import { integer, SQLiteTable, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';
import * as schema from '../../src/db/schema';
import { tasks } from '../../src/db/schema';
import { answerColumns } from '../../src/http/answer-columns';
import { taskJson, TaskSchema } from '../../src/tasks/task-json';
import { api, makeAccount } from '../helpers/fixtures';

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** Shown under names and types of the task's own, or not at all. */
const NOT_AS_COLUMNS = ['account_id', 'last_heartbeat_at', 'context', 'depth', 'labels', 'state_detail', 'evidence'];

describe('answers derived from the tables', () => {
  it("every table's drizzle keys are its SQL names in camelCase", () => {
    const tables = (Object.values(schema) as unknown[]).filter((t): t is SQLiteTable => is(t, SQLiteTable));
    expect(tables.length).toBeGreaterThan(10);
    for (const table of tables) {
      for (const [key, column] of Object.entries(getTableColumns(table) as Record<string, Column>)) {
        expect(column.name, `${getTableName(table)}.${key}`).toBe(snake(key));
      }
    }
  });

  it('every task column but the hidden ones is in the Task schema under its SQL name', () => {
    const names = Object.values(getTableColumns(tasks)).map((c) => c.name);
    const shown = names.filter((n) => !NOT_AS_COLUMNS.includes(n));
    expect(Object.keys(TaskSchema.shape)).toEqual(expect.arrayContaining(shown));
    for (const hidden of ['account_id', 'last_heartbeat_at', 'context']) expect(TaskSchema.shape).not.toHaveProperty(hidden);
  });

  it('a task answer has exactly the keys of the Task schema and parses with it', async () => {
    const a = await makeAccount();
    const created = await api('POST', '/v1/tasks', a.adminKey, { content: 'Shape', labels: ['x'], due_date: '2026-01-15' });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body as object).sort()).toEqual(Object.keys(TaskSchema.shape).sort());
    expect(TaskSchema.strict().safeParse(created.body).success).toBe(true);
  });

  it('taskJson maps a row whatever its columns, without the hidden ones', () => {
    const row = Object.fromEntries(Object.keys(getTableColumns(tasks)).map((k) => [k, null])) as never;
    const json = taskJson(
      { ...(row as object), labels: '[]', evidence: '[]', accountId: 'acc_x', lastHeartbeatAt: 'x' } as never,
      Date.now(),
    );
    expect(json).not.toHaveProperty('account_id');
    expect(json).not.toHaveProperty('last_heartbeat_at');
    expect(Object.keys(json).sort()).toEqual(Object.keys(TaskSchema.shape).sort());
  });

  it("a task answer's columns come first", async () => {
    const a = await makeAccount();
    const created = await api('POST', '/v1/tasks', a.adminKey, { content: 'Order' });
    const shown = Object.values(getTableColumns(tasks))
      .map((c) => c.name)
      .filter((n) => !NOT_AS_COLUMNS.includes(n));
    expect(
      Object.keys(created.body as object)
        .slice(0, shown.length)
        .sort(),
    ).toEqual(shown.sort());
  });

  describe('a literal for the hot path (`written`)', () => {
    const notes = sqliteTable('notes', {
      id: text('id').primaryKey(),
      secret: text('secret'),
      bodyText: text('body_text'),
      readCount: integer('read_count'),
    });
    const row = { id: 'n1', secret: 's', bodyText: 'hello', readCount: 3 };

    it('columns the literal leaves out still show, by name, after it', () => {
      const columns = answerColumns(notes, { hide: ['secret'], written: (r) => ({ id: r.id }) });
      expect(columns.json(row)).toEqual({ id: 'n1', body_text: 'hello', read_count: 3 });
      expect(Object.keys(columns.json(row))).toEqual(['id', 'body_text', 'read_count']);
    });

    it('a literal that names a hidden column is refused when the answer is defined', () => {
      expect(() =>
        answerColumns(notes, { hide: ['secret'], written: ((r: typeof row) => ({ id: r.id, secret: r.secret })) as never }),
      ).toThrow(/secret/);
    });
  });
});
