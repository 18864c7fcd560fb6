/**
 * The one error type the API throws on purpose. `app.onError` turns it into the contract's
 * envelope `{error, code, details?}`; anything else becomes a 500 with no internals on the wire.
 */
export interface ErrorDetail {
  field: string;
  message: string;
}

export type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

/**
 * Every `code` the API answers, in one list: the type of ApiError's code and the enum of the
 * OpenAPI Error schema (test/platform/error-codes.test.ts checks each is used and documented).
 */
export const ERROR_CODES = [
  // request shape
  'VALIDATION_FAILED',
  'MALFORMED_JSON',
  'JSON_TOO_DEEP',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'ROUTE_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'HTTP_ERROR',
  'INTERNAL_ERROR',
  'INVALID_IDEMPOTENCY_KEY',
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_IN_PROGRESS',
  'IDEMPOTENT_ANSWER_WITHHELD',
  'INVALID_FORM',
  'CROSS_SITE_FORM',
  // keys, roles, rates
  'UNAUTHORIZED',
  'TOO_MANY_FAILED_AUTHENTICATIONS',
  'RATE_LIMITED',
  'INSUFFICIENT_ROLE',
  'CLAIM_REQUIRED',
  'NOT_RESTRICTED',
  // accounts, agents, projects, plans
  'AGENT_NOT_FOUND',
  'AGENT_INACTIVE',
  'AGENT_IS_RECOVERY',
  'AGENT_IS_SELF',
  'AGENT_NAME_TAKEN',
  'AGENT_REFERENCED',
  'LAST_ACTIVE_AGENT',
  'KEY_ROTATION_CONFLICT',
  'PROJECT_NOT_FOUND',
  'PROJECT_NOT_EMPTY',
  'AGENT_LIMIT_REACHED',
  'PROJECT_LIMIT_REACHED',
  'WEBHOOK_LIMIT_REACHED',
  'AUTOMATION_LIMIT_REACHED',
  'INGRESS_SOURCE_LIMIT_REACHED',
  'RECURRENCE_LIMIT_REACHED',
  'TASK_QUOTA_EXCEEDED',
  'BILLING_NOT_CONFIGURED',
  'BILLING_UNAVAILABLE',
  'NO_BILLING_CUSTOMER',
  'INVALID_SIGNATURE',
  // onboarding and codes
  'EMAIL_TAKEN',
  'EMAIL_NOT_CONFIGURED',
  'EMAIL_UNAVAILABLE',
  'INVALID_CODE',
  'CODE_EXPIRED',
  'CODE_LOCKED',
  'CODE_ATTEMPTS_LOCKED',
  'CLAIM_TOKEN_NOT_FOUND',
  'CLAIM_TOKEN_EXPIRED',
  'CLAIM_TOKEN_USED',
  'ALREADY_CLAIMED',
  'NO_PENDING_CLAIM',
  // tasks and the queue
  'TASK_NOT_FOUND',
  'TASK_NOT_OWNED',
  'TASK_COMPLETED',
  'TASK_NOT_COMPLETED',
  'TASK_ALREADY_COMPLETED',
  'TASK_DELEGATED',
  'TASK_HAS_CHILDREN',
  'ASSIGNMENT_NOT_ALLOWED',
  'TASK_ALREADY_CLAIMED',
  'TASK_CLAIM_CONFLICT',
  'TASK_ASSIGNED_ELSEWHERE',
  'NO_LIVE_CLAIM',
  'EVIDENCE_REQUIRED',
  'DELEGATION_TOO_DEEP',
  'CONTEXT_TOO_LARGE',
  'CONTEXT_VERSION_CONFLICT',
  'SUBTASK_NOT_FOUND',
  'COMMENT_NOT_FOUND',
  'COMMENT_NOT_OWNED',
  // webhooks, automations, recurrences, ingress
  'WEBHOOK_NOT_FOUND',
  'WEBHOOK_INACTIVE',
  'UNKNOWN_EVENT',
  'INVALID_EVENT',
  'UNSAFE_WEBHOOK_URL',
  'DELIVERY_NOT_FOUND',
  'DELIVERY_NOT_FAILED',
  'AUTOMATION_NOT_FOUND',
  'INVALID_AUTOMATION',
  'RECURRENCE_NOT_FOUND',
  'RECURRENCE_NOT_OWNED',
  'INGRESS_SOURCE_NOT_FOUND',
  'INGRESS_SOURCE_PAUSED',
  'INGRESS_SIGNATURE_MISSING',
  'INGRESS_SIGNATURE_MALFORMED',
  'INGRESS_SIGNATURE_STALE',
  'INGRESS_SIGNATURE_INVALID',
  'INGRESS_REPLAYED',
  'INGRESS_BODY_NOT_JSON',
  'INGRESS_TEMPLATE_PATH_MISSING',
  'INGRESS_EMPTY_CONTENT',
  'INGRESS_PIN_INVALID',
  // read replicas, links, OAuth connections
  'INVALID_BOOKMARK',
  'LINK_NOT_FOUND',
  'CONNECTION_NOT_FOUND',
  'OAUTH_UNAVAILABLE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ApiErrorFields {
  status: ErrorStatus;
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
  /** Extra top-level fields for the body (e.g. a context conflict's `version` and `context`). */
  extra?: Record<string, unknown>;
  /** Extra response headers (e.g. `Retry-After`). */
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  readonly status: ErrorStatus;
  readonly code: ErrorCode;
  readonly details?: ErrorDetail[];
  readonly extra?: Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(fields: ApiErrorFields) {
    super(fields.message);
    this.name = 'ApiError';
    this.status = fields.status;
    this.code = fields.code;
    this.details = fields.details;
    this.extra = fields.extra;
    this.headers = fields.headers;
  }

  /** The same error with more response headers (theirs win over the ones it had). */
  withHeaders(headers: Record<string, string>): ApiError {
    return new ApiError({
      status: this.status,
      code: this.code,
      message: this.message,
      details: this.details,
      extra: this.extra,
      headers: { ...this.headers, ...headers },
    });
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

/** Resources whose 404 code is `<RESOURCE>_NOT_FOUND`, by name. */
type NotFoundResource = { [C in ErrorCode]: C extends `${infer R}_NOT_FOUND` ? Lowercase<R> : never }[ErrorCode];

export function notFound(resource: NotFoundResource): ApiError;
export function notFound(resource: string, code: ErrorCode): ApiError;
export function notFound(resource: string, code = `${resource.toUpperCase()}_NOT_FOUND` as ErrorCode): ApiError {
  return new ApiError({ status: 404, code, message: `${resource[0]!.toUpperCase()}${resource.slice(1)} not found` });
}

export const conflict = (code: ErrorCode, message: string, extra?: Record<string, unknown>) =>
  new ApiError({ status: 409, code, message, extra });

export const badRequest = (code: ErrorCode, message: string, details?: ErrorDetail[]) =>
  new ApiError({ status: 400, code, message, details });

export const forbidden = (code: ErrorCode, message: string) => new ApiError({ status: 403, code, message });
