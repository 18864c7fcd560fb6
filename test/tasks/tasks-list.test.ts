import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { tasks } from '../../src/db/schema';
import { api, db, makeAccount, makeAgent, type TestAccount } from '../helpers/fixtures';

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function seed() {
  const a = await makeAccount();
  const worker = await makeAgent(a, 'worker');
  const other = (await api('POST', '/v1/projects', a.adminKey, { name: 'Other' })).body;
  const make = async (body: Record<string, unknown>) => {
    const r = await api('POST', '/v1/tasks', a.adminKey, body);
    if (r.status !== 201) throw new Error(JSON.stringify(r.body));
    return r.body as { id: string };
  };
  const t = {
    bug: await make({ content: 'Fix login bug', labels: ['bug', 'urgent'], priority: 4, project_id: a.projectId, due_date: day(-2) }),
    docs: await make({ content: 'Write docs', description: 'The LOGIN page too', labels: ['docs'], priority: 2, due_date: day(0) }),
    deploy: await make({
      content: 'Deploy 100%_done',
      labels: ['bug'],
      project_id: other.id,
      assigned_to_agent_id: worker.id,
      due_date: `${day(3)}T09:00:00Z`,
    }),
    done: await make({ content: 'Old chore', labels: ['urgent'], due_date: day(-5) }),
    plain: await make({ content: 'Plain' }),
  };
  await api('POST', `/v1/tasks/${t.done.id}/complete`, a.adminKey);
  await db()
    .update(tasks)
    .set({ claimedByAgentId: worker.id, claimedAt: iso(Date.now()), leaseExpiresAt: iso(Date.now() + 600_000), status: 'claimed' })
    .where(eq(tasks.id, t.plain.id));
  // An expired lease is no claim.
  await db()
    .update(tasks)
    .set({ claimedByAgentId: worker.id, claimedAt: iso(Date.now() - 900_000), leaseExpiresAt: iso(Date.now() - 1000), status: 'claimed' })
    .where(eq(tasks.id, t.docs.id));
  return { a, worker, other, t };
}

const ids = (body: { id: string }[]) => body.map((x) => x.id).sort();

describe('GET /v1/tasks', () => {
  it('answers a bare array, newest first, with X-Total-Count', async () => {
    const { a, t } = await seed();
    const res = await api('GET', '/v1/tasks', a.adminKey);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.body.map((x: { id: string }) => x.id)).toEqual([t.plain.id, t.done.id, t.deploy.id, t.docs.id, t.bug.id]);
    expect(res.headers.get('X-Total-Count')).toBe('5');
    expect(res.headers.get('Link')).toBeNull();
  });

  it('filters by every contract filter', async () => {
    const { a, worker, other, t } = await seed();
    const cases: [string, string[]][] = [
      [`project_id=${a.projectId}`, [t.bug.id]],
      [`project_id=${other.id}`, [t.deploy.id]],
      ['completed=true', [t.done.id]],
      ['completed=False', [t.bug.id, t.docs.id, t.deploy.id, t.plain.id]],
      ['completed=1', [t.done.id]],
      ['priority=4', [t.bug.id]],
      ['priority=medium', [t.docs.id]],
      ['search=login', [t.bug.id, t.docs.id]],
      ['search=LOGIN', [t.bug.id, t.docs.id]],
      ['search=100%25_', [t.deploy.id]],
      ['search=%25', [t.deploy.id]],
      ['label=bug', [t.bug.id, t.deploy.id]],
      ['labels=bug,urgent', [t.bug.id]],
      ['labels=bug&labels=urgent', [t.bug.id]],
      ['label=bug&labels=urgent', [t.bug.id]],
      ['labels=nothing', []],
      ['due=today', [t.docs.id]],
      ['due=overdue', [t.bug.id]],
      ['due=upcoming', [t.deploy.id]],
      [`due_after=${day(0)}`, [t.docs.id, t.deploy.id]],
      [`due_before=${day(0)}`, [t.bug.id, t.docs.id, t.done.id]],
      [`due_after=${day(-3)}&due_before=${day(3)}`, [t.bug.id, t.docs.id, t.deploy.id]],
      ['claimed=true', [t.plain.id]],
      ['claimed=false', [t.bug.id, t.docs.id, t.deploy.id, t.done.id]],
      [`assigned_to=${worker.id}`, [t.deploy.id]],
      ['completed=false&priority=1&label=bug', [t.deploy.id]],
    ];
    for (const [query, expected] of cases) {
      const res = await api('GET', `/v1/tasks?${query}`, a.adminKey);
      expect(res.status, query).toBe(200);
      expect(ids(res.body), query).toEqual([...expected].sort());
      expect(res.headers.get('X-Total-Count'), query).toBe(String(expected.length));
    }
  });

  it('orders due filters soonest first', async () => {
    const { a, t } = await seed();
    const res = await api('GET', `/v1/tasks?due_after=${day(-30)}`, a.adminKey);
    expect(res.body.map((x: { id: string }) => x.id)).toEqual([t.done.id, t.bug.id, t.docs.id, t.deploy.id]);
  });

  it('pages with limit/offset, a Link header for the next page, and the counted total', async () => {
    const { a, t } = await seed();
    const first = await api('GET', '/v1/tasks?limit=2', a.adminKey);
    expect(first.body.map((x: { id: string }) => x.id)).toEqual([t.plain.id, t.done.id]);
    expect(first.headers.get('X-Total-Count')).toBe('5');
    const link = first.headers.get('Link')!;
    expect(link).toMatch(/<https:\/\/api\.test\/v1\/tasks\?limit=2&offset=2>; rel="next"/);
    const next = await api('GET', link.match(/<https:\/\/api\.test([^>]+)>; rel="next"/)![1]!, a.adminKey);
    expect(next.body.map((x: { id: string }) => x.id)).toEqual([t.deploy.id, t.docs.id]);
    expect(next.headers.get('Link')).toMatch(/rel="next".*rel="prev"/);
    const last = await api('GET', '/v1/tasks?limit=2&offset=4', a.adminKey);
    expect(last.body.map((x: { id: string }) => x.id)).toEqual([t.bug.id]);
    expect(last.headers.get('X-Total-Count')).toBe('5');
    expect(last.headers.get('Link')).not.toMatch(/rel="next"/);
    // Filters and pagination together keep the other parameters in the link.
    const filtered = await api('GET', '/v1/tasks?completed=false&limit=1', a.adminKey);
    expect(filtered.headers.get('X-Total-Count')).toBe('4');
    expect(filtered.headers.get('Link')).toContain('completed=false');
    // A filter whose total is not counted says how many at least instead of counting rows.
    const uncounted = await api('GET', '/v1/tasks?search=o&limit=1', a.adminKey);
    expect(uncounted.headers.get('X-Total-Count')).toBeNull();
    expect(uncounted.headers.get('X-Total-Count-Lower-Bound')).toBe('2');
    const beyond = await api('GET', '/v1/tasks?offset=50', a.adminKey);
    expect(beyond.body).toEqual([]);
    expect(beyond.headers.get('X-Total-Count')).toBe('5');
  });

  it('keeps the counted totals exact through updates, completion and deletes', async () => {
    const { a, t } = await seed();
    const total = async (q: string) => (await api('GET', `/v1/tasks?limit=1&${q}`, a.adminKey)).headers.get('X-Total-Count');
    expect(await total('label=bug')).toBe('2');
    await api('PUT', `/v1/tasks/${t.deploy.id}`, a.adminKey, { labels: ['docs'], priority: 4 });
    expect(await total('label=bug')).toBe('1');
    expect(await total('label=docs')).toBe('2');
    expect(await total('priority=4')).toBe('2');
    await api('POST', `/v1/tasks/${t.bug.id}/complete`, a.adminKey);
    expect(await total('completed=true')).toBe('2');
    expect(await total('completed=false')).toBe('3');
    await api('DELETE', `/v1/tasks/${t.bug.id}`, a.adminKey);
    expect(await total('')).toBe('4');
    expect(await total('priority=4')).toBe('1');
    expect(await total('completed=true')).toBe('1');
  });

  it.each([
    ['limit=0'],
    ['limit=501'],
    ['limit=ten'],
    ['offset=-1'],
    ['completed=yes'],
    ['claimed=maybe'],
    ['priority=0'],
    ['priority=5'],
    ['due=tomorrow'],
    ['due_after=2026-13-01'],
    ['due_before=soon'],
  ])('refuses a bad query: %s', async (query) => {
    const a: TestAccount = await makeAccount();
    const res = await api('GET', `/v1/tasks?${query}`, a.adminKey);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });
});

describe('due as one date (the Python SDK’s due=)', () => {
  it('lists the tasks due on that day, date or timestamp, and refuses other words', async () => {
    const a = await makeAccount();
    const make = async (due_date: string) =>
      (await api('POST', '/v1/tasks', a.adminKey, { content: `due ${due_date}`, due_date })).body.id as string;
    const [day, stamp] = [await make('2030-01-15'), await make('2030-01-15T18:30:00Z')];
    await make('2030-01-14');
    await make('2030-01-16');
    const res = await api('GET', '/v1/tasks?due=2030-01-15', a.adminKey);
    expect(res.status).toBe(200);
    expect(res.body.map((t: { id: string }) => t.id).sort()).toEqual([day, stamp].sort());
    expect((await api('GET', '/v1/tasks?due=2030-01-15&due_before=2030-01-14', a.adminKey)).body).toEqual([]);
    expect((await api('GET', '/v1/tasks?due=tomorrow', a.adminKey)).status).toBe(400);
  });
});
