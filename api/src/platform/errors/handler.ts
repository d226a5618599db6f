import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../app-types.ts';
import { isDatabaseUnavailable } from '../db/client.ts';
import { HttpError } from './index.ts';

export const PROBLEM_TYPE_BASE = 'https://notes-pipeline.dev/problems/';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Extension members, e.g. `field` or `errors` on a validation problem. */
  [extension: string]: unknown;
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: Problem) {
  return reply
    .status(problem.status)
    .type('application/problem+json')
    .send({ ...problem, instance: request.url.split('?')[0] });
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  411: 'Length Required',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};

/**
 * The one error handler: our HttpErrors, Fastify's own client errors (validation, bad JSON,
 * body too large, wrong content type) and everything else as RFC 9457 problem details.
 */
export function installErrorHandler(app: App): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HttpError) {
      for (const [k, v] of Object.entries(error.extra.headers ?? {})) reply.header(k, v);
      return sendProblem(reply, request, {
        type: PROBLEM_TYPE_BASE + (error.extra.type ?? 'error'),
        title: error.title,
        status: error.status,
        detail: error.message,
        ...(error.extra.fields ?? {}),
      });
    }
    if (error.validation) {
      const first = error.validation[0];
      const field = fieldOf(first);
      const detail = field ? `${field}: ${first?.message ?? 'is invalid'}` : error.message;
      return sendProblem(reply, request, {
        type: `${PROBLEM_TYPE_BASE}validation`,
        title: 'Bad Request',
        status: 400,
        detail,
        ...(field ? { field } : {}),
        errors: error.validation.map((v) => ({ field: fieldOf(v), message: v.message })),
      });
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      reply.header('retry-after', '5');
      return sendProblem(reply, request, {
        type: `${PROBLEM_TYPE_BASE}database-unavailable`,
        title: 'Service Unavailable',
        status: 503,
        detail: 'The database is unreachable; nothing was changed. Retry shortly.',
      });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendProblem(reply, request, {
        type: `${PROBLEM_TYPE_BASE}${error.code?.toLowerCase() ?? 'client-error'}`,
        title: TITLES[status] ?? 'Bad Request',
        status,
        detail: clientDetail(error),
      });
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, request, {
      type: `${PROBLEM_TYPE_BASE}internal`,
      title: 'Internal Server Error',
      status: 500,
      detail: 'Something went wrong on our side; it has been logged.',
    });
  });
}

type ValidationItem = NonNullable<FastifyError['validation']>[number] | undefined;

/** `body/title` style name of the field a validation error is about. */
function fieldOf(v: ValidationItem): string | undefined {
  if (!v) return undefined;
  const params = v.params as Record<string, unknown>;
  const extra = (params.additionalProperty ?? params.missingProperty) as string | undefined;
  const path = (v.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
  return [path, extra].filter(Boolean).join('.') || undefined;
}

function clientDetail(error: FastifyError): string {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return 'The request URL is malformed (bad percent-encoding).';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'A path segment is too long.';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'The request body is not valid JSON.';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'The request body is larger than 1 MiB.';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Send the body as application/json.';
    default:
      return error.message;
  }
}
