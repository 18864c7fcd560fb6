/**
 * GET /v1/stats on real D1:
 * - for every kind of key, the answer equals a brute-force computation over the task rows, after
 *   creates, completions, reopenings, moves between projects and deletions;
 * - with 20,000 tasks in an account, one call reads (D1 meta.rows_read) a few hundred rows for an
 *   admin and for a worker, in one round trip;
 * - no statement of it scans tasks (or walks a whole account's range of a tasks index).
 */
import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { getTableConfig } from 'drizzle-orm/sqlite-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { database } from '../../src/db/client';
import { tasks } from '../../src/db/schema';
import type { Principal } from '../../src/access/policy';
import { authenticate } from '../../src/access/authentication';
import { NO_PROJECT, NO_PROJECT_NAME, statsQueries, taskStats, type StatsJson } from '../../src/tasks/stats';
import { canSee } from '../../src/tasks/task-access';
import type { TaskRow } from '../../src/tasks/task-json';
import { countingD1 } from '../../src/platform/d1-metrics';
import { isoDate, isoSeconds } from '../../src/platform/time';
import { bulkInsertTasks, type BulkTask } from '../helpers/bulk-tasks';
import { api, db, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';
import { insertTasks, type TaskSeed } from '../helpers/task-rows';

const DAY = 86_400_000;

async function principalOf(key: string): Promise<Principal> {
  return authenticate(db(), env.KEY_PEPPER!, key);
}

/** The answer computed the slow, obvious way: every task of the account, filtered in JS. */
async function bruteForce(p: Principal, now: number): Promise<StatsJson> {
  const rows: TaskRow[] = await db().select().from(tasks).where(eq(tasks.accountId, p.accountId)).all();
  const today = isoDate(now);
  const tomorrow = isoDate(now + DAY);
  const out: StatsJson = { total: 0, completed: 0, open: 0, completed_today: 0, due_today: 0, overdue: 0, by_project: {} };
  for (const t of rows.filter((r) => canSee(p, r))) {
    out.total++;
    if (t.completed) out.completed++;
    if (t.completed && t.completedAt !== null && t.completedAt >= today) out.completed_today++;
    if (!t.completed && t.dueDate !== null && t.dueDate >= today && t.dueDate < tomorrow) out.due_today++;
    if (!t.completed && t.dueDate !== null && t.dueDate < today) out.overdue++;
    const key = t.projectId ?? NO_PROJECT;
    const group = (out.by_project[key] ??= { total: 0, completed: 0 });
    group.total++;
    if (t.completed) group.completed++;
  }
  out.open = out.total - out.completed;
  return out;
}

/** taskStats through a counting binding: the answer, round trips and rows read. */
async function measured(p: Principal, now: number) {
  const counter = { count: 0, rowsRead: 0 };
  const stats = await taskStats(database(countingD1(env.DB, counter)), p, now);
  return { stats, trips: counter.count, rowsRead: counter.rowsRead };
}

describe('stats answer what a brute-force count answers, for every kind of key', () => {
  const now = Date.now();
  const ts = (offsetMs: number) => isoSeconds(now + offsetMs);
  const date = (days: number) => isoDate(now + days * DAY);
  let a: TestAccount;
  let second: string;
  let keys: Record<'admin' | 'coordinator' | 'worker' | 'worker2' | 'idle', string>;
  let ids: Record<'w1' | 'w2', string>;

  beforeAll(async () => {
    a = await makeAccount();
    second = (await api('POST', '/v1/projects', a.adminKey, { name: 'Second' })).body.id;
    const coordinator = await makeAgent(a, 'coordinator');
    const w1 = await makeAgent(a, 'worker');
    const w2 = await makeAgent(a, 'worker');
    const idle = await makeAgent(a, 'worker');
    keys = { admin: a.adminKey, coordinator: coordinator.key, worker: w1.key, worker2: w2.key, idle: idle.key };
    ids = { w1: w1.id, w2: w2.id };

    // A grid of tasks over every field the answer depends on.
    const seeds: TaskSeed[] = [];
    const projects = [a.projectId, second, null];
    const creators = [a.adminId, w1.id, w2.id];
    const dues = [null, date(-3), date(-1), date(0), `${date(0)}T23:00:00Z`, date(1), date(9)];
    for (let i = 0; i < 84; i++) {
      const completed = i % 3 === 0;
      const completedAt = !completed
        ? null
        : i % 4 === 0
          ? ts(0)
          : i % 4 === 1
            ? ts(-2 * DAY)
            : i % 4 === 2
              ? `${date(0)}T00:00:00Z`
              : ts(-DAY);
      seeds.push({
        projectId: projects[i % 3],
        createdByAgentId: creators[(i % 5) % 3]!,
        assignedToAgentId: i % 7 === 0 ? w1.id : i % 7 === 1 ? w2.id : null,
        claimedByAgentId: i % 11 === 0 ? w1.id : i % 11 === 1 ? w2.id : null,
        claimedAt: i % 11 < 2 ? ts(0) : null,
        leaseExpiresAt: i % 11 < 2 ? ts(600_000) : null,
        completed,
        status: completed ? 'completed' : 'open',
        completedAt,
        completedByAgentId: completed ? (i % 13 === 0 ? w1.id : i % 13 === 1 ? w2.id : a.adminId) : null,
        dueDate: dues[i % dues.length],
        priority: (i % 4) + 1,
        labels: i % 2 ? ['bug'] : [],
      });
    }
    await insertTasks(a, seeds);
  });

  /** The route's answer for these totals: projects by name, and the CLI's field names. */
  const asAnswer = async (stats: StatsJson) => {
    const names = new Map(
      ((await api('GET', '/v1/projects', a.adminKey)).body as { id: string; name: string }[]).map((x) => [x.id, x.name]),
    );
    const agents = (await api('GET', '/v1/agents', a.adminKey)).body as { active: boolean }[];
    const byName: Record<string, number> = {};
    for (const [id, counts] of Object.entries(stats.by_project)) {
      const name = id === NO_PROJECT ? NO_PROJECT_NAME : names.get(id)!;
      byName[name] = (byName[name] ?? 0) + counts.total;
    }
    return {
      ...stats,
      by_project: byName,
      total_tasks: stats.total,
      completed_tasks: stats.completed,
      pending_tasks: stats.open,
      total_agents: agents.length,
      active_agents: agents.filter((x) => x.active).length,
    };
  };

  const check = async (label: string) => {
    const principals: [string, Principal][] = await Promise.all(
      Object.entries(keys).map(async ([name, key]) => [name, await principalOf(key)] as [string, Principal]),
    );
    for (const [name, p] of principals) {
      const want = await bruteForce(p, now);
      const got = await measured(p, now);
      expect(got.stats, `${label}: ${name}`).toEqual(want);
      expect(got.trips, `${label}: ${name}`).toBe(1);
      // Through the route, as a client sees it (same day, so the same answer).
      const res = await api('GET', '/v1/stats', keys[name as keyof typeof keys]);
      expect(res.status).toBe(200);
      expect(res.body, `${label}: ${name} over HTTP`).toEqual(await asAnswer(await bruteForce(p, Date.now())));
    }
    return principals;
  };

  it('on the seeded rows', async () => {
    const principals = await check('seeded');
    const admin = await bruteForce(principals[0]![1], now);
    // The grid covers what it should: every group non-empty, tasks without a project included.
    expect(admin.completed_today).toBeGreaterThan(0);
    expect(admin.due_today).toBeGreaterThan(0);
    expect(admin.overdue).toBeGreaterThan(0);
    expect(Object.keys(admin.by_project).sort()).toEqual([a.projectId, second, NO_PROJECT].sort());
    // A worker's total is also the agent:<id> counter (the same visibility rule, kept by triggers).
    const workerTotal = (await bruteForce(principals.find(([n]) => n === 'worker')![1], now)).total;
    const counted = await env.DB.prepare('SELECT n FROM task_counts WHERE account_id = ? AND dim = ?')
      .bind(a.accountId, `agent:${ids.w1}`)
      .first<{ n: number }>();
    expect(counted?.n).toBe(workerTotal);
  });

  it('after completions, reopenings, moves between projects, reassignments and deletions', async () => {
    const list = (await api('GET', '/v1/tasks?limit=100', a.adminKey)).body as {
      id: string;
      completed: boolean;
      project_id: string | null;
    }[];
    const open = list.filter((t) => !t.completed);
    const done = list.filter((t) => t.completed);
    const [toComplete, toMoveIn, toMoveOut] = [
      open.slice(0, 4),
      open.filter((t) => t.project_id === null).slice(-3),
      open.filter((t) => t.project_id === a.projectId).slice(-2),
    ];
    for (const t of toComplete) expect((await api('POST', `/v1/tasks/${t.id}/complete`, a.adminKey)).status).toBe(200);
    for (const t of done.slice(0, 4)) expect((await api('POST', `/v1/tasks/${t.id}/uncomplete`, a.adminKey)).status).toBe(200);
    for (const t of toMoveIn) {
      expect((await api('PUT', `/v1/tasks/${t.id}`, a.adminKey, { project_id: second, assigned_to_agent_id: ids.w2 })).status).toBe(200);
    }
    for (const t of toMoveOut) {
      expect((await api('PUT', `/v1/tasks/${t.id}`, a.adminKey, { project_id: null, due_date: date(0) })).status).toBe(200);
    }
    for (const t of [...done.slice(-2), ...open.slice(4, 7)])
      expect((await api('DELETE', `/v1/tasks/${t.id}`, a.adminKey)).status).toBe(200);
    await check('after writes');
  });

  it('a project whose tasks all left is not listed; no "none" group without such tasks', async () => {
    const b = await makeAccount();
    const p = await principalOf(b.adminKey);
    const [t1] = await insertTasks(b, [
      { projectId: b.projectId },
      { projectId: b.projectId, completed: true, status: 'completed', completedAt: ts(0) },
    ]);
    const other = (await api('POST', '/v1/projects', b.adminKey, { name: 'Other' })).body.id as string;
    expect((await taskStats(db(), p, now)).by_project).toEqual({ [b.projectId]: { total: 2, completed: 1 } });
    expect((await api('PUT', `/v1/tasks/${t1}`, b.adminKey, { project_id: other })).status).toBe(200);
    expect((await api('DELETE', `/v1/tasks/${t1}`, b.adminKey)).status).toBe(200);
    const empty = await api('GET', '/v1/stats', b.adminKey);
    // The answer names projects and adds the fields the CLI prints.
    const projectName = (await api('GET', '/v1/projects', b.adminKey)).body.find((x: { id: string }) => x.id === b.projectId).name;
    expect(empty.body).toEqual({
      total: 1,
      completed: 1,
      open: 0,
      completed_today: 1,
      due_today: 0,
      overdue: 0,
      by_project: { [projectName]: 1 },
      total_tasks: 1,
      completed_tasks: 1,
      pending_tasks: 0,
      total_agents: 1,
      active_agents: 1,
    });
    expect(await taskStats(db(), p, now)).toEqual(await bruteForce(p, now));
    const fresh = await makeAccount();
    expect((await api('GET', '/v1/stats', fresh.adminKey)).body).toEqual({
      total: 0,
      completed: 0,
      open: 0,
      completed_today: 0,
      due_today: 0,
      overdue: 0,
      by_project: {},
      total_tasks: 0,
      completed_tasks: 0,
      pending_tasks: 0,
      total_agents: 1,
      active_agents: 1,
    });
  });

  it('restricted keys count their own tasks in their sandbox only', async () => {
    const r = await makeAccount({ status: 'restricted' });
    const p = await principalOf(r.adminKey);
    expect(p.mode).toBe('restricted');
    await insertTasks(r, [
      { dueDate: date(0) },
      { dueDate: date(-1) },
      { completed: true, status: 'completed', completedAt: ts(0) },
      { projectId: null, dueDate: date(0) },
      { createdByAgentId: 'agt_someone_else', dueDate: date(-1) },
    ]);
    const got = await measured(p, now);
    expect(got.stats).toEqual(await bruteForce(p, now));
    expect(got.stats).toEqual({
      total: 3,
      completed: 1,
      open: 2,
      completed_today: 1,
      due_today: 1,
      overdue: 1,
      by_project: { [r.projectId]: { total: 3, completed: 1 } },
    });
    expect(got.trips).toBe(1);
  });
});

describe('stats with 20,000 tasks', () => {
  const N = 20_000;
  const now = Date.now();
  const iso = isoSeconds;
  let a: TestAccount;
  let admin: Principal;
  let coordinator: Principal;
  let worker: Principal;
  let second: string;

  beforeAll(async () => {
    a = await makeAccount();
    admin = await principalOf(a.adminKey);
    coordinator = await principalOf((await makeAgent(a, 'coordinator')).key);
    const w = await makeAgent(a, 'worker');
    worker = await principalOf(w.key);
    second = (await api('POST', '/v1/projects', a.adminKey, { name: 'Second' })).body.id;
    const seeds: BulkTask[] = [];
    for (let i = 0; i < N; i++) {
      // Every task is older than yesterday; a few were completed today.
      const created = iso(now - 2 * DAY - (N - i) * 60_000);
      const completedToday = i % 500 === 3 || i % 1000 === 13;
      const completed = i % 3 === 0 || completedToday;
      const claimed = i % 1000 === 11;
      seeds.push({
        id: `tsk_stat${String(i).padStart(6, '0')}`,
        accountId: a.accountId,
        projectId: i % 10 === 9 ? null : i % 2 === 0 ? a.projectId : second,
        content: `Task ${i}`,
        priority: (i % 4) + 1,
        // One task in a hundred has a due date, from five days ago to five days ahead.
        dueDate: i % 100 === 0 ? isoDate(now + (((i / 100) % 11) - 5) * DAY) : null,
        // The worker sees a few hundred tasks at most: created, assigned, claimed, completed.
        createdBy: i % 400 === 7 ? w.id : a.adminId,
        assignedTo: i % 400 === 9 || i % 400 === 10 || i % 2000 === 100 ? w.id : null,
        completed,
        completedAt: completedToday ? iso(now) : completed ? created : null,
        completedBy: i % 1000 === 13 ? w.id : completed ? a.adminId : null,
        claimedBy: claimed ? w.id : null,
        claimedAt: claimed ? iso(now) : null,
        leaseExpiresAt: claimed ? iso(now + 600_000) : null,
        createdAt: created,
      });
    }
    await bulkInsertTasks(seeds);
  }, 120_000);

  it.each([
    ['admin', () => admin],
    ['coordinator', () => coordinator],
    ['worker', () => worker],
  ] as const)('%s: exact, one round trip, a few hundred rows read', async (name, who) => {
    const p = who();
    const got = await measured(p, now);
    expect(got.stats).toEqual(await bruteForce(p, now));
    if (name !== 'worker') {
      expect(got.stats.total).toBe(N);
      expect(Object.keys(got.stats.by_project).sort()).toEqual([a.projectId, second, NO_PROJECT].sort());
    }
    expect(got.stats.completed_today).toBeGreaterThan(0);
    expect(got.stats.overdue + got.stats.due_today).toBeGreaterThan(0);
    expect(got.trips).toBe(1);
    expect(got.rowsRead, `${name} read ${got.rowsRead} rows`).toBeLessThan(1000);
    // Proportional to what it reports: about two reads (index entry, row) per task in the ranges
    // it reads, plus the counters; not to the 20,000 tasks of the account.
    const inRanges = name === 'worker' ? got.stats.total : await rangeRows();
    expect(got.rowsRead, `${name} read ${got.rowsRead} rows`).toBeLessThanOrEqual(3 * inRanges + 20);
  });

  /** Tasks in the ranges an account-wide caller reads: due before tomorrow, completed since midnight (done or not). */
  async function rangeRows() {
    const row = await env.DB.prepare(
      'SELECT (SELECT count(*) FROM tasks WHERE account_id = ?1 AND due_date < ?2) + (SELECT count(*) FROM tasks WHERE account_id = ?1 AND completed_at >= ?3) AS n',
    )
      .bind(a.accountId, isoDate(now + DAY), isoDate(now))
      .first<{ n: number }>();
    return row!.n;
  }
});

describe('stats query plans', () => {
  it('read tasks only through bounded index ranges, never a scan, for every kind of key', async () => {
    const a = await makeAccount();
    const worker = await makeAgent(a, 'worker');
    const coordinator = await makeAgent(a, 'coordinator');
    const restricted = await makeAccount({ status: 'restricted' });
    const principals = await Promise.all([a.adminKey, coordinator.key, worker.key, restricted.adminKey].map(principalOf));
    for (const p of principals) {
      const statements = statsQueries(db(), p, Date.now());
      expect(statements.length).toBeGreaterThan(0);
      for (const s of statements) {
        const q = s.toSQL();
        const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
          .bind(...q.params)
          .all<{ detail: string }>();
        const details = plan.results.map((r) => r.detail);
        const label = `${p.mode}/${p.role} ${q.sql}: ${details.join(' | ')}`;
        expect(
          details.some((d) => /^SCAN (tasks|task_counts)\b/.test(d)),
          label,
        ).toBe(false);
        // A search on account_id alone would walk the whole account.
        expect(
          details.some((d) => /^SEARCH tasks USING (COVERING )?INDEX \w+ \(account_id=\?\)$/.test(d)),
          label,
        ).toBe(false);
        expect(
          details.some((d) => /^SEARCH (tasks|task_counts)\b/.test(d) || /MULTI-INDEX OR/.test(d)),
          label,
        ).toBe(true);
      }
    }
  });

  it('the completed_at index exists in the database and in the drizzle schema', async () => {
    const row = await env.DB.prepare(
      `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'tasks_account_completed_at_idx'`,
    ).first<{ sql: string }>();
    expect(row?.sql).toMatch(/ON `tasks` \(`account_id`,`completed_at`\)/);
    const declared = getTableConfig(tasks).indexes.find((i) => i.config.name === 'tasks_account_completed_at_idx');
    expect(declared?.config.columns.map((c) => ('name' in c ? c.name : null))).toEqual(['account_id', 'completed_at']);
  });
});
