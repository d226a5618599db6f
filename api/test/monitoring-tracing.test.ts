import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createTestNamespace, freePort, type TestNamespace } from '@notes/contracts/testing';
import {
  attr,
  type OtlpSink,
  type ReceivedSpan,
  type Service,
  SPAN_KIND,
  spawnService,
  startOtlpSink,
} from './otlp-sink.ts';

/**
 * The tracing preload, out of process and over real sockets: the API is started exactly as in
 * production (`node --import tsx --import ./src/telemetry.ts src/main.ts`) and exports OTLP/HTTP
 * JSON to a sink (otlp-sink.ts). `inject()` would make no HTTP server span.
 */
const API_DIR = fileURLToPath(new URL('..', import.meta.url));
const SPAN_KIND_SERVER = SPAN_KIND.server;

let ns: TestNamespace;
let sink: OtlpSink;
let api: Service;
let apiUrl: string;
let spans: ReceivedSpan[];
const output = () => api?.output() ?? '';

before(async () => {
  ns = await createTestNamespace('otel');
  sink = await startOtlpSink();
  spans = sink.spans;

  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  api = spawnService(API_DIR, {
    ...ns.env,
    // development: request logging on (the log-correlation test reads those lines).
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: String(port),
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    // Export promptly instead of the default 5 s batch delay.
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  await waitFor(async () => (await fetch(`${apiUrl}/health`).catch(() => null))?.ok === true, 60_000, 'API up');
});

after(async () => {
  await api?.stop();
  await sink?.close();
  await ns?.cleanup();
});

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (api?.exitCode !== null && api?.exitCode !== undefined) {
      throw new Error(`API exited (${api.exitCode}) while waiting for ${what}:\n${output()}`);
    }
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}:\n${output().slice(-4000)}`);
}

test('a real request to /health/ready is exported as an HTTP server span with its children', async () => {
  const res = await fetch(`${apiUrl}/health/ready`, { headers: { 'x-request-id': 'otel-probe-1' } });
  assert.equal(res.status, 200);

  const isReady = (s: ReceivedSpan) =>
    s.kind === SPAN_KIND_SERVER &&
    s.scope === '@opentelemetry/instrumentation-http' &&
    (attr(s, 'url.path') ?? attr(s, 'http.target'))?.startsWith('/health/ready') === true;
  await waitFor(() => spans.some(isReady), 20_000, 'the server span');
  const server = spans.find(isReady)!;
  assert.equal(server.service, 'notes-api');
  assert.match(server.traceId, /^[0-9a-f]{32}$/);

  // @fastify/otel's request span is a child in the same trace, named by route template.
  await waitFor(
    () => spans.some((s) => s.traceId === server.traceId && s.scope === '@fastify/otel'),
    20_000,
    'the fastify span',
  );
  const fastifySpans = spans.filter((s) => s.traceId === server.traceId && s.scope === '@fastify/otel');
  assert.ok(fastifySpans.some((s) => attr(s, 'http.route') === '/health/ready'));

  // The readiness checks' database and Redis calls are children too: the ESM loader hook works
  // for libraries the app imports (drizzle's mysql2 pool, ioredis).
  for (const scope of ['@opentelemetry/instrumentation-mysql2', '@opentelemetry/instrumentation-ioredis']) {
    await waitFor(() => spans.some((s) => s.traceId === server.traceId && s.scope === scope), 20_000, scope);
  }
});

test('the scrape endpoint and liveness probe make no traces', async () => {
  await fetch(`${apiUrl}/health`);
  await fetch(`${apiUrl}/metrics`);
  // Then a traced request, whose arrival proves the exporter flushed after the two above.
  await fetch(`${apiUrl}/health/ready`, { headers: { 'x-request-id': 'otel-probe-2' } });
  const ready = () => spans.filter((s) => s.kind === SPAN_KIND_SERVER && attr(s, 'url.path') === '/health/ready');
  await waitFor(() => ready().length >= 2, 20_000, 'the second server span');
  const paths = spans.filter((s) => s.kind === SPAN_KIND_SERVER).map((s) => attr(s, 'url.path'));
  assert.ok(!paths.includes('/health'), `unexpected spans: ${paths.join(', ')}`);
  assert.ok(!paths.includes('/metrics'), `unexpected spans: ${paths.join(', ')}`);
});

test('log lines carry the trace id of the request they belong to', async () => {
  // pino's instrumentation adds trace_id/span_id to lines logged inside a traced request.
  const withTrace = output()
    .split('\n')
    .filter((line) => line.includes('"trace_id"'));
  const traceIds = new Set(spans.map((s) => s.traceId));
  assert.ok(
    withTrace.some((line) => traceIds.has(JSON.parse(line).trace_id)),
    `no log line carries an exported trace id:\n${output().slice(-2000)}`,
  );
});

test('the OpenMetrics exposition links HTTP latency to traces with trace_id exemplars', async () => {
  await fetch(`${apiUrl}/health/ready`);
  const res = await fetch(`${apiUrl}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
  assert.match(res.headers.get('content-type') ?? '', /application\/openmetrics-text/);
  const body = await res.text();
  const exemplar = body
    .split('\n')
    .find(
      (l) =>
        l.startsWith('http_request_duration_seconds_bucket') &&
        l.includes('route="/health/ready"') &&
        l.includes(' # {trace_id="'),
    );
  assert.ok(exemplar, 'no exemplar on the /health/ready latency buckets');
  const traceId = /trace_id="([0-9a-f]{32})"/.exec(exemplar)?.[1];
  assert.ok(traceId);
  await waitFor(() => spans.some((s) => s.traceId === traceId), 20_000, 'the exemplar trace in the sink');
});
