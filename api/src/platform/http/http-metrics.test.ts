import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { createApiMetrics } from '../metrics.ts';
import httpMetrics, { UNMATCHED_ROUTE } from './http-metrics.ts';

async function appWith(metrics = createApiMetrics()) {
  const app = Fastify();
  await app.register(httpMetrics, { metrics, config: { metricsToken: null } });
  app.get('/things/:id', async () => ({ ok: true }));
  app.post('/things', async (_req, reply) => reply.code(500).send({ boom: true }));
  await app.ready();
  return { app, metrics };
}

interface Sample {
  labels: Record<string, string>;
  value: number;
  metricName?: string;
}

async function sample(metrics: ReturnType<typeof createApiMetrics>, name: string): Promise<Sample[]> {
  const json = await metrics.registry.getMetricsAsJSON();
  return (json.find((m) => m.name === name)?.values ?? []) as Sample[];
}

test('requests are counted by method, route template and status, never the raw URL', async () => {
  const { app, metrics } = await appWith();
  await app.inject({ method: 'GET', url: '/things/123' });
  await app.inject({ method: 'GET', url: '/things/456?x=1' });
  await app.inject({ method: 'POST', url: '/things' });
  await app.inject({ method: 'GET', url: '/nothing/here/789' });

  const counts: Record<string, string | number>[] = (await sample(metrics, 'http_requests_total')).map((v) => ({
    ...v.labels,
    value: v.value,
  }));
  assert.deepEqual(
    counts.sort((a, b) => String(a.route).localeCompare(String(b.route))),
    [
      { method: 'POST', route: '/things', status_code: '500', service: 'api', value: 1 },
      { method: 'GET', route: '/things/:id', status_code: '200', service: 'api', value: 2 },
      { method: 'GET', route: UNMATCHED_ROUTE, status_code: '404', service: 'api', value: 1 },
    ].sort((a, b) => a.route.localeCompare(b.route)),
  );
  const durations = await sample(metrics, 'http_request_duration_seconds');
  const count = durations.find(
    (v) => v.metricName === 'http_request_duration_seconds_count' && v.labels.route === '/things/:id',
  );
  assert.equal(count?.value, 2);
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.doesNotMatch(text, /="[^"]*(123|456|789)[^"]*"/, 'an id in a label value');
  await app.close();
});

test('GET /metrics answers the text format, or OpenMetrics when asked', async () => {
  const { app } = await appWith();
  const text = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(text.statusCode, 200);
  assert.match(text.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  assert.match(text.body, /^# TYPE http_requests_total counter$/m);
  assert.match(text.body, /^process_cpu_user_seconds_total\{service="api"\} /m);

  const om = await app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' },
  });
  assert.match(om.headers['content-type'] as string, /^application\/openmetrics-text/);
  assert.match(om.body, /# EOF\n$/);
  await app.close();
});

test('each app counts on its own registry', async () => {
  const a = await appWith();
  const b = await appWith();
  await a.app.inject({ method: 'GET', url: '/things/1' });
  assert.equal((await sample(a.metrics, 'http_requests_total')).length, 1);
  assert.equal((await sample(b.metrics, 'http_requests_total')).length, 0);
  await a.app.close();
  await b.app.close();
});
