/**
 * Performance rules of the task routes, measured on real D1:
 * - reads are one D1 round trip and writes at most two (after authentication), counted by
 *   wrapping the D1 binding the domain functions receive;
 * - no list query plan scans tasks (EXPLAIN QUERY PLAN);
 * - with 20,000 tasks in an account, a page of GET /v1/tasks reads (D1 meta.rows_read) fewer
 *   than twice the page size for the default listing and for each single filter (search: for a
 *   rare and for a common term; a term of middling frequency or under 3 characters costs more,
 *   see src/tasks/task-list.ts).
 */
import { env } from 'cloudflare:test';
import { getTableConfig } from 'drizzle-orm/sqlite-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { database } from '../../src/db/client';
import { LABELLED_TASKS_TRIGGERS, labelledTasksTriggerSql } from '../../src/db/labelled-tasks';
import { tasks } from '../../src/db/schema';
import type { Principal } from '../../src/access/policy';
import { authenticate } from '../../src/access/authentication';
import { addComment, deleteComment, listComments } from '../../src/tasks/comments';
import { findDuplicates } from '../../src/tasks/dedup';
import { delegateTask, taskChain, taskChildren } from '../../src/tasks/delegation';
import { statsAnswer, taskStats } from '../../src/tasks/stats';
import { createSubtask, deleteSubtask, listSubtasks, taskWithSubtasks, toggleSubtask, updateSubtask } from '../../src/tasks/subtasks';
import { contextHistory, getContext, patchContext } from '../../src/tasks/task-context';
import { listQuery, listTasks, type ListFilters } from '../../src/tasks/task-list';
import { addLink, listLinks } from '../../src/tasks/task-links';
import { completeTask, createTask, deleteTask, getTask, uncompleteTask, updateTask } from '../../src/tasks/tasks';
import { usage } from '../../src/accounts/usage';
import { countingD1 as countRoundTrips } from '../../src/platform/d1-metrics';
import { pageIds } from '../helpers/task-page';
import { bulkInsertTasks, type BulkTask } from '../helpers/bulk-tasks';
import { api, db, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';

/** A D1 binding that counts round trips (statement executions and batches) and sums rows_read. */
function countingD1(real: D1Database) {
  const stats = { count: 0, rowsRead: 0 };
  return { db: database(countRoundTrips(real, stats)), stats };
}

async function principalOf(key: string): Promise<Principal> {
  return authenticate(db(), env.KEY_PEPPER!, key);
}

async function trips<T>(fn: (d: ReturnType<typeof countingD1>['db']) => Promise<T>): Promise<number> {
  const c = countingD1(env.DB);
  await fn(c.db);
  return c.stats.count;
}

describe('round trips per operation', () => {
  it('reads take one D1 round trip and writes at most two', async () => {
    const a = await makeAccount();
    const p = await principalOf(a.adminKey);
    const now = Date.now();
    const made = await api('POST', '/v1/tasks', a.adminKey, { content: 'Root task', labels: ['x'], project_id: a.projectId });
    const id = made.body.id as string;
    const sub = (await api('POST', `/v1/tasks/${id}/subtasks`, a.adminKey, { content: 's' })).body.id as string;
    const cmt = (await api('POST', `/v1/tasks/${id}/comments`, a.adminKey, { content: 'c' })).body.id as string;
    const page = { limit: 100, offset: 0 };

    const reads: [string, (d: any) => Promise<unknown>][] = [
      ['getTask', (d) => getTask(d, p, id)],
      ['listTasks', (d) => listTasks(d, p, { filters: { limit: 100, offset: 0 }, now })],
      [
        'listTasks filtered',
        (d) => listTasks(d, p, { filters: { limit: 100, offset: 0, labels: ['x', 'y'], search: 'root', due: 'overdue' }, now }),
      ],
      ['taskChain', (d) => taskChain(d, p, id)],
      ['taskChildren', (d) => taskChildren(d, p, id)],
      ['getContext', (d) => getContext(d, p, { taskId: id, withProvenance: true })],
      ['contextHistory', (d) => contextHistory(d, p, { taskId: id, key: undefined, page: { limit: 100 } })],
      ['listSubtasks', (d) => listSubtasks(d, p, id)],
      ['taskWithSubtasks', (d) => taskWithSubtasks(d, p, id)],
      ['listComments', (d) => listComments(d, p, { taskId: id, page })],
      ['listLinks', (d) => listLinks(d, p, id)],
      ['taskStats', (d) => taskStats(d, p, now)],
      ['statsAnswer', (d) => statsAnswer(d, p, now)],
      [
        'usage',
        (d) =>
          usage(d, p, {
            limits: {
              tasksPerMonth: 1000,
              ratePerMinute: 60,
              contextBytes: 1000,
              bodyBytes: 1000,
              delegationDepth: 10,
              agentsPerAccount: 25,
              webhooksPerAccount: 10,
              projectsPerAccount: 100,
            },
            now,
          }),
      ],
      ['findDuplicates', (d) => findDuplicates(d, p, { content: 'root task', threshold: 0.6 })],
    ];
    for (const [name, fn] of reads) expect(await trips(fn), name).toBe(1);

    let childId = '';
    const writes: [string, (d: any) => Promise<unknown>][] = [
      [
        'createTask',
        (d) =>
          createTask(d, p, {
            input: { content: 'n', labels: ['a'], project_id: a.projectId, assigned_to_agent_id: a.adminId },
            quota: 1000,
            now,
          }),
      ],
      [
        'updateTask',
        (d) =>
          updateTask(d, p, {
            taskId: id,
            input: { content: 'u', labels: ['b'], project_id: a.projectId, assigned_to_agent_id: a.adminId },
            now,
          }),
      ],
      ['patchContext', (d) => patchContext(d, p, { taskId: id, patch: { k: 1 }, source: 'agent_inferred', maxBytes: 10_000, now })],
      ['createSubtask', (d) => createSubtask(d, p, { taskId: id, input: { content: 's2' }, now })],
      ['updateSubtask', (d) => updateSubtask(d, p, { taskId: id, subtaskId: sub, input: { content: 's3' }, now })],
      ['toggleSubtask', (d) => toggleSubtask(d, p, { taskId: id, subtaskId: sub, now })],
      ['deleteSubtask', (d) => deleteSubtask(d, p, { taskId: id, subtaskId: sub, now })],
      ['addComment', (d) => addComment(d, p, { taskId: id, input: { content: 'c2' }, now })],
      ['deleteComment', (d) => deleteComment(d, p, { taskId: id, commentId: cmt })],
      ['addLink', (d) => addLink(d, p, { taskId: id, input: { kind: 'pr', ref: '#1' }, now })],
      [
        'delegateTask',
        async (d) =>
          (childId = (await delegateTask(d, p, { parentId: id, input: { content: 'child' }, limits: { quota: 1000, maxDepth: 10 }, now }))
            .child.id),
      ],
      ['completeTask child', (d) => completeTask(d, p, { taskId: childId, evidence: [], now })],
      ['uncompleteTask child', (d) => uncompleteTask(d, p, { taskId: childId, now })],
      ['deleteTask child', (d) => deleteTask(d, p, { taskId: childId, now })],
    ];
    for (const [name, fn] of writes) expect(await trips(fn), name).toBeLessThanOrEqual(2);
    // The hottest write checks its references and the quota inside the insert: one trip.
    expect(
      await trips((d) =>
        createTask(d, p, { input: { content: 'one trip', project_id: a.projectId, assigned_to_agent_id: a.adminId }, quota: 1000, now }),
      ),
    ).toBe(1);
    // So does a context merge: access, version and size are conditions of the merge itself.
    expect(
      await trips((d) => patchContext(d, p, { taskId: id, patch: { one: 'trip' }, source: 'agent_inferred', maxBytes: 10_000, now })),
    ).toBe(1);
    // So does completion: access, state and the evidence policy are conditions of the update.
    expect(await trips((d) => completeTask(d, p, { taskId: id, evidence: [{ kind: 'pr', ref: '#9' }], now }))).toBe(1);
  });
});

describe('list query plans', () => {
  it('never scans tasks or task_labels, for any filter and any kind of key', async () => {
    const a = await makeAccount();
    const worker = await makeAgent(a, 'worker');
    const restricted = await makeAccount({ status: 'restricted' });
    const principals = [await principalOf(a.adminKey), await principalOf(worker.key), await principalOf(restricted.adminKey)];
    const filters: Partial<ListFilters>[] = [
      {},
      { project_id: 'prj_x' },
      { completed: false },
      { completed: true },
      { priority: 3 },
      { search: 'x' },
      { search: 'xyz' },
      { search: 'xyz', labels: ['bug'] },
      { search: 'xyz', due: 'today' },
      { labels: ['bug'] },
      { labels: ['bug', 'ops'] },
      { due: 'today' },
      { due: 'upcoming' },
      { due: 'overdue' },
      { due_after: '2026-01-01' },
      { due_before: '2026-01-01' },
      { claimed: true },
      { claimed: false },
      { assigned_to: 'agt_x' },
      { completed: false, priority: 2, labels: ['bug'], search: 'x' },
      { completed: false, priority: 2, labels: ['bug'], search: 'xyz' },
    ];
    for (const p of principals) {
      for (const f of filters) {
        const q = listQuery(db(), p, { filters: { limit: 100, offset: 0, ...f }, now: Date.now() }).toSQL();
        const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
          .bind(...q.params)
          .all<{ detail: string }>();
        const details = plan.results.map((r) => r.detail);
        const label = `${p.mode}/${p.role} ${JSON.stringify(f)}: ${details.join(' | ')}`;
        expect(
          details.some((d) => /^SCAN (tasks|task_labels)\b/.test(d)),
          label,
        ).toBe(false);
        expect(
          details.some((d) => /SEARCH (tasks|task_labels)/.test(d) || /MULTI-INDEX OR/.test(d)),
          label,
        ).toBe(true);
      }
    }
  });
});

describe('GET /v1/tasks with 20,000 tasks', () => {
  const N = 20_000;
  const PAGE = 100;
  let a: TestAccount;
  let p: Principal;
  let workerId: string;
  let otherProject: string;
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const today = iso(now).slice(0, 10);

  beforeAll(async () => {
    a = await makeAccount();
    p = await principalOf(a.adminKey);
    workerId = (await makeAgent(a, 'worker')).id;
    otherProject = (await api('POST', '/v1/projects', a.adminKey, { name: 'Second' })).body.id;
    const seeds: BulkTask[] = [];
    for (let i = 0; i < N; i++) {
      const created = iso(now - (N - i) * 60_000);
      const claimed = i % 500 === 1;
      seeds.push({
        id: `tsk_perf${String(i).padStart(6, '0')}`,
        accountId: a.accountId,
        projectId: i % 2 === 0 ? a.projectId : otherProject,
        content: `Task number ${i} about ${i % 10 === 0 ? 'billing' : 'search'}`,
        priority: (i % 4) + 1,
        labels: i % 5 === 0 ? '["bug","ops"]' : i % 5 === 1 ? '["docs"]' : '[]',
        dueDate: i % 2 === 0 ? iso(now + ((i % 400) - 200) * 86_400_000).slice(0, 10) : null,
        assignedTo: i % 7 === 0 ? workerId : null,
        createdBy: a.adminId,
        completed: i % 3 === 0,
        claimedBy: claimed ? workerId : null,
        claimedAt: claimed ? iso(now) : null,
        leaseExpiresAt: claimed ? iso(now + 600_000) : null,
        createdAt: created,
      });
    }
    await bulkInsertTasks(seeds);
  }, 120_000);

  const single: [string, Partial<ListFilters>, number | null][] = [
    ['default', {}, N],
    ['completed=false', { completed: false }, N - Math.ceil(N / 3)],
    ['completed=true', { completed: true }, Math.ceil(N / 3)],
    ['priority=3', { priority: 3 }, N / 4],
    ['project_id', { project_id: 'first' }, N / 2],
    ['assigned_to', { assigned_to: 'worker' }, Math.ceil(N / 7)],
    ['search (common word)', { search: 'search' }, null],
    ['due=today', { due: 'today' }, null],
    ['due=upcoming', { due: 'upcoming' }, null],
    ['due=overdue', { due: 'overdue' }, null],
    ['due_after', { due_after: today }, null],
    ['due_before', { due_before: today }, null],
    ['claimed=false', { claimed: false }, null],
  ];

  it.each(single)('%s reads fewer than twice the page size', async (_name, f, total) => {
    const filters = { limit: PAGE, offset: 0, ...f } as ListFilters;
    if (filters.project_id === 'first') filters.project_id = a.projectId;
    if (filters.assigned_to === 'worker') filters.assigned_to = workerId;
    const c = countingD1(env.DB);
    const page = await listTasks(c.db, p, { filters, now });
    expect(page.tasks.length).toBeGreaterThan(0);
    expect(c.stats.count).toBe(1);
    expect(c.stats.rowsRead).toBeLessThan(2 * PAGE);
    if (total !== null) expect(page.total).toBe(total);
  });

  it('claimed=true reads fewer than twice the page size', async () => {
    const c = countingD1(env.DB);
    const page = await listTasks(c.db, p, { filters: { limit: PAGE, offset: 0, claimed: true }, now });
    expect(page.tasks.length).toBe(N / 500);
    expect(c.stats.rowsRead).toBeLessThan(2 * PAGE);
  });

  // A label page reads the tasks' copies in labelled_tasks (one row each) and the counter.
  it('label=bug reads fewer than twice the page size', async () => {
    const c = countingD1(env.DB);
    const page = await listTasks(c.db, p, { filters: { limit: PAGE, offset: 0, labels: ['bug'] }, now });
    expect(page.tasks).toHaveLength(PAGE);
    expect(page.total).toBe(N / 5);
    expect(c.stats.count).toBe(1);
    expect(c.stats.rowsRead).toBeLessThan(2 * PAGE);
  });

  it('label=bug reads one row per task on the page and the counter, no look-ahead row', async () => {
    const c = countingD1(env.DB);
    const page = await listTasks(c.db, p, { filters: { limit: PAGE, offset: 0, labels: ['bug'] }, now });
    expect(page.hasMore).toBe(true);
    expect(c.stats.rowsRead).toBeLessThanOrEqual(PAGE + 1);
  });

  it('search for a rare word reads fewer than twice the page size', async () => {
    const c = countingD1(env.DB);
    const page = await listTasks(c.db, p, { filters: { limit: PAGE, offset: 0, search: 'number 19999 ' }, now });
    expect(pageIds(page)).toEqual(['tsk_perf019999']);
    expect(c.stats.count).toBe(1);
    expect(c.stats.rowsRead).toBeLessThan(2 * PAGE);
  });

  it.each([
    // Rare: a handful of matches, read through the trigram index.
    ['rare, oldest task', 'NUMBER 0 about', ['tsk_perf000000']],
    ['rare, few matches', 'number 1999', null],
    // Common: every task matches (the walk stops after the page).
    ['every task', 'task number', null],
    ['every task, lower case', 'about', null],
  ] as [string, string, string[] | null][])('search (%s) reads fewer than twice the page size', async (_name, term, expected) => {
    const c = countingD1(env.DB);
    const page = await listTasks(c.db, p, { filters: { limit: PAGE, offset: 0, search: term }, now });
    if (expected) expect(pageIds(page)).toEqual(expected);
    expect(page.tasks.length).toBeGreaterThan(0);
    expect(c.stats.count).toBe(1);
    expect(c.stats.rowsRead).toBeLessThan(2 * PAGE);
  });

  it('search answers what LIKE answers, in the listing order, on either plan', async () => {
    for (const term of ['number 1999', 'BILLING', 'number 19999 ', '9 about b', 'search', 'ab']) {
      const like = `%${term}%`;
      const reference = await env.DB.prepare(
        `SELECT id FROM tasks WHERE account_id = ? AND (content LIKE ? OR description LIKE ?) ORDER BY created_at DESC, id DESC LIMIT ${PAGE + 1}`,
      )
        .bind(a.accountId, like, like)
        .all<{ id: string }>();
      const page = await listTasks(db(), p, { filters: { limit: PAGE, offset: 0, search: term }, now });
      const want = reference.results.map((r) => r.id);
      expect(pageIds(page), term).toEqual(want.slice(0, PAGE));
      expect(page.hasMore, term).toBe(want.length > PAGE);
    }
  });

  it('the same listing through HTTP answers the counted total', async () => {
    const res = await api('GET', '/v1/tasks?completed=true&limit=5', a.adminKey);
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(5);
    expect(res.headers.get('X-Total-Count')).toBe(String(Math.ceil(N / 3)));
    expect(res.headers.get('Link')).toContain('offset=5');
  });
});

describe('schema guards', () => {
  it('labelled_tasks has every column of tasks but the context, plus the label', async () => {
    const columns = async (table: string) =>
      (
        await env.DB.prepare(`SELECT name, type, "notnull" FROM pragma_table_info(?) ORDER BY name`)
          .bind(table)
          .all<{ name: string; type: string; notnull: number }>()
      ).results;
    const fromTasks = (await columns('tasks')).filter((c) => c.name !== 'context');
    expect(await columns('labelled_tasks')).toEqual(
      [...fromTasks, { name: 'label', type: 'TEXT', notnull: 1 }].sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it("labelled_tasks' triggers copy exactly the columns of the drizzle tasks table (as `npm run db:generate` renders them)", async () => {
    const rendered = labelledTasksTriggerSql(getTableConfig(tasks).columns.map((c) => c.name));
    for (const name of LABELLED_TASKS_TRIGGERS) {
      const row = await env.DB.prepare(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?`)
        .bind(name)
        .first<{ sql: string }>();
      expect(row?.sql, name).toBe(rendered[name]);
    }
  });

  it('has the triggers that keep task_labels and task_counts exact', async () => {
    const rows = await env.DB.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name`).all<{ name: string }>();
    expect(rows.results.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        'tasks_count_after_delete',
        'tasks_count_after_insert',
        'tasks_count_after_update',
        'tasks_labels_after_delete',
        'tasks_labels_after_insert',
        'tasks_labels_after_update',
        'task_labels_count_after_delete',
        'task_labels_count_after_insert',
      ]),
    );
  });
});
