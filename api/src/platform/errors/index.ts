/**
 * Small error classes that decide a response. One handler (platform/errors/handler.ts) maps them to
 * RFC 9457 problem details; anything else is a 500 whose detail never leaks.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly extra: { type?: string; headers?: Record<string, string>; fields?: Record<string, unknown> } = {},
  ) {
    super(detail);
  }
}

export class BadRequestError extends HttpError {
  constructor(detail: string, fields?: Record<string, unknown>) {
    super(400, 'Bad Request', detail, { type: 'validation', fields });
  }
}
export class UnauthorizedError extends HttpError {
  constructor(detail = 'Missing or invalid credentials.') {
    super(401, 'Unauthorized', detail, { type: 'unauthorized', headers: { 'www-authenticate': 'Bearer' } });
  }
}
export class ForbiddenError extends HttpError {
  constructor(detail = 'You may not do this.') {
    super(403, 'Forbidden', detail, { type: 'forbidden' });
  }
}
export class NotFoundError extends HttpError {
  constructor(detail = 'No such resource.') {
    super(404, 'Not Found', detail, { type: 'not-found' });
  }
}
export class ConflictError extends HttpError {
  constructor(detail: string, type = 'conflict', headers?: Record<string, string>) {
    super(409, 'Conflict', detail, { type, headers });
  }
}
export class PreconditionFailedError extends HttpError {
  constructor(detail = 'The resource has changed since you read it (If-Match is stale).') {
    super(412, 'Precondition Failed', detail, { type: 'precondition-failed' });
  }
}
export class IdempotencyConflictError extends HttpError {
  constructor(detail = 'This Idempotency-Key was used with a different request.') {
    super(422, 'Unprocessable Content', detail, { type: 'idempotency-key-reused' });
  }
}
export class IdempotencyInFlightError extends HttpError {
  constructor(retryAfterSeconds = 1) {
    super(409, 'Conflict', 'A request with this Idempotency-Key is still being processed.', {
      type: 'idempotency-in-flight',
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
}
export class TooManyRequestsError extends HttpError {
  constructor(retryAfterSeconds: number, detail = 'Too many requests.') {
    super(429, 'Too Many Requests', detail, {
      type: 'rate-limited',
      headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}
export class ServiceUnavailableError extends HttpError {
  constructor(detail: string, retryAfterSeconds = 2) {
    super(503, 'Service Unavailable', detail, {
      type: 'service-unavailable',
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
}
