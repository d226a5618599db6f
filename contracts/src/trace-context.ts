import { type Attributes, context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';

/**
 * Carrying a trace across the outbox, where the W3C context has to wait in a database row
 * between the HTTP request and the relay's publish. Both are no-ops while tracing is off (the
 * API's default propagator injects nothing).
 *
 *   enqueueJob(tx, { …, traceparent: currentTraceparent() })          // in the request
 *   withTraceparent(row.traceparent, () => channel.publish(…))        // in the relay
 *
 * The amqplib instrumentation then makes the publish span a child of the request's span and
 * writes its own `traceparent` header, which the consumer's consume span continues.
 */
export function currentTraceparent(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

/** Runs `fn` inside the trace a stored traceparent names (or as is, when there is none). */
export function withTraceparent<T>(traceparent: string | null | undefined, fn: () => T): T {
  if (!traceparent) return fn();
  return context.with(propagation.extract(ROOT_CONTEXT, { traceparent }), fn);
}

/**
 * Adds attributes to the span that is active now (the consumer's consume span while a job runs);
 * a no-op while tracing is off. Lets the consumers annotate spans without depending on the
 * OpenTelemetry API themselves. Names: SPAN_ATTRIBUTES (span-attributes.ts).
 */
export function annotateActiveSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** Where the preload (telemetry.ts) leaves its SDK handle; a registry symbol, so one per process. */
export const TELEMETRY_KEY = Symbol.for('notes-pipeline.telemetry');

/**
 * Flushes buffered spans and stops tracing if the preload started it; a no-op otherwise. main.ts
 * calls it as the very last step of shutdown, after the app and clients closed (their spans too).
 */
export async function shutdownTelemetry(): Promise<void> {
  const active = (globalThis as Record<symbol, { shutdown(): Promise<void> } | undefined>)[TELEMETRY_KEY];
  await active?.shutdown();
}
