/**
 * `GET /v1/tasks?search=`: a case-insensitive substring of content or description, served by the
 * trigram index (tasks_fts) for terms of 3+ characters. Whatever the plan, the answer is the one
 * LIKE '%term%' gives (SQLite's LIKE folds ASCII case only) in the listing's own order.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ftsPhrase, listTasks, rareBound } from '../../src/tasks/task-list';
import { authenticate } from '../../src/access/authentication';
import { pageIds } from '../helpers/task-page';
import { api, db, makeAccount, makeAgent, type ApiResult, type TestAccount } from '../helpers/fixtures';

type Task = { id: string; content: string; description: string | null };
const ids = (body: { id: string }[]) => body.map((x) => x.id);

/** What LIKE '%term%' answers: ASCII letters fold, nothing else does. */
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const likeMatches = (t: Task, term: string) => [t.content, t.description ?? ''].some((text) => asciiLower(text).includes(asciiLower(term)));

async function make(a: TestAccount, body: Record<string, unknown>, key = a.adminKey): Promise<Task> {
  const r = await api('POST', '/v1/tasks', key, body);
  if (r.status !== 201) throw new Error(JSON.stringify(r.body));
  return r.body as Task;
}

async function search(a: TestAccount, term: string, extra = '', key = a.adminKey) {
  const res = await api('GET', `/v1/tasks?search=${encodeURIComponent(term)}${extra}`, key);
  expect(res.status, term).toBe(200);
  return res;
}

/** Every task of the account, newest first: the listing the search must agree with. */
async function all(a: TestAccount): Promise<Task[]> {
  return (await api('GET', '/v1/tasks?limit=500', a.adminKey)).body;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Inserts tasks as given (ids, timestamps, order of insertion), bypassing the API. */
async function insertRows(a: TestAccount, rows: { id: string; content: string; description?: string; created: string }[]) {
  await env.DB.batch(
    rows.map((r) =>
      env.DB.prepare(
        'INSERT INTO tasks (id, account_id, project_id, root_task_id, content, description, created_by_agent_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ).bind(r.id, a.accountId, a.projectId, r.id, r.content, r.description ?? null, a.adminId, r.created, r.created),
    ),
  );
}

describe('search', () => {
  it('finds a term in content or in description, case-insensitively, anywhere in a word', async () => {
    const a = await makeAccount();
    const inContent = await make(a, { content: 'Fix the Login form' });
    const inDescription = await make(a, { content: 'Write docs', description: 'Cover the LOGIN page' });
    const both = await make(a, { content: 'login', description: 'login again' });
    await make(a, { content: 'Unrelated', description: 'log in later' });
    for (const term of ['login', 'LOGIN', 'LoGiN', 'ogi', 'ogin page', 'the login']) {
      const res = await search(a, term);
      const expected = [both, inDescription, inContent].filter((t) => likeMatches(t, term));
      expect(ids(res.body), term).toEqual(ids(expected));
      expect(res.headers.get('X-Total-Count'), term).toBe(String(expected.length));
    }
    expect((await search(a, 'form cover')).body).toEqual([]);
    // A term never spans content and description.
    expect((await search(a, 'docsCover')).body).toEqual([]);
  });

  it('folds ASCII case only, as LIKE does', async () => {
    const a = await makeAccount();
    const lower = await make(a, { content: 'Résumé été' });
    const upper = await make(a, { content: 'RÉSUMÉ ÉTÉ' });
    expect(ids((await search(a, 'résumé')).body)).toEqual([lower.id]);
    expect(ids((await search(a, 'RÉSUMÉ')).body)).toEqual([upper.id]);
    // ASCII letters around the accented ones still fold.
    expect(ids((await search(a, 'rÉsUmÉ')).body)).toEqual([upper.id]);
    expect(ids((await search(a, 'sum')).body)).toEqual([upper.id, lower.id]);
    expect(ids((await search(a, 'SUM')).body)).toEqual([upper.id, lower.id]);
  });

  it('treats hostile input as literal text', async () => {
    const a = await makeAccount();
    const texts = [
      'say "hello" now',
      'a"b',
      'cats AND dogs',
      'this OR that',
      'NEAR(one two)',
      'glob * star and abc*',
      '(parenthesised) text',
      '-minus ^caret +plus',
      'content:login and description:x',
      'emoji 🚀🚀🚀 launch',
      '日本語のタスク',
      'tab\there',
      'spaced   out',
      '100%_done',
      'back\\slash',
      "it's quoted",
      'plain words only',
    ];
    const made: Task[] = [];
    for (const content of texts) made.push(await make(a, { content }));
    const newestFirst = [...made].reverse();
    const terms = [
      '"',
      '""',
      '"hello"',
      'a"b',
      '"a"b"',
      'AND',
      'cats AND dogs',
      'OR',
      'or that',
      'NEAR',
      'NEAR(one two)',
      'NEAR(',
      '*',
      'abc*',
      '* st',
      '(',
      '(parenthesised)',
      ')',
      '-minus',
      '^caret',
      '+plus',
      'content:login',
      'description:',
      ':',
      '🚀',
      '🚀🚀',
      '🚀🚀🚀',
      '🚀 l',
      '日本',
      '日本語',
      'のタスク',
      '\t',
      'b\th',
      '   ',
      '  ',
      ' ',
      '%',
      '%_',
      '_d',
      '\\',
      'k\\s',
      "'",
      "it's",
      '{',
      '}',
      'a;b',
      '--',
      'NOT',
      'x NOT y',
      '\u00ad',
      'ab\u0000cd',
      ' "; drop table tasks; --',
    ];
    for (const term of terms) {
      const res = await search(a, term);
      expect(ids(res.body), JSON.stringify(term)).toEqual(ids(newestFirst.filter((t) => likeMatches(t, term))));
    }
    // Still all there.
    expect((await all(a)).length).toBe(texts.length);
  });

  it('quotes the term as one FTS5 string', () => {
    expect(ftsPhrase('abc')).toBe('"abc"');
    expect(ftsPhrase('a"b')).toBe('"a""b"');
    expect(ftsPhrase('"')).toBe('""""');
    expect(ftsPhrase('x OR y*')).toBe('"x OR y*"');
  });

  it('combines with the other filters and keeps their order', async () => {
    const a = await makeAccount();
    const worker = await makeAgent(a, 'worker');
    const other = (await api('POST', '/v1/projects', a.adminKey, { name: 'Other' })).body;
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const t1 = await make(a, { content: 'Deploy widget', labels: ['ops'], priority: 4, project_id: a.projectId, due_date: day(5) });
    const t2 = await make(a, { content: 'Widget docs', labels: ['docs'], priority: 2, project_id: other.id, due_date: day(1) });
    const t3 = await make(a, {
      content: 'Review',
      description: 'the widget PR',
      labels: ['ops', 'docs'],
      assigned_to_agent_id: worker.id,
      due_date: day(3),
    });
    const t4 = await make(a, { content: 'Gadget', labels: ['ops'], priority: 4 });
    await api('POST', `/v1/tasks/${t2.id}/complete`, a.adminKey);
    const cases: [string, Task[]][] = [
      ['', [t3, t2, t1]],
      ['&label=ops', [t3, t1]],
      ['&labels=ops,docs', [t3]],
      ['&priority=4', [t1]],
      ['&completed=true', [t2]],
      ['&completed=false', [t3, t1]],
      [`&project_id=${other.id}`, [t2]],
      [`&assigned_to=${worker.id}`, [t3]],
      // A due filter orders by the soonest due, with or without search.
      [`&due_after=${day(0)}`, [t2, t3, t1]],
      ['&completed=false&label=ops&priority=4', [t1]],
      // t4 has the label and the priority but not the term.
      ['&label=ops&priority=4', [t1]],
    ];
    for (const [extra, expected] of cases) {
      const res = await search(a, 'WIDGET', extra);
      expect(ids(res.body), extra).toEqual(ids(expected));
    }
    expect(ids((await api('GET', '/v1/tasks?label=ops&priority=4', a.adminKey)).body)).toEqual([t4.id, t1.id]);
  });

  it('answers only what a worker may see', async () => {
    const a = await makeAccount();
    const worker = await makeAgent(a, 'worker');
    const mine = await make(a, { content: 'Shared term alpha' }, worker.key);
    const assigned = await make(a, { content: 'alpha assigned', assigned_to_agent_id: worker.id });
    await make(a, { content: 'alpha hidden from the worker' });
    const res = await search(a, 'ALPHA', '', worker.key);
    expect(ids(res.body)).toEqual([assigned.id, mine.id]);
    expect((await search(a, 'alpha')).body).toHaveLength(3);
    // Another account's tasks never show.
    const b = await makeAccount();
    await make(b, { content: 'alpha elsewhere' });
    expect((await search(a, 'alpha')).body).toHaveLength(3);
    expect((await search(b, 'alpha')).body).toHaveLength(1);
  });

  it('pages with limit/offset and a Link header', async () => {
    const a = await makeAccount();
    const made: Task[] = [];
    for (let i = 0; i < 7; i++) made.push(await make(a, { content: `Paged item ${i}` }));
    await make(a, { content: 'Something else' });
    const expected = ids([...made].reverse());
    const seen: string[] = [];
    let path: string | null = '/v1/tasks?search=paged%20item&limit=3';
    const pages: string[][] = [];
    while (path) {
      const res: ApiResult<Task[]> = await api('GET', path, a.adminKey);
      pages.push(ids(res.body));
      seen.push(...ids(res.body));
      const next: string | undefined = res.headers.get('Link')?.match(/<https:\/\/api\.test([^>]+)>; rel="next"/)?.[1];
      if (next) {
        expect(next).toContain('search=paged');
        expect(res.headers.get('X-Total-Count')).toBeNull();
        expect(res.headers.get('X-Total-Count-Lower-Bound')).toBe(String(seen.length + 1));
      } else {
        expect(res.headers.get('X-Total-Count')).toBe('7');
      }
      path = next ?? null;
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(seen).toEqual(expected);
    const beyond = await api('GET', '/v1/tasks?search=paged%20item&offset=10', a.adminKey);
    expect(beyond.body).toEqual([]);
  });

  it('follows updates and deletes', async () => {
    const a = await makeAccount();
    const t = await make(a, { content: 'Original wording', description: 'first notes' });
    const keep = await make(a, { content: 'Original too' });
    expect(ids((await search(a, 'original')).body)).toEqual([keep.id, t.id]);

    await api('PATCH', `/v1/tasks/${t.id}`, a.adminKey, { content: 'Rewritten text' });
    expect(ids((await search(a, 'original')).body)).toEqual([keep.id]);
    expect(ids((await search(a, 'rewritten')).body)).toEqual([t.id]);
    expect(ids((await search(a, 'first notes')).body)).toEqual([t.id]);

    await api('PATCH', `/v1/tasks/${t.id}`, a.adminKey, { description: 'second notes' });
    expect((await search(a, 'first notes')).body).toEqual([]);
    expect(ids((await search(a, 'second notes')).body)).toEqual([t.id]);
    await api('PATCH', `/v1/tasks/${t.id}`, a.adminKey, { description: null });
    expect((await search(a, 'second')).body).toEqual([]);

    // Changes to other fields leave the index as it was.
    await api('PATCH', `/v1/tasks/${t.id}`, a.adminKey, { priority: 4, labels: ['x'] });
    expect(ids((await search(a, 'rewritten')).body)).toEqual([t.id]);
    await api('POST', `/v1/tasks/${t.id}/complete`, a.adminKey);
    expect(ids((await search(a, 'rewritten')).body)).toEqual([t.id]);

    await api('DELETE', `/v1/tasks/${t.id}`, a.adminKey);
    expect((await search(a, 'rewritten')).body).toEqual([]);
    expect(ids((await search(a, 'original')).body)).toEqual([keep.id]);
    // The index holds exactly the tasks there are.
    const integrity = await env.DB.prepare(`INSERT INTO tasks_fts (tasks_fts, rank) VALUES ('integrity-check', 1)`).run();
    expect(integrity.success).toBe(true);
  });

  it('orders like the listing: created_at, then id, whatever the order of insertion', async () => {
    const a = await makeAccount();
    const base = Date.now() - 3_600_000;
    // Inserted out of order: same second (id decides), and older rows inserted after newer ones.
    const rows = [
      { id: 'tsk_order_b', content: 'zeta one', created: iso(base) },
      { id: 'tsk_order_a', content: 'zeta two', created: iso(base) },
      { id: 'tsk_order_c', content: 'zeta three', created: iso(base) },
      { id: 'tsk_order_z', content: 'zeta four', created: iso(base - 60_000) },
      { id: 'tsk_order_y', content: 'other', description: 'has zeta', created: iso(base + 60_000) },
      { id: 'tsk_order_0', content: 'zeta five', created: iso(base - 120_000) },
      { id: 'tsk_order_x', content: 'no match', created: iso(base) },
    ];
    await insertRows(a, rows);
    const listing = ids((await all(a)).filter((t) => likeMatches(t, 'zeta')));
    expect(listing).toEqual(['tsk_order_y', 'tsk_order_c', 'tsk_order_b', 'tsk_order_a', 'tsk_order_z', 'tsk_order_0']);
    expect(ids((await search(a, 'ZETA')).body)).toEqual(listing);
    // Page by page, both plans (small pages make the count bound small) agree with it.
    for (const limit of [1, 2, 4]) {
      const got: string[] = [];
      for (let offset = 0; offset < listing.length; offset += limit)
        got.push(...ids((await search(a, 'zeta', `&limit=${limit}&offset=${offset}`)).body));
      expect(got, `limit ${limit}`).toEqual(listing);
    }
  });

  it('answers the same through either plan (few matches: the index; many: the walk)', async () => {
    const a = await makeAccount();
    const p = await authenticate(db(), env.KEY_PEPPER!, a.adminKey);
    const now = Date.now();
    const n = 60;
    expect(rareBound({ limit: 100, offset: 0 })).toBe(40);
    expect(rareBound({ limit: 5, offset: 0 })).toBe(40);
    expect(rareBound({ limit: 100, offset: 200 })).toBe(100);
    await insertRows(
      a,
      Array.from({ length: n }, (_, i) => ({
        id: `tsk_plan${String((i * 7) % n).padStart(3, '0')}`,
        content: i % 3 === 0 ? `Omega task ${i}` : `Plain task ${i}`,
        description: i % 4 === 0 ? 'with OMEGA notes' : undefined,
        created: iso(now - ((i * 13) % n) * 1000),
      })),
    );
    const everything = (await listTasks(db(), p, { filters: { limit: 500, offset: 0 }, now })).tasks;
    // 'task' (60 matches) and 'a' (under 3 characters) walk; the others (at most 40) use the index.
    const terms: [string, number][] = [
      ['omega', 30],
      ['task', 60],
      ['task 1', 11],
      ['OMEGA notes', 15],
      ['plain task', 40],
      ['a', 60],
    ];
    for (const [term, count] of terms) {
      const expected = everything.filter((t) => likeMatches(t, term)).map((t) => t.id);
      expect(expected, term).toHaveLength(count);
      const whole = await listTasks(db(), p, { filters: { limit: 100, offset: 0, search: term }, now });
      expect(pageIds(whole), term).toEqual(expected);
      expect(whole.total, term).toBe(expected.length);
      const paged: string[] = [];
      for (let offset = 0; offset < expected.length + 5; offset += 7) {
        const page = await listTasks(db(), p, { filters: { limit: 7, offset, search: term }, now });
        expect(page.hasMore, `${term} @${offset}`).toBe(offset + 7 < expected.length);
        paged.push(...pageIds(page));
      }
      expect(paged, term).toEqual(expected);
    }
  });

  it('keeps LIKE for terms under 3 characters', async () => {
    const a = await makeAccount();
    const t1 = await make(a, { content: 'ab' });
    const t2 = await make(a, { content: 'xAB y' });
    await make(a, { content: 'a b' });
    expect(ids((await search(a, 'ab')).body)).toEqual([t2.id, t1.id]);
    expect(ids((await search(a, 'B')).body)).toEqual(ids((await all(a)).filter((t) => likeMatches(t, 'B'))));
  });
});
