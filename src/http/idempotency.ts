/**
 * `Idempotency-Key` on POST/PUT/PATCH/DELETE: replays the first answer for a retry of the same
 * request (marked `Idempotent-Replayed: true`), 422 for the same key with another request, 409
 * while the first is still running. On authenticated routes it runs after authentication, so
 * keys are scoped per agent; on public routes (signup, claim, recovery) the client's key is the
 * whole scope, and a replay also needs the identical request body.
 * Stored answers can hold secrets shown once (a new agent's key), so they are sealed under a
 * key derived from the server secret and the client's Idempotency-Key: the table alone
 * reveals nothing, and the scope's hash, not the client's key, is what it stores.
 * On public routes anyone can send the same key and body, so an answer carrying a secret
 * (marked by `secretAnswer`) is never replayed there: a retry gets 409 IDEMPOTENT_ANSWER_WITHHELD.
 */
import type { MiddlewareHandler } from 'hono';
import { database } from '../db/client';
import { abandonIdempotent, beginIdempotent, finishIdempotent } from './idempotency-records';
import type { AppBindings } from '../env';
import { hmacSha256Hex, seal, sha256Hex, unseal } from '../platform/crypto';
import { keyPepper } from '../platform/config';
import { ApiError } from '../platform/errors';
import type { Context } from 'hono';

/** Marks the answer as carrying a secret shown once: never cached, never replayed to the public. */
export function secretAnswer(c: Context<AppBindings>): void {
  c.header('Cache-Control', 'no-store');
}

const carriesSecret = (res: Response) => /\bno-store\b/.test(res.headers.get('Cache-Control') ?? '');

/** What a public retry gets instead of an answer that held a secret. */
function withheldAnswer(status: number): string {
  return JSON.stringify({
    error: `The first request with this Idempotency-Key succeeded (${status}), and its answer held a secret shown only once, so it is not replayed. Nothing was changed by this retry. A lost key can be recovered with POST /v1/recover.`,
    code: 'IDEMPOTENT_ANSWER_WITHHELD',
  });
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const idempotency: MiddlewareHandler<AppBindings> = async (c, next) => {
  const key = c.req.header('Idempotency-Key');
  if (key === undefined || !WRITE_METHODS.has(c.req.method)) return next();
  if (key.length < 1 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
    throw new ApiError({
      status: 400,
      code: 'INVALID_IDEMPOTENCY_KEY',
      message: 'Idempotency-Key must be 1-255 visible ASCII characters',
      details: [{ field: 'Idempotency-Key', message: 'Invalid' }],
    });
  }
  const db = database(c.env.DB);
  const pepper = keyPepper(c.env);
  const principal = c.get('principal') as AppBindings['Variables']['principal'] | undefined;
  const scope = principal ? `${principal.agentId}:${key}` : `public:${key}`;
  const scopeKey = await hmacSha256Hex(pepper, `idempotency:${scope}`);
  // /api and /v1 are one API: a retry through either prefix is the same request.
  const path = c.req.path.replace(/^\/(v1|api)\//, '/');
  const requestHash = await sha256Hex(`${c.req.method} ${path}?${new URL(c.req.url).search}\n${c.get('rawBody') ?? ''}`);

  const start = await beginIdempotent(db, { scopeKey, requestHash, now: Date.now() });
  if (start.kind === 'mismatch') {
    throw new ApiError({
      status: 422,
      code: 'IDEMPOTENCY_KEY_REUSED',
      message: 'This Idempotency-Key was already used with a different request; use a new key for a new request',
    });
  }
  if (start.kind === 'in_progress') {
    throw new ApiError({
      status: 409,
      code: 'IDEMPOTENCY_IN_PROGRESS',
      message: 'A request with this Idempotency-Key is still being processed; retry shortly',
    });
  }
  if (start.kind === 'replay') {
    const body = await unseal(pepper, scope, start.body);
    if (body === null) throw new Error('stored idempotent answer could not be unsealed');
    // Replays of writes are never cacheable; some (a new key to its own agent) hold secrets.
    c.res = new Response(body, {
      status: start.status,
      headers: { 'Content-Type': start.contentType ?? 'application/json', 'Idempotent-Replayed': 'true', 'Cache-Control': 'no-store' },
    });
    return;
  }

  await next();
  const res = c.res;
  if (res.status >= 500 || res.status === 429) {
    await abandonIdempotent(db, scopeKey);
    return;
  }
  if (!principal && carriesSecret(res)) {
    await finishIdempotent(db, {
      scopeKey,
      status: 409,
      body: await seal(pepper, scope, withheldAnswer(res.status)),
      contentType: 'application/json',
    });
    return;
  }
  await finishIdempotent(db, {
    scopeKey,
    status: res.status,
    body: await seal(pepper, scope, await res.clone().text()),
    contentType: res.headers.get('Content-Type'),
  });
};
