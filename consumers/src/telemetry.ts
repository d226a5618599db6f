/**
 * Tracing preload for the consumers. Start the process with it BEFORE the entry file:
 *
 *   node --import tsx --import ./src/telemetry.ts src/main.ts
 *
 * Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. amqplib's instrumentation continues the trace
 * from the message's `traceparent` header; undici's covers the webhook calls (fetch) and the API callbacks (an undici Pool).
 * main.ts flushes with shutdownTelemetry() from '@notes/contracts'.
 */
import { startTelemetry } from '@notes/contracts/telemetry';

await startTelemetry({ serviceName: 'notes-consumers', ignorePaths: ['/metrics', '/health'] });
