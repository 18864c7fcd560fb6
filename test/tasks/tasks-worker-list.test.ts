/**
 * A worker's GET /v1/tasks in a large account: the worker sees a few dozen of 20,000 tasks (the
 * ones it created, is assigned, claims or completed), and a page reads rows in proportion to the
 * page (plus offset), never to the account: D1 meta.rows_read under 4 x (offset + limit + 1) + 50
 * for the default listing and every single filter, with the very rows and order a brute-force
 * reference computes from all of the account's rows. Query plans never walk an account range.
 */
import { env } from 'cloudflare:test';
import { getTableConfig } from 'drizzle-orm/sqlite-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { database } from '../../src/db/client';
import { tasks } from '../../src/db/schema';
import type { Principal } from '../../src/access/policy';
import { authenticate } from '../../src/access/authentication';
import { listQuery, listTasks, rareBound, type ListFilters } from '../../src/tasks/task-list';
import { countingD1 } from '../../src/platform/d1-metrics';
import { pageIds } from '../helpers/task-page';
import { bulkInsertTasks, type BulkTask } from '../helpers/bulk-tasks';
import { api, db, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';

const N = 20_000;
const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

interface Row {
  id: string;
  project_id: string | null;
  content: string;
  description: string | null;
  priority: number;
  labels: string;
  due_date: string | null;
  assigned_to_agent_id: string | null;
  created_by_agent_id: string;
  completed: number;
  completed_by_agent_id: string | null;
  claimed_by_agent_id: string | null;
  lease_expires_at: string | null;
  created_at: string;
}

/** SQLite's LIKE with a term free of % and _: a substring, case folded for ASCII only. */
const foldAscii = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const nextDay = (date: string) => new Date(Date.parse(`${date.slice(0, 10)}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);

/** What the listing must answer, computed from every row of the account. */
function reference(all: Row[], me: string, f: Partial<ListFilters>, now: number): string[] {
  const today = iso(now).slice(0, 10);
  const nowIso = iso(now);
  const tomorrow = nextDay(today);
  const labels = f.labels ?? [];
  const rows = all.filter((r) => {
    if (![r.created_by_agent_id, r.assigned_to_agent_id, r.claimed_by_agent_id, r.completed_by_agent_id].includes(me)) return false;
    if (f.project_id !== undefined && r.project_id !== f.project_id) return false;
    if (f.completed !== undefined && r.completed !== (f.completed ? 1 : 0)) return false;
    if (f.priority !== undefined && r.priority !== f.priority) return false;
    if (f.assigned_to !== undefined && r.assigned_to_agent_id !== f.assigned_to) return false;
    if (f.search !== undefined && f.search !== '') {
      const term = foldAscii(f.search);
      if (!foldAscii(r.content).includes(term) && !foldAscii(r.description ?? '').includes(term)) return false;
    }
    const due = r.due_date;
    if (f.due === 'today' && !(due !== null && due >= today && due < tomorrow)) return false;
    if (f.due === 'upcoming' && !(due !== null && due >= tomorrow && r.completed === 0)) return false;
    if (f.due === 'overdue' && !(due !== null && due < today && r.completed === 0)) return false;
    if (f.due_after !== undefined && !(due !== null && due >= f.due_after)) return false;
    if (f.due_before !== undefined) {
      const ok = f.due_before.length === 10 ? due !== null && due < nextDay(f.due_before) : due !== null && due <= f.due_before;
      if (!ok) return false;
    }
    const live = r.claimed_by_agent_id !== null && r.lease_expires_at !== null && r.lease_expires_at > nowIso;
    if (f.claimed === true && !live) return false;
    if (f.claimed === false && live) return false;
    const own = JSON.parse(r.labels) as string[];
    return labels.every((l) => own.includes(l));
  });
  const cmp = (x: string | null, y: string | null) => (x! < y! ? -1 : x! > y! ? 1 : 0);
  const byDue = labels.length === 0 && (f.due !== undefined || f.due_after !== undefined || f.due_before !== undefined);
  rows.sort((x, y) => (byDue ? cmp(x.due_date, y.due_date) || cmp(x.id, y.id) : -cmp(x.created_at, y.created_at) || -cmp(x.id, y.id)));
  return rows.map((r) => r.id);
}

describe("a worker's listing in an account of 20,000 tasks", () => {
  const now = Date.now();
  const today = iso(now).slice(0, 10);
  let a: TestAccount;
  let worker: Principal;
  let me: string;
  let other: string;
  /** A worker that sees 3,000 tasks: a page must still read about four heads, not all of them. */
  let busy: Principal;
  let busyId: string;
  let otherProject: string;
  let all: Row[];
  /** Indexes of the seeded tasks, by how the worker relates to them. */
  const created = new Set<number>();
  const assigned = new Set<number>();
  const claimed = new Set<number>();
  const completedBy = new Set<number>();
  /** A task the worker created, is assigned, claims and completed: four ranges hold it. */
  const EVERY_RANGE = 10_004;

  beforeAll(async () => {
    a = await makeAccount();
    const w = await makeAgent(a, 'worker');
    me = w.id;
    worker = await authenticate(db(), env.KEY_PEPPER!, w.key);
    other = (await makeAgent(a, 'worker')).id;
    const b = await makeAgent(a, 'worker');
    busyId = b.id;
    busy = await authenticate(db(), env.KEY_PEPPER!, b.key);
    otherProject = (await api('POST', '/v1/projects', a.adminKey, { name: 'Second' })).body.id as string;

    // 40 created (every 500th), 40 assigned (10 of them also created), 10 claimed (3 of them also
    // created or assigned; the lease is alive on even ones), 9 completed (4 of them also created
    // or assigned), and one task in all four: spread over the account's 20,000.
    for (let i = 3; i < N; i += 500) created.add(i);
    for (const i of [...created].slice(0, 10)) assigned.add(i);
    for (let i = 250, k = 0; k < 30; i += 650, k++) assigned.add(i);
    for (const i of [...created].slice(10, 12)) claimed.add(i);
    claimed.add([...assigned][15]!);
    for (let i = 777, k = 0; k < 7; i += 2_800, k++) claimed.add(i);
    for (const i of [...created].slice(12, 14)) completedBy.add(i);
    for (const i of [...assigned].slice(20, 22)) completedBy.add(i);
    for (let i = 1_111, k = 0; k < 5; i += 3_700, k++) completedBy.add(i);
    created.add(EVERY_RANGE);
    assigned.add(EVERY_RANGE);
    claimed.add(EVERY_RANGE);
    completedBy.add(EVERY_RANGE);

    const seeds: BulkTask[] = [];
    for (let i = 0; i < N; i++) {
      // Two tasks per minute: equal created_at, so the order's id tie-break is exercised.
      const createdAt = iso(now - Math.ceil((N - i) / 2) * 60_000);
      const offset = ((i * 37) % 21) - 10;
      let claimer: string | null = null;
      let lease: string | null = null;
      if (claimed.has(i)) [claimer, lease] = [me, iso(now + (i % 2 === 0 ? 600_000 : -600_000))];
      else if (i % 300 === 3) [claimer, lease] = [other, iso(now + 600_000)];
      const doneBy = completedBy.has(i) ? me : i % 3 === 0 ? a.adminId : null;
      seeds.push({
        id: `tsk_wl${String(i).padStart(6, '0')}`,
        accountId: a.accountId,
        projectId: i % 2 === 0 ? a.projectId : otherProject,
        content: `Task number ${i} about ${i % 10 === 0 ? 'billing' : 'search'}`,
        description: i % 11 === 0 ? 'Needs BILLING review' : null,
        priority: (i % 4) + 1,
        labels: i % 5 === 0 ? '["bug","ops"]' : i % 5 === 1 || i % 5 === 3 ? '["docs"]' : i % 5 === 4 ? '["bug"]' : '[]',
        dueDate:
          i % 3 === 2
            ? null
            : i % 4 === 1
              ? `${iso(now + offset * DAY_MS).slice(0, 10)}T09:00:00Z`
              : iso(now + offset * DAY_MS).slice(0, 10),
        assignedTo: assigned.has(i) ? me : i % 20 === 9 ? busyId : i % 7 === 0 ? other : null,
        createdBy: created.has(i) ? me : i % 10 === 7 ? busyId : a.adminId,
        completed: doneBy !== null,
        completedBy: doneBy,
        completedAt: doneBy !== null ? createdAt : null,
        claimedBy: claimer,
        claimedAt: claimer ? createdAt : null,
        leaseExpiresAt: lease,
        createdAt,
      });
    }
    await bulkInsertTasks(seeds);
    const rows = await env.DB.prepare(
      `SELECT id, project_id, content, description, priority, labels, due_date, assigned_to_agent_id, created_by_agent_id, completed, completed_by_agent_id, claimed_by_agent_id, lease_expires_at, created_at FROM tasks WHERE account_id = ?`,
    )
      .bind(a.accountId)
      .all<Row>();
    all = rows.results;
  }, 120_000);

  const PAGE = 25;
  const single: [string, Partial<ListFilters>][] = [
    ['default', {}],
    ['project_id (first)', { project_id: 'first' }],
    ['project_id (second)', { project_id: 'second' }],
    ['completed=true', { completed: true }],
    ['completed=false', { completed: false }],
    ['priority=2', { priority: 2 }],
    ['priority=4', { priority: 4 }],
    ['search (common term)', { search: 'search' }],
    ['search (common term, upper case, in descriptions too)', { search: 'BILLING' }],
    ['search (rare term)', { search: 'number 10003 ' }],
    ['search (no match)', { search: 'no such words' }],
    ['search (under 3 characters)', { search: 'ab' }],
    ['label', { labels: ['docs'] }],
    ['label bug', { labels: ['bug'] }],
    ['labels (two)', { labels: ['bug', 'ops'] }],
    ['due=today', { due: 'today' }],
    ['due=upcoming', { due: 'upcoming' }],
    ['due=overdue', { due: 'overdue' }],
    ['due_after', { due_after: today }],
    ['due_before (a date)', { due_before: today }],
    ['due_before (a timestamp)', { due_before: `${today}T08:00:00Z` }],
    ['due_after and due_before', { due_after: iso(now - 3 * DAY_MS).slice(0, 10), due_before: iso(now + 3 * DAY_MS).slice(0, 10) }],
    ['claimed=true', { claimed: true }],
    ['claimed=false', { claimed: false }],
    ['assigned_to (me)', { assigned_to: 'me' }],
    ['assigned_to (another agent)', { assigned_to: 'other' }],
  ];

  const resolve = (f: Partial<ListFilters>): Partial<ListFilters> => {
    const out = { ...f };
    if (out.project_id === 'first') out.project_id = a.projectId;
    if (out.project_id === 'second') out.project_id = otherProject;
    if (out.assigned_to === 'me') out.assigned_to = me;
    if (out.assigned_to === 'other') out.assigned_to = other;
    return out;
  };

  it('seeds the sets the brief describes', () => {
    const mine = reference(all, me, {}, now);
    expect(all).toHaveLength(N);
    expect(all.filter((r) => r.created_by_agent_id === me)).toHaveLength(41);
    expect(all.filter((r) => r.assigned_to_agent_id === me)).toHaveLength(41);
    expect(all.filter((r) => r.claimed_by_agent_id === me)).toHaveLength(11);
    expect(all.filter((r) => r.completed_by_agent_id === me)).toHaveLength(10);
    expect(mine.length).toBeGreaterThan(80);
    expect(mine.length).toBeLessThan(110);
  });

  /**
   * Rows a page may read: 4 x (offset + limit + 1) + 50, the four heads and some. A label also
   * reads one task_labels entry per candidate that has it (as the account-wide label listing
   * does), so up to one more head's worth per label; a search also counts its trigram matches, up to
   * rareBound + 1 (as for every key). A due listing reads the worker's four ranges whole, so it
   * is also held to that: the ranges plus the page plus 50.
   */
  const rowsBudget = (f: ListFilters) => {
    const reach = f.offset + f.limit + 1;
    let budget = 4 * reach + 50;
    budget += (f.labels ?? []).length * reach;
    if (f.search !== undefined && f.search.length >= 3) budget += rareBound(f) + 1;
    if (f.due !== undefined || f.due_after !== undefined || f.due_before !== undefined) {
      budget = Math.min(budget, created.size + assigned.size + claimed.size + completedBy.size + reach + 50);
    }
    return budget;
  };

  it.each(single)('%s: the reference page, in one round trip, rows read proportional to the page', async (name, raw) => {
    const f = { limit: PAGE, offset: 0, ...resolve(raw) } as ListFilters;
    const want = reference(all, me, f, now);
    for (const offset of [0, 10, 50]) {
      const c = { count: 0, rowsRead: 0 };
      const page = await listTasks(database(countingD1(env.DB, c)), worker, { filters: { ...f, offset }, now });
      const label = `${name} offset ${offset}`;
      expect(pageIds(page), label).toEqual(want.slice(offset, offset + PAGE));
      expect(page.hasMore, label).toBe(want.length > offset + PAGE);
      const counted = Object.keys(raw).length === 0;
      const lastPage = !page.hasMore && (page.tasks.length > 0 || offset === 0);
      expect(page.total, label).toBe(counted || lastPage ? (counted ? want.length : offset + page.tasks.length) : null);
      expect(c.count, label).toBe(1);
      expect(c.rowsRead, label).toBeLessThan(rowsBudget({ ...f, offset }));
    }
    // The reference has something to show for each filter except the ones meant to match nothing.
    if (!['search (no match)', 'search (under 3 characters)'].includes(name)) expect(want.length, name).toBeGreaterThan(0);
  });

  it('a rare search with a due filter reads no range: the rare arm answers alone', async () => {
    const f = { limit: PAGE, offset: 0, search: 'number 10004 ', due_after: '2000-01-01' } as ListFilters;
    const c = { count: 0, rowsRead: 0 };
    const page = await listTasks(database(countingD1(env.DB, c)), worker, { filters: f, now });
    expect(pageIds(page)).toEqual(reference(all, me, f, now));
    expect(c.rowsRead).toBeLessThan(20);
  });

  // 'page': rows in proportion to offset + limit. 'seen': a due order, or a filter that (almost) no
  // task of a range matches, reads that range whole: what the worker sees, never the account.
  it.each([
    ['default', {}, 'page'],
    ['completed=false', { completed: false }, 'page'],
    ['priority=2', { priority: 2 }, 'page'],
    ['search (common term)', { search: 'search' }, 'page'],
    ['claimed=false', { claimed: false }, 'page'],
    ['priority=3 (matches none of its tasks)', { priority: 3 }, 'seen'],
    ['label bug (only on the tasks assigned to it)', { labels: ['bug'] }, 'seen'],
    ['due_after', { due_after: today }, 'seen'],
  ] as [string, Partial<ListFilters>, 'page' | 'seen'][])(
    'a worker that sees 3,000 tasks, %s: the reference page, rows read by the %s',
    async (name, raw, bound) => {
      const seen = reference(all, busyId, {}, now);
      expect(seen).toHaveLength(3_000);
      for (const offset of [0, 100]) {
        const f = { limit: PAGE, offset, ...raw } as ListFilters;
        const want = reference(all, busyId, f, now);
        const c = { count: 0, rowsRead: 0 };
        const page = await listTasks(database(countingD1(env.DB, c)), busy, { filters: f, now });
        const label = `busy ${name} offset ${offset}`;
        expect(pageIds(page), label).toEqual(want.slice(offset, offset + PAGE));
        expect(page.hasMore, label).toBe(want.length > offset + PAGE);
        const reach = offset + PAGE + 1;
        const budget = bound === 'seen' ? 2 * seen.length + 50 : 4 * reach + 50 + (raw.search ? rareBound(f) + 1 : 0);
        expect(c.rowsRead, label).toBeLessThan(budget);
      }
    },
  );

  it('pages through everything the worker sees, each task once, no gaps', async () => {
    for (const raw of [
      {},
      { completed: false },
      { labels: ['docs'] },
      { due_after: iso(now - 30 * DAY_MS).slice(0, 10) },
      { search: 'search' },
      { claimed: false },
    ] as Partial<ListFilters>[]) {
      const want = reference(all, me, raw, now);
      const seen: string[] = [];
      for (let offset = 0; ; offset += 7) {
        const page = await listTasks(db(), worker, { filters: { limit: 7, offset, ...raw }, now });
        seen.push(...pageIds(page));
        if (!page.hasMore) {
          expect(page.total, JSON.stringify(raw)).toBe(want.length);
          break;
        }
        expect(offset, JSON.stringify(raw)).toBeLessThan(N);
      }
      expect(new Set(seen).size, JSON.stringify(raw)).toBe(seen.length);
      expect(seen, JSON.stringify(raw)).toEqual(want);
    }
  });

  it('shows a task held by all four ranges once', async () => {
    const id = `tsk_wl${String(EVERY_RANGE).padStart(6, '0')}`;
    const row = all.find((r) => r.id === id)!;
    expect([row.created_by_agent_id, row.assigned_to_agent_id, row.claimed_by_agent_id, row.completed_by_agent_id]).toEqual([
      me,
      me,
      me,
      me,
    ]);
    const page = await listTasks(db(), worker, { filters: { limit: 200, offset: 0 }, now });
    expect(pageIds(page).filter((x) => x === id)).toHaveLength(1);
    expect(pageIds(page)).toEqual(reference(all, me, {}, now));
    expect(page.total).toBe(page.tasks.length);
    const found = await listTasks(db(), worker, { filters: { limit: 5, offset: 0, search: 'number 10004 ' }, now });
    expect(pageIds(found)).toEqual([id]);
  });

  it('never reads an account-wide range: every tasks read is one of the four agent ranges or a key lookup', async () => {
    for (const [name, raw] of [
      ...single,
      ['combined', { completed: false, priority: 2, labels: ['bug'], search: 'search', due: 'overdue' }],
    ] as [string, Partial<ListFilters>][]) {
      const q = listQuery(db(), worker, { filters: { limit: PAGE, offset: 10, ...resolve(raw) } as ListFilters, now }).toSQL();
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
        .bind(...q.params)
        .all<{ detail: string }>();
      const details = plan.results.map((r) => r.detail);
      const label = `${name}: ${details.join(' | ')}`;
      expect(
        details.some((d) => /^SCAN (tasks|task_labels)\b/.test(d)),
        label,
      ).toBe(false);
      const reads = details.filter((d) => /^SEARCH (tasks|task_labels)\b/.test(d));
      expect(reads.length, label).toBeGreaterThan(0);
      for (const d of reads) {
        const agentRange =
          /^SEARCH tasks USING INDEX tasks_account_(creator|assigned|claimed_by|completed_by)_idx \(account_id=\? AND (created_by|assigned_to|claimed_by|completed_by)_agent_id=\?\)$/.test(
            d,
          );
        const keyLookup =
          /^SEARCH tasks USING INTEGER PRIMARY KEY \(rowid=\?\)$/.test(d) ||
          /^SEARCH task_labels USING (COVERING )?INDEX sqlite_autoindex_task_labels_1 \(task_id=\? AND label=\?\)$/.test(d);
        expect(agentRange || keyLookup, `${d} in ${label}`).toBe(true);
      }
      // Every plan (a search's common arm too) reads the four ranges, each once.
      expect(reads.filter((d) => /tasks_account_(creator|assigned|claimed_by|completed_by)_idx/.test(d)).length, label).toBe(4);
    }
  });

  it('the completed-by index carries created_at and id, in the database and in the drizzle schema', async () => {
    const row = await env.DB.prepare(
      `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'tasks_account_completed_by_idx'`,
    ).first<{ sql: string }>();
    expect(row?.sql).toMatch(/ON `tasks` \(`account_id`,`completed_by_agent_id`,`created_at`,`id`\)/);
    const declared = getTableConfig(tasks).indexes.find((i) => i.config.name === 'tasks_account_completed_by_idx');
    expect(declared?.config.columns.map((c) => ('name' in c ? c.name : null))).toEqual([
      'account_id',
      'completed_by_agent_id',
      'created_at',
      'id',
    ]);
  });

  it('leaves admins on the account-wide plan', async () => {
    const admin = await authenticate(db(), env.KEY_PEPPER!, a.adminKey);
    const c = { count: 0, rowsRead: 0 };
    const page = await listTasks(database(countingD1(env.DB, c)), admin, { filters: { limit: PAGE, offset: 0 }, now });
    const want = [...all]
      .sort((x, y) => (x.created_at < y.created_at ? 1 : x.created_at > y.created_at ? -1 : x.id < y.id ? 1 : -1))
      .map((r) => r.id);
    expect(pageIds(page)).toEqual(want.slice(0, PAGE));
    expect(page.total).toBe(N);
    expect(c.rowsRead).toBeLessThan(2 * PAGE);
  });
});
