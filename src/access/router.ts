/**
 * Route plumbing shared by every resource: the router factory with the one validation hook,
 * `authedRoute` (binds a route to its operation in the authorisation table), `publicRoute`,
 * and the error responses every route documents.
 */
import { createRoute, OpenAPIHono, z, type RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { ZodError } from 'zod';
import { authorize, type Operation, type Principal } from './policy';
import { keyFromHeaders, keyRefOf, principalOf, type KeyRef } from './authentication';
import type { AppBindings } from '../env';
import { keyPepper, limit } from '../platform/config';
import { admitKey, type Admission } from './key-gate';
import { rateLimitHeaders, takeToken } from './rate-limiter';
import { idempotency } from '../http/idempotency';
import { ApiError, ERROR_CODES, type ErrorDetail } from '../platform/errors';
import { normaliseJsonBody } from '../http/body';

export const ErrorSchema = z
  .object({
    error: z.string().openapi({ example: 'Task not found' }),
    code: z.enum(ERROR_CODES).openapi({ example: 'TASK_NOT_FOUND' }),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .openapi('Error');

export const errorContent = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
});

/** Turns zod issues into per-field details. */
export function validationDetails(error: ZodError, target?: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) details.push({ field: path ? `${path}.${key}` : key, message: 'Unknown field' });
      continue;
    }
    details.push({ field: path || target || 'body', message: issue.message });
  }
  return details;
}

function validationError(error: ZodError, target: string): ApiError {
  const details = validationDetails(error, target);
  const where = target === 'json' ? 'request body' : target === 'query' ? 'query string' : target;
  const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  return new ApiError({ status: 400, code: 'VALIDATION_FAILED', message: `Invalid ${where}: ${summary}`, details });
}

export function createRouter() {
  return new OpenAPIHono<AppBindings>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error as ZodError, result.target);
    },
  });
}

export type Router = ReturnType<typeof createRouter>;

/** Cloudflare sets CF-Connecting-IP at the edge; clients cannot forge it there. */
export function clientIp(c: Context<AppBindings>): string {
  return c.req.header('CF-Connecting-IP') ?? 'unknown';
}

/**
 * Failed authentications are counted per client address: past the limit the address gets 429
 * until the window ends, so nobody can try keys (or make the service look up unknown keys, each
 * a Durable Object call) without bound. Successful requests never touch this count.
 */
async function countFailedAuthentication(c: Context<AppBindings>): Promise<void> {
  const rate = await takeToken(c.env, {
    subject: `authfail:${clientIp(c)}`,
    limit: limit(c.env, 'AUTH_FAILURES_PER_MINUTE'),
    nowMs: Date.now(),
  });
  if (rate.allowed) return;
  const retryAfter = String(Math.max(1, rate.resetAt - Math.floor(Date.now() / 1000)));
  throw new ApiError({
    status: 429,
    code: 'TOO_MANY_FAILED_AUTHENTICATIONS',
    message: `Too many requests with a missing or invalid API key from this address; retry after ${retryAfter} s`,
    headers: {
      ...rateLimitHeaders(rate),
      'Retry-After': retryAfter,
    },
  });
}

/**
 * Authenticates the request's key and counts it against the key's rate limit: the principal
 * and the rate headers every answer carries. 401 and 429 are thrown (REST routes and /mcp).
 * `verifiedKey` admits an OAuth token's agent as its key.
 */
export async function admitRequest(
  c: Context<AppBindings>,
  verifiedKey?: KeyRef,
): Promise<{ principal: Principal; rateHeaders: Record<string, string> }> {
  let principal: Principal;
  let admission: Admission;
  try {
    // An OAuth token for /mcp arrives already verified, carrying its agent's key hash and account.
    const key =
      verifiedKey ?? (await keyRefOf(keyPepper(c.env), keyFromHeaders(c.req.header('X-Agent-Key'), c.req.header('Authorization'))));
    admission = await admitKey(c.env, key, Date.now());
    principal = principalOf(admission.holder);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) await countFailedAuthentication(c);
    throw e;
  }
  // An active holder is always counted.
  const rate = admission.rate!;
  const rateHeaders = rateLimitHeaders(rate);
  if (!rate.allowed) {
    const retryAfter = String(Math.max(1, rate.resetAt - Math.floor(Date.now() / 1000)));
    throw new ApiError({
      status: 429,
      code: 'RATE_LIMITED',
      message: `Rate limit of ${rate.limit} requests per minute exceeded; retry after ${retryAfter} s`,
      headers: { ...rateHeaders, 'Retry-After': retryAfter },
    });
  }
  return { principal, rateHeaders };
}

/** Authenticates the key, counts it against its rate limit, then checks the authorisation table. */
export function requireOperation(operation: Operation): MiddlewareHandler<AppBindings> {
  return async (c, next) => {
    const { principal, rateHeaders } = await admitRequest(c);
    c.set('principal', principal);
    try {
      authorize(principal, operation);
    } catch (e) {
      // A refusal here is answered after this middleware returns: its rate headers travel with the error.
      throw e instanceof ApiError
        ? new ApiError({
            status: e.status,
            code: e.code,
            message: e.message,
            details: e.details,
            extra: e.extra,
            headers: { ...rateHeaders, ...e.headers },
          })
        : e;
    }
    try {
      await next();
    } finally {
      for (const [name, value] of Object.entries(rateHeaders)) c.res.headers.set(name, value);
    }
  };
}

/** The route as `createRoute` types it; the added error responses are thrown, never returned. */
type BuiltRoute<P extends string, R extends RouteInput<P>> = ReturnType<typeof createRoute<P, R & { path: P }>>;

type RouteInput<P extends string> = Omit<RouteConfig, 'path' | 'security' | 'middleware'> & { path: P };

const isWrite = (config: Omit<RouteConfig, 'path'>) => ['post', 'put', 'patch', 'delete'].includes(config.method);

function documentedErrors(config: Omit<RouteConfig, 'path'>, authed: boolean) {
  const hasBody = Boolean(config.request?.body);
  const hasParams = Boolean(config.request?.params);
  return {
    400: errorContent('Invalid input: malformed JSON or fields that fail validation (see `details`)'),
    ...(authed ? { 401: errorContent('Missing or invalid API key'), 403: errorContent('The key may not do this') } : {}),
    ...(hasParams || authed ? { 404: errorContent('Not found, or not visible to this key') } : {}),
    ...(isWrite(config)
      ? {
          409: errorContent('A request with this Idempotency-Key is still running (IDEMPOTENCY_IN_PROGRESS)'),
          422: errorContent('This Idempotency-Key was used with a different request (IDEMPOTENCY_KEY_REUSED)'),
        }
      : {}),
    ...(hasBody ? { 413: errorContent('Body larger than the limit'), 415: errorContent('Body is not application/json') } : {}),
    429: errorContent('Rate limit exceeded; see Retry-After'),
  };
}

/**
 * Every write takes an Idempotency-Key. The `idempotency` middleware checks and applies it; this
 * only documents it (a plain parameter, so no header validator runs on each request).
 */
const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  in: 'header' as const,
  required: false,
  description:
    'Makes a retry safe: within 24 h the same key with the same request gets the first answer back (`Idempotent-Replayed: true`) and changes nothing; with another request it is a 422. 1-255 visible ASCII characters.',
  schema: { type: 'string' as const, minLength: 1, maxLength: 255, example: '8e0f5a4c-7d1b-4b8e-9a63-2f0d2c1e9b77' },
};

const idempotencyParameters = (config: Omit<RouteConfig, 'path'>) =>
  isWrite(config) ? { parameters: [...(config.parameters ?? []), IDEMPOTENCY_HEADER] } : {};

/** A route that needs an API key allowed to perform `operation`. */
export function authedRoute<P extends string, R extends RouteInput<P>>(operation: Operation, config: R): BuiltRoute<P, R> {
  return createRoute({
    ...config,
    ...idempotencyParameters(config),
    responses: { ...documentedErrors(config, true), ...config.responses },
    security: [{ AgentKey: [] }, { Bearer: [] }],
    // Authenticate first, so an anonymous caller learns nothing from body errors.
    middleware: [requireOperation(operation), normaliseJsonBody, idempotency] as const,
    'x-delega-operation': operation,
  }) as unknown as BuiltRoute<P, R>;
}

/** A route anyone may call; `before` runs ahead of everything else (e.g. a per-IP limit that replays must count too). */
export function publicRoute<P extends string, R extends RouteInput<P>>(
  config: R,
  opts: { before?: MiddlewareHandler<AppBindings>[] } = {},
): BuiltRoute<P, R> {
  return createRoute({
    ...config,
    ...idempotencyParameters(config),
    responses: { ...documentedErrors(config, false), ...config.responses },
    middleware: [...(opts.before ?? []), normaliseJsonBody, idempotency] as const,
    'x-delega-operation': 'public',
  }) as unknown as BuiltRoute<P, R>;
}

/** `{ deleted: true, id }`: the answer of every DELETE (clients call `.json()` on it). */
export const DeletedSchema = z.object({ deleted: z.literal(true), id: z.string() }).openapi('Deleted');

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const jsonBody = <T extends z.ZodType>(schema: T, required = true) => ({
  required,
  content: { 'application/json': { schema } },
});

/** Path parameter `{id}` with an example of the resource's prefix. */
export const idParams = (prefix: string) =>
  z.object({
    id: z
      .string()
      .min(1)
      .max(64)
      .openapi({ param: { name: 'id', in: 'path' }, example: `${prefix}_0abc` }),
  });
