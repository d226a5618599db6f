/**
 * Tracing preload for the API. Start the process with it BEFORE the entry file:
 *
 *   node --import tsx --import ./src/telemetry.ts src/main.ts
 *
 * Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. Fastify is traced by @fastify/otel (the
 * official plugin; never also instrumentation-fastify, spans would double), which attaches
 * itself to every Fastify instance as it is created. It does so from its constructor, so it is
 * built only when tracing is on: off, its hooks would still run on every request (issue 6's
 * profile: a tenth of the API's CPU). main.ts flushes with shutdownTelemetry() from
 * '@notes/contracts'.
 */
import { startTelemetry } from '@notes/contracts/telemetry';

await startTelemetry({
  serviceName: 'notes-api',
  instrumentations: async () => {
    const { FastifyOtelInstrumentation } = await import('@fastify/otel');
    return [new FastifyOtelInstrumentation({ registerOnInitialization: true, ignorePaths: '/metrics' })];
  },
  // Prometheus scrapes and liveness probes would be most of the traces and tell nothing.
  ignorePaths: ['/metrics', '/health'],
});
