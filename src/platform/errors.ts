/**
 * The one error type the API throws on purpose. `app.onError` turns it into the contract's
 * envelope `{error, code, details?}`; anything else becomes a 500 with no internals on the wire.
 */
export interface ErrorDetail {
  field: string;
  message: string;
}

export type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

export class ApiError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    /** Extra top-level fields for the body (e.g. a context conflict's `version` and `context`). */
    readonly extra?: Record<string, unknown>,
    /** Extra response headers (e.g. `Retry-After`). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): Record<string, unknown> {
    return {
      error: this.message,
      code: this.code,
      ...(this.details ? { details: this.details } : {}),
      ...this.extra,
    };
  }
}

export const notFound = (resource: string, code = `${resource.toUpperCase()}_NOT_FOUND`) =>
  new ApiError(404, code, `${resource[0]!.toUpperCase()}${resource.slice(1)} not found`);

export const conflict = (code: string, message: string, extra?: Record<string, unknown>) =>
  new ApiError(409, code, message, undefined, extra);

export const badRequest = (code: string, message: string, details?: ErrorDetail[]) =>
  new ApiError(400, code, message, details);

export const forbidden = (code: string, message: string) => new ApiError(403, code, message);
