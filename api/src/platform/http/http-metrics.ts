import { LABELS, metricsAccess, renderMetrics } from '@notes/contracts';
import { isSpanContextValid, TraceFlags, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { AppDeps } from '../../app-types.ts';
import { PROBLEM_TYPE_BASE, sendProblem } from '../errors/handler.ts';

export type HttpMetricsOptions = Pick<AppDeps, 'metrics'> & { config: Pick<AppDeps['config'], 'metricsToken'> };

/** Requests that matched no route are one series, whatever their URL (no raw paths as labels). */
export const UNMATCHED_ROUTE = 'unmatched';
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * HTTP rate, errors and duration for every request, labelled by route template (`/api/notes/:id`),
 * and `GET /metrics` serving the registry. Wrapped with fastify-plugin so its hooks see every
 * route, the not-found and method-not-allowed answers included. Who may read the metrics:
 * metricsAccess (docs/security.md); the peer is the socket's, never a forwarded header.
 */
async function httpMetrics(app: FastifyInstance, opts: HttpMetricsOptions) {
  const m = opts.metrics;

  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      [LABELS.method]: KNOWN_METHODS.has(request.method) ? request.method : 'OTHER',
      [LABELS.route]: request.routeOptions.url ?? UNMATCHED_ROUTE,
      [LABELS.statusCode]: String(reply.statusCode),
    };
    m.httpRequests.inc(labels);
    m.httpDuration.observe({ labels, value: reply.elapsedTime / 1000, exemplarLabels: traceExemplar() });
  });

  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    const access = metricsAccess(opts.config.metricsToken, request.headers.authorization, request.socket.remoteAddress);
    if (access !== 'allowed') {
      if (access === 'unauthorized') reply.header('www-authenticate', 'Bearer');
      return sendProblem(reply, request, {
        type: `${PROBLEM_TYPE_BASE}${access === 'unauthorized' ? 'unauthorized' : 'forbidden'}`,
        title: access === 'unauthorized' ? 'Unauthorized' : 'Forbidden',
        status: access === 'unauthorized' ? 401 : 403,
        detail:
          access === 'unauthorized'
            ? 'Metrics need `Authorization: Bearer <METRICS_TOKEN>`.'
            : 'Metrics are served to this machine only unless METRICS_TOKEN is set.',
      });
    }
    const { contentType, body } = await renderMetrics(m.registry, request.headers.accept);
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}

/**
 * The sampled trace this request belongs to, as an exemplar label set ({} when tracing is off:
 * prom-client then records no exemplar). Grafana follows `trace_id` to Tempo.
 */
function traceExemplar(): Record<string, string> {
  const ctx = trace.getActiveSpan()?.spanContext();
  if (!ctx || !isSpanContextValid(ctx) || !(ctx.traceFlags & TraceFlags.SAMPLED)) return {};
  return { trace_id: ctx.traceId };
}

export default fp(httpMetrics, { name: 'http-metrics', fastify: '5.x' });
