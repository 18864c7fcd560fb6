/**
 * The one place errors become responses: `{error, code, details?}` with the right status.
 * Internals (stack, messages of unexpected errors) go to the log, never on the wire.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppBindings } from '../env';
import { ApiError, type ErrorStatus } from '../platform/errors';

function fromHttpException(e: HTTPException): ApiError {
  switch (e.status) {
    case 400:
      return new ApiError({ status: 400, code: 'MALFORMED_JSON', message: 'Request body is not valid JSON' });
    case 413:
      return new ApiError({ status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' });
    case 415:
      return new ApiError({
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'Send the request body as JSON with Content-Type: application/json',
      });
    default:
      return new ApiError({ status: e.status as ErrorStatus, code: 'HTTP_ERROR', message: e.message || 'Request failed' });
  }
}

export function errorResponse(c: Context<AppBindings>, error: ApiError): Response {
  const res = c.json(error.body(), error.status);
  for (const [name, value] of Object.entries(error.headers ?? {})) res.headers.set(name, value);
  return res;
}

export const onError: ErrorHandler<AppBindings> = (err, c) => {
  if (err instanceof ApiError) return errorResponse(c, err);
  if (err instanceof HTTPException) return errorResponse(c, fromHttpException(err));
  console.error(
    JSON.stringify({
      level: 'error',
      requestId: c.get('requestId'),
      path: c.req.path,
      message: String(err),
      stack: err instanceof Error ? err.stack : undefined,
    }),
  );
  return errorResponse(
    c,
    new ApiError({ status: 500, code: 'INTERNAL_ERROR', message: `Internal error (request ${c.get('requestId') ?? 'unknown'})` }),
  );
};

export const onNotFound: NotFoundHandler<AppBindings> = (c) =>
  errorResponse(
    c,
    new ApiError({ status: 404, code: 'ROUTE_NOT_FOUND', message: `No route for ${c.req.method} ${c.req.path}; see /docs` }),
  );
