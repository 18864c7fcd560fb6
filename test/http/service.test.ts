import { describe, expect, it } from 'vitest';
import { api } from '../helpers/fixtures';

describe('service routes', () => {
  it('GET / answers the welcome with version and endpoint map', async () => {
    const res = await api('GET', '/');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'Delega API', docs: '/docs', openapi: '/v1/openapi.json' });
    expect(res.body.endpoints.tasks).toContain('/v1/tasks');
  });

  it('GET /health really queries D1', async () => {
    const res = await api('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: 'ok' });
    expect(res.body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('unknown routes are 404 in the error envelope', async () => {
    const res = await api('GET', '/v1/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: expect.stringContaining('/v1/nope'), code: 'ROUTE_NOT_FOUND' });
  });
});

describe('browser clients (CORS)', () => {
  it('answers preflight for the API with the headers clients send and read', async () => {
    const res = await api('OPTIONS', '/v1/tasks', null, undefined, {
      Origin: 'https://app.example.com',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'x-agent-key, content-type, idempotency-key',
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(res.headers.get('Access-Control-Allow-Headers')?.toLowerCase()).toContain('x-agent-key');
    const get = await api('GET', '/v1/capabilities', null, undefined, { Origin: 'https://app.example.com' });
    expect(get.status).toBe(401);
    expect(get.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(get.headers.get('Access-Control-Expose-Headers')).toContain('X-RateLimit-Remaining');
  });
});
