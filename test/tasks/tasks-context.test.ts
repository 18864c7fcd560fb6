import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, makeAccount, makeAgent } from '../helpers/fixtures';

describe('task context', () => {
  it('merges, versions, removes keys with null, and reads back as {context, version}', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 't' })).body.id;
    expect((await api('GET', `/v1/tasks/${t}/context`, a.adminKey)).body).toEqual({ context: {}, version: 0 });
    const one = await api('PATCH', `/v1/tasks/${t}/context`, a.adminKey, { notes: 'n', urls: ['https://x'], nested: { a: 1 }, flag: true });
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ context: { notes: 'n', urls: ['https://x'], nested: { a: 1 }, flag: true }, version: 1 });
    const two = await api('PATCH', `/v1/tasks/${t}/context`, a.adminKey, { notes: null, nested: { b: 2 }, count: 3 });
    expect(two.body).toEqual({ context: { urls: ['https://x'], nested: { a: 1, b: 2 }, flag: true, count: 3 }, version: 2 });
    expect((await api('GET', `/v1/tasks/${t}`, a.adminKey)).body.context_version).toBe(2);
  });

  it('guards with expected_version: 409 carries the current version and context', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 't' })).body.id;
    await api('PATCH', `/v1/tasks/${t}/context`, a.adminKey, { a: 1 });
    const ok = await api('PATCH', `/v1/tasks/${t}/context?expected_version=1`, a.adminKey, { b: 2 });
    expect(ok.body).toEqual({ context: { a: 1, b: 2 }, version: 2 });
    const stale = await api('PATCH', `/v1/tasks/${t}/context?expected_version=1`, a.adminKey, { c: 3 });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ code: 'CONTEXT_VERSION_CONFLICT', version: 2, context: { a: 1, b: 2 } });
    expect(typeof stale.body.error).toBe('string');
    expect((await api('GET', `/v1/tasks/${t}/context`, a.adminKey)).body.version).toBe(2);
  });

  it('never loses a key when unguarded merges of different keys race', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 't' })).body.id;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => api('PATCH', `/v1/tasks/${t}/context`, a.adminKey, { [`k${i}`]: i })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const final = (await api('GET', `/v1/tasks/${t}/context`, a.adminKey)).body;
    expect(final.version).toBe(12);
    expect(Object.keys(final.context).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `k${i}`).sort());
    // Each merge got its own version.
    expect(new Set(results.map((r) => r.body.version)).size).toBe(12);
  });

  it('lets exactly one of two racing guarded merges win', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 't' })).body.id;
    const [x, y] = await Promise.all([
      api('PATCH', `/v1/tasks/${t}/context?expected_version=0`, a.adminKey, { x: 1 }),
      api('PATCH', `/v1/tasks/${t}/context?expected_version=0`, a.adminKey, { y: 1 }),
    ]);
    expect([x!.status, y!.status].sort()).toEqual([200, 409]);
    const history = (await api('GET', `/v1/tasks/${t}/context/history`, a.adminKey)).body;
    expect(history.entries).toHaveLength(1);
  });

  it('records provenance per key and an append-only history', async () => {
    const a = await makeAccount();
    const coordKeyHolder = await makeAgent(a, 'worker');
    const t = (await api('POST', '/v1/tasks', coordKeyHolder.key, { content: 't' })).body.id;
    await api('PATCH', `/v1/tasks/${t}/context?source=human_stated`, coordKeyHolder.key, { budget: 100, owner: 'ada' });
    await api('PATCH', `/v1/tasks/${t}/context`, a.adminKey, { budget: 120 });
    await api('PATCH', `/v1/tasks/${t}/context?source=agent_observed`, a.adminKey, { owner: null });
    const prov = (await api('GET', `/v1/tasks/${t}/context?include=provenance`, a.adminKey)).body;
    expect(prov.context).toEqual({ budget: 120 });
    expect(prov.provenance).toEqual({
      budget: {
        author_agent_id: a.adminId,
        author_name: expect.any(String),
        source: 'agent_inferred',
        version: 2,
        created_at: expect.stringMatching(/Z$/),
      },
    });
    const history = (await api('GET', `/v1/tasks/${t}/context/history`, a.adminKey)).body;
    // Newest first; a value replaced by a later write of its key says when.
    expect(history.entries.map((h: any) => [h.version, h.key, h.value, h.source, h.author_agent_id, h.superseded_at === null])).toEqual([
      [3, 'owner', null, 'agent_observed', a.adminId, true],
      [2, 'budget', 120, 'agent_inferred', a.adminId, true],
      [1, 'budget', 100, 'human_stated', coordKeyHolder.id, false],
      [1, 'owner', 'ada', 'human_stated', coordKeyHolder.id, false],
    ]);
    expect(history.next_cursor).toBeNull();
    expect(history.entries[3].superseded_at).toBe(history.entries[0].created_at);
    const onlyOwner = (await api('GET', `/v1/tasks/${t}/context/history?key=owner`, a.adminKey)).body;
    expect(onlyOwner.entries.map((h: any) => h.version)).toEqual([3, 1]);
    // Pages follow next_cursor to the oldest entry, each entry once.
    const seen: number[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: any = (
        await api('GET', `/v1/tasks/${t}/context/history?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, a.adminKey)
      ).body;
      seen.push(...page.entries.map((h: any) => h.version));
      cursor = page.next_cursor;
    }
    expect(seen).toEqual([3, 2, 1, 1]);
    expect((await api('GET', `/v1/tasks/${t}/context/history?cursor=nonsense`, a.adminKey)).status).toBe(400);
  });

  it('caps the merged size with 413 and refuses bad input', async () => {
    const a = await makeAccount();
    const t = (await api('POST', '/v1/tasks', a.adminKey, { content: 't' })).body.id;
    const max = Number(env.LIMIT_CONTEXT_BYTES ?? 32 * 1024);
    const half = 'x'.repeat(Math.floor(max / 2) + 10);
    expect((await api('PATCH', `/v1/tasks/${t}/context`, a.adminKey, { a: half })).status).toBe(200);
    const big = await api('PATCH', `/v1/tasks/${t}/context`, a.adminKey, { b: half });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe('CONTEXT_TOO_LARGE');
    expect((await api('PATCH', `/v1/tasks/${t}/context`, a.adminKey, { c: 'x'.repeat(max + 1) })).status).toBe(413);
    expect((await api('GET', `/v1/tasks/${t}/context`, a.adminKey)).body.version).toBe(1);
    expect((await api('PATCH', `/v1/tasks/${t}/context`, a.adminKey, [1, 2])).status).toBe(400);
    expect((await api('PATCH', `/v1/tasks/${t}/context`, a.adminKey, '"text"')).status).toBe(400);
    expect((await api('PATCH', `/v1/tasks/${t}/context?source=rumour`, a.adminKey, { a: 1 })).status).toBe(400);
    expect((await api('PATCH', `/v1/tasks/${t}/context?expected_version=abc`, a.adminKey, { a: 1 })).status).toBe(400);
    expect((await api('GET', `/v1/tasks/${t}/context?include=everything`, a.adminKey)).status).toBe(400);
  });
});
