import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from './config.ts';
import { startTelemetry } from './telemetry.ts';

test('with tracing off, nothing is started and instrumentations given as a factory are never built', async () => {
  let built = 0;
  const telemetry = await startTelemetry(
    {
      serviceName: 'notes-test',
      // @fastify/otel hooks into every Fastify instance from its constructor: built while
      // tracing is off, it would cost every request its hooks for nothing.
      instrumentations: () => {
        built++;
        return [];
      },
    },
    loadConfig({}),
  );
  assert.equal(telemetry, null);
  assert.equal(built, 0);
});
