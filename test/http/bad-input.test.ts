/** Every class of bad input gets a clear error in the envelope and changes nothing. */
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, BASE, makeAccount, makeAgent } from '../helpers/fixtures';

describe('bad input', () => {
  it('malformed JSON is 400 MALFORMED_JSON', async () => {
    const account = await makeAccount();
    const res = await api('POST', '/v1/projects', account.adminKey, '{"name": ');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'Request body is not valid JSON', code: 'MALFORMED_JSON' });
  });

  it('a non-JSON content type is 415', async () => {
    const account = await makeAccount();
    const res = await api('POST', '/v1/projects', account.adminKey, 'name=x', { 'Content-Type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expect(res.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const none = await SELF.fetch(`${BASE}/v1/projects`, {
      method: 'POST',
      headers: { 'X-Agent-Key': account.adminKey },
      body: '{"name":"x"}',
    });
    expect(none.status).toBe(415);
  });

  it('a body over 64 KiB is 413, by header or by bytes read', async () => {
    const account = await makeAccount();
    const big = JSON.stringify({ name: 'x', emoji: 'y'.repeat(70 * 1024) });
    const res = await api('POST', '/v1/projects', account.adminKey, big);
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
        controller.close();
      },
    });
    const chunked = await SELF.fetch(`${BASE}/v1/projects`, {
      method: 'POST',
      headers: { 'X-Agent-Key': account.adminKey, 'Content-Type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await api('GET', '/v1/projects', account.adminKey)).body).toHaveLength(1);
  });

  it('an empty JSON body means {} (clients POST actions with no body)', async () => {
    const account = await makeAccount();
    const res = await api('POST', `/v1/agents/${account.adminId}/rotate-key`, account.adminKey, '', { 'Content-Type': 'application/json' });
    expect(res.status).toBe(200);
    const noType = await SELF.fetch(`${BASE}/v1/agents/${account.adminId}/rotate-key`, {
      method: 'POST',
      headers: { 'X-Agent-Key': res.body.api_key },
    });
    expect(noType.status).toBe(200);
    // What Node's fetch and Python's requests.post(url) send: no Content-Type, Content-Length: 0.
    const emptyNoType = await SELF.fetch(`${BASE}/v1/agents/${account.adminId}/rotate-key`, {
      method: 'POST',
      headers: { 'X-Agent-Key': ((await noType.json()) as { api_key: string }).api_key },
      body: '',
    });
    expect(emptyNoType.status).toBe(200);
  });

  it('a JSON body that is not an object is a validation error, not a crash', async () => {
    const account = await makeAccount();
    for (const body of ['[]', '"text"', '42', 'null']) {
      const res = await api('POST', '/v1/projects', account.adminKey, body);
      expect(res.status, body).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
  });

  it('path ids that cannot exist are 404, not 500', async () => {
    const account = await makeAccount();
    for (const id of ['x'.repeat(65), '%00', "'; drop table agents; --"]) {
      const res = await api('GET', `/v1/agents/${encodeURIComponent(id)}`, account.adminKey);
      expect([400, 404]).toContain(res.status);
      expect(res.body.error).toEqual(expect.any(String));
    }
  });

  it('JSON nested deeper than 32 levels is 400 JSON_TOO_DEEP and changes nothing', async () => {
    const account = await makeAccount();
    const t = (await api('POST', '/v1/tasks', account.adminKey, { content: 't' })).body.id;
    const nest = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const deep = await api('PATCH', `/v1/tasks/${t}/context`, account.adminKey, `{"k":${nest(1000)}}`);
    expect(deep.status).toBe(400);
    expect(deep.body).toMatchObject({ code: 'JSON_TOO_DEEP', error: expect.stringContaining('32') });
    const arrays = await api('PATCH', `/v1/tasks/${t}/context`, account.adminKey, `{"k":${'['.repeat(40)}${']'.repeat(40)}}`);
    expect(arrays.body.code).toBe('JSON_TOO_DEEP');
    const created = await api(
      'POST',
      '/v1/tasks',
      account.adminKey,
      `{"content":"c","description":${JSON.stringify('{'.repeat(500))},"x":${nest(60)}}`,
    );
    expect(created.body.code).toBe('JSON_TOO_DEEP');
    expect((await api('GET', `/v1/tasks/${t}/context`, account.adminKey)).body).toEqual({ context: {}, version: 0 });
    expect((await api('GET', '/v1/tasks', account.adminKey)).body).toHaveLength(1);
    // Brackets inside strings do not count, and 32 levels (the whole body included) are fine.
    const fine = await api(
      'PATCH',
      `/v1/tasks/${t}/context`,
      account.adminKey,
      `{"s":${JSON.stringify(`${'[{'.repeat(200)}\\"`)},"k":${nest(31)}}`,
    );
    expect(fine.status).toBe(200);
    expect(fine.body.version).toBe(1);
  });

  it('a listing filtered by more than 20 labels is 400 for every role, and 20 work', async () => {
    const account = await makeAccount();
    const worker = await makeAgent(account, 'worker');
    const labels = (n: number) => Array.from({ length: n }, (_, i) => `l${i}`);
    await api('POST', '/v1/tasks', account.adminKey, { content: 'all', labels: labels(20) });
    for (const key of [account.adminKey, worker.key]) {
      for (const query of [`labels=${labels(60).join(',')}`, `labels=${labels(21).join(',')}`, `label=x&labels=${labels(20).join(',')}`]) {
        const res = await api('GET', `/v1/tasks?${query}`, key);
        expect(res.status, query).toBe(400);
        expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'labels' }] });
      }
      const twenty = await api('GET', `/v1/tasks?labels=${labels(20).join(',')}`, key);
      expect(twenty.status).toBe(200);
    }
    expect((await api('GET', `/v1/tasks?labels=${labels(20).join(',')}`, account.adminKey)).body).toHaveLength(1);
  });
});
