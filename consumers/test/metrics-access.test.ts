import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { HealthServer } from '../src/health-server.ts';

/** A consumer's /metrics answers only METRICS_TOKEN when it is set (docs/security.md). */
const TOKEN = 'metrics-token-for-the-test-0123456789';

describe('/metrics on a consumer', () => {
  let server: HealthServer;
  let port: number;
  before(async () => {
    const registry = new Registry();
    server = new HealthServer({ amqp: () => true, api: async () => true }, registry, TOKEN);
    port = await server.listen(0, '127.0.0.1');
  });
  after(() => server?.close());

  test('answers only the bearer token', async () => {
    const get = (headers: Record<string, string>) => fetch(`http://127.0.0.1:${port}/metrics`, { headers });
    assert.equal((await get({})).status, 401);
    assert.equal((await get({ authorization: 'Bearer nope-nope-nope-nope' })).status, 401);
    assert.equal((await get({ authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200, 'health stays open for probes');
  });
});
