import { LABELS, renderMetrics } from '@notes/contracts';
import { isSpanContextValid, TraceFlags, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { AppDeps } from '../../app-types.ts';

export type HttpMetricsOptions = Pick<AppDeps, 'metrics'>;

/** Requests that matched no route are one series, whatever their URL (no raw paths as labels). */
export const UNMATCHED_ROUTE = 'unmatched';
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * HTTP rate, errors and duration for every request, labelled by route template (`/api/notes/:id`),
 * and `GET /metrics` serving the registry. Wrapped with fastify-plugin so its hooks see every
 * route, the not-found and method-not-allowed answers included.
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
