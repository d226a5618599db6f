import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { renderMetrics, wantsOpenMetrics } from './metrics-exposition.ts';

function registryWithTraffic() {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'test' });
  const requests = new Counter({
    name: 'demo_requests_total',
    help: 'h',
    labelNames: ['route'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'demo_duration_seconds',
    help: 'h',
    labelNames: ['route'],
    buckets: [0.1, 1],
    enableExemplars: true,
    registers: [],
  });
  registry.registerMetric(duration);
  // prom-client's types want exemplar labels among the metric's labels; at runtime any name works.
  const traceExemplar: Record<string, string> = { trace_id: 'a'.repeat(32) };
  requests.inc({ route: '/a' }, 3);
  duration.observe({ labels: { route: '/a' }, value: 0.05, exemplarLabels: traceExemplar });
  return registry;
}

test('Prometheus asks for OpenMetrics first; curl and q=0 get the text format', () => {
  assert.equal(
    wantsOpenMetrics(
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    ),
    true,
  );
  assert.equal(wantsOpenMetrics(undefined), false);
  assert.equal(wantsOpenMetrics('*/*'), false);
  assert.equal(wantsOpenMetrics('text/plain'), false);
  assert.equal(wantsOpenMetrics('application/openmetrics-text; q=0, text/plain'), false);
  assert.equal(wantsOpenMetrics('application/openmetrics-text;q=0.5'), true);
});

test('the text format has _total counters and no exemplars', async () => {
  const { contentType, body } = await renderMetrics(registryWithTraffic(), 'text/plain');
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(body, /^# TYPE demo_requests_total counter$/m);
  assert.match(body, /^demo_requests_total\{route="\/a",service="test"\} 3$/m);
  assert.doesNotMatch(body, /trace_id/);
  assert.doesNotMatch(body, /# EOF/);
});

test('OpenMetrics carries exemplars and ends with EOF', async () => {
  const { contentType, body } = await renderMetrics(registryWithTraffic(), 'application/openmetrics-text');
  assert.match(contentType, /^application\/openmetrics-text; version=1\.0\.0/);
  assert.match(body, /^# TYPE demo_requests counter$/m);
  assert.match(body, /^demo_requests_total\{route="\/a",service="test"\} 3$/m);
  assert.match(
    body,
    /demo_duration_seconds_bucket\{le="0.1",route="\/a",service="test"\} 1 # \{trace_id="a{32}"\} 0.05 /,
  );
  assert.match(body, /# EOF\n$/);
});

test('rendering OpenMetrics leaves the registry intact for the next text scrape', async () => {
  const registry = registryWithTraffic();
  const before = await renderMetrics(registry, undefined);
  await renderMetrics(registry, 'application/openmetrics-text');
  await renderMetrics(registry, 'application/openmetrics-text');
  const afterText = await renderMetrics(registry, undefined);
  assert.equal(afterText.body, before.body);
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
  assert.deepEqual(names, ['demo_duration_seconds', 'demo_requests_total']);
});
