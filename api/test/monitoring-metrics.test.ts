import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { JOB_KINDS, METRICS, PRIORITIES } from '@notes/contracts';
import { createConsumerMetrics } from '../../consumers/src/metrics.ts';
import { createApiMetrics } from '../src/platform/metrics.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { promtool, sampleValue } from './monitoring-helpers.ts';

/**
 * The API's /metrics after real traffic through the real app, linted by `promtool check metrics`,
 * and the two registries checked against the one list of names (contracts/src/metric-names.ts).
 */
let t: TestApp;
before(async () => {
  t = await startTestApp('metrics');
});
after(() => t?.close());

/**
 * prom-client's default process metrics include three gauges named `_total` (its naming, not
 * ours); promtool's linter flags exactly those. Anything else it reports is a defect here.
 */
const PROM_CLIENT_DEFAULT_LINT = new Set([
  'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
]);

function lintProblems(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !PROM_CLIENT_DEFAULT_LINT.has(l));
}

test('/metrics after traffic passes promtool check metrics, labelled by route template', async () => {
  for (const url of ['/health', '/health/ready', '/health/ready', '/no/such/thing/42', '/api/notes/0191aaaa-bbbb']) {
    await t.app.inject({ method: 'GET', url });
  }
  await t.app.inject({ method: 'DELETE', url: '/health' });

  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  const body = res.body;

  const lint = await promtool(['check', 'metrics'], body);
  assert.deepEqual(lintProblems(lint.stdout + lint.stderr), []);

  const labels = (method: string, route: string, status_code: string) => ({
    method,
    route,
    status_code,
    service: 'api',
  });
  assert.equal(sampleValue(body, 'http_requests_total', labels('GET', '/health/ready', '200')), 2);
  assert.equal(sampleValue(body, 'http_requests_total', labels('DELETE', 'unmatched', '405')), 1);
  assert.equal(sampleValue(body, 'http_requests_total', labels('GET', 'unmatched', '404')), 1);
  assert.equal(sampleValue(body, 'http_request_duration_seconds_count', labels('GET', '/health', '200')), 1);
  // Ids and unknown paths never become label values.
  assert.doesNotMatch(body, /0191aaaa|no\/such/);
  for (const name of [METRICS.outboxBacklog, METRICS.jobsEnqueued, METRICS.idempotentReplays]) {
    assert.match(body, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
});

test('the consumer registry passes promtool check metrics', async () => {
  const metrics = createConsumerMetrics();
  metrics.jobsProcessed.inc({ kind: 'note.process', priority: 'high', outcome: 'processed' });
  metrics.processingDuration.observe({ kind: 'note.process' }, 0.12);
  metrics.queueWaitDuration.observe({ kind: 'note.process', priority: 'high' }, 1.5);
  metrics.deadLettered.inc({ kind: 'webhook.deliver', reason: 'max_attempts' });
  metrics.inFlight.inc();
  metrics.setQueueProbe(async () => [
    { queue: 'notes.jobs', messages: 12, consumers: 2 },
    { queue: 'notes.dlq', messages: 1, consumers: 0 },
  ]);
  const body = await metrics.registry.metrics();
  const lint = await promtool(['check', 'metrics'], body);
  assert.deepEqual(lintProblems(lint.stdout + lint.stderr), []);
  assert.equal(sampleValue(body, 'notes_queue_messages', { queue: 'notes.jobs', service: 'consumer' }), 12);
  assert.equal(sampleValue(body, 'notes_queue_consumers', { queue: 'notes.jobs', service: 'consumer' }), 2);
  assert.equal(sampleValue(body, 'notes_queue_consumers', { queue: 'notes.dlq', service: 'consumer' }), 0);
});

test('a failing or hanging queue probe never breaks a scrape', async () => {
  const metrics = createConsumerMetrics();
  metrics.setQueueProbe(async () => [{ queue: 'notes.jobs', messages: 3, consumers: 1 }]);
  await metrics.registry.metrics();
  metrics.setQueueProbe(async () => {
    throw new Error('channel closed');
  });
  let body = await metrics.registry.metrics();
  assert.equal(sampleValue(body, 'notes_queue_messages', { queue: 'notes.jobs', service: 'consumer' }), 3);
  metrics.setQueueProbe(() => new Promise(() => {}));
  body = await metrics.registry.metrics();
  assert.equal(sampleValue(body, 'notes_queue_consumers', { queue: 'notes.jobs', service: 'consumer' }), 1);
});

test('the outbox gauges are read at scrape time through the probe', async () => {
  const metrics = createApiMetrics();
  let state = { backlog: 7, oldestAgeSeconds: 12.5 };
  metrics.setOutboxProbe(async () => state);
  let body = await metrics.registry.metrics();
  assert.equal(sampleValue(body, METRICS.outboxBacklog, { service: 'api' }), 7);
  assert.equal(sampleValue(body, METRICS.outboxOldestAge, { service: 'api' }), 12.5);
  state = { backlog: 0, oldestAgeSeconds: 99 };
  body = await metrics.registry.metrics();
  assert.equal(sampleValue(body, METRICS.outboxOldestAge, { service: 'api' }), 0, 'an empty outbox has no age');
  metrics.setOutboxProbe(async () => 3);
  body = await metrics.registry.metrics();
  assert.equal(sampleValue(body, METRICS.outboxBacklog, { service: 'api' }), 3);
  metrics.setOutboxProbe(async () => {
    throw new Error('database down');
  });
  body = await metrics.registry.metrics();
  assert.equal(sampleValue(body, METRICS.outboxBacklog, { service: 'api' }), 3, 'keeps the last value');
});

test('every name in the names module is registered exactly once, in the API or the consumers', async () => {
  const api = new Set((await createApiMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
  const consumer = new Set((await createConsumerMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
  for (const name of Object.values(METRICS)) {
    assert.ok(api.has(name) !== consumer.has(name), `${name}: api ${api.has(name)}, consumer ${consumer.has(name)}`);
  }
});

test('closed-set series start at zero, so rates and alerts see the first event', async () => {
  const body = await createConsumerMetrics().registry.metrics();
  for (const kind of JOB_KINDS) {
    for (const priority of PRIORITIES) {
      const labels = { kind, priority, outcome: 'processed', service: 'consumer' };
      assert.equal(sampleValue(body, 'notes_jobs_processed_total', labels), 0, `${kind} ${priority}`);
    }
  }
});
