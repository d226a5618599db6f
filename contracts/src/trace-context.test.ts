import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { node } from '@opentelemetry/sdk-node';
import {
  annotateActiveSpan,
  currentTraceparent,
  shutdownTelemetry,
  TELEMETRY_KEY,
  withTraceparent,
} from './trace-context.ts';

test('without tracing there is nothing to carry, and the callback still runs', () => {
  assert.equal(currentTraceparent(), null);
  assert.equal(
    withTraceparent(null, () => 42),
    42,
  );
});

test('a traceparent taken in a span resumes the same trace elsewhere', () => {
  // Registers the W3C propagator and an AsyncLocalStorage context manager, as the SDK does.
  new node.NodeTracerProvider().register();
  const tracer = trace.getTracer('test');
  const { traceparent, traceId, spanId } = tracer.startActiveSpan('request', (span) => {
    const ctx = span.spanContext();
    span.end();
    return { traceparent: currentTraceparent(), traceId: ctx.traceId, spanId: ctx.spanId };
  });
  assert.equal(traceparent, `00-${traceId}-${spanId}-01`);
  assert.equal(currentTraceparent(), null, 'outside the span there is none');

  const resumed = withTraceparent(traceparent, () => {
    const child = tracer.startSpan('publish');
    child.end();
    return { child: child.spanContext().traceId, parent: trace.getActiveSpan()?.spanContext().spanId };
  });
  assert.equal(resumed.child, traceId);
  assert.equal(resumed.parent, spanId);
});

test('annotateActiveSpan sets attributes on the active span only', () => {
  // The context manager the SDK installs (a no-op if the test above already registered one).
  const provider = new node.NodeTracerProvider();
  provider.register();
  const tracer = provider.getTracer('test');
  annotateActiveSpan({ 'notes.job.id': 'outside' }); // no active span: nothing to do, no throw
  const span = tracer.startActiveSpan('job', (s) => {
    annotateActiveSpan({ 'notes.job.id': 'j1', 'notes.job.attempt': 2 });
    s.end();
    return s as unknown as { attributes: Record<string, unknown> };
  });
  assert.deepEqual(span.attributes, { 'notes.job.id': 'j1', 'notes.job.attempt': 2 });
});

test('shutdownTelemetry flushes the preload’s SDK when there is one, and is a no-op otherwise', async () => {
  await shutdownTelemetry();
  let flushed = 0;
  const slot = globalThis as Record<symbol, unknown>;
  slot[TELEMETRY_KEY] = { shutdown: async () => void flushed++ };
  try {
    await shutdownTelemetry();
    assert.equal(flushed, 1);
  } finally {
    delete slot[TELEMETRY_KEY];
  }
});
