import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp('health');
});
after(() => t?.close());

test('GET /health answers while the process is up', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/health' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: 'ok' });
});

test('GET /health/ready reports each dependency with its latency', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.status, 'ok');
  for (const dep of ['database', 'redis', 'rabbitmq']) {
    assert.equal(body.checks[dep].status, 'up', dep);
    assert.equal(typeof body.checks[dep].latency_ms, 'number');
  }
});

test('an unknown path is a 404 problem, an unsupported method a 405 with Allow', async () => {
  const missing = await t.app.inject({ method: 'GET', url: '/nope' });
  assert.equal(missing.statusCode, 404);
  assert.match(missing.headers['content-type'] as string, /application\/problem\+json/);
  const wrong = await t.app.inject({ method: 'DELETE', url: '/health' });
  assert.equal(wrong.statusCode, 405);
  assert.match(wrong.headers.allow as string, /GET/);
  assert.equal(wrong.json().status, 405);
});

test('migrating twice is harmless', async () => {
  const { migrateDatabase } = await import('../src/platform/db/client.ts');
  await migrateDatabase(t.deps.config);
  await migrateDatabase(t.deps.config);
});

test('once draining, every answer closes its connection', async () => {
  const before = await t.app.inject({ method: 'GET', url: '/health' });
  assert.notEqual(before.headers.connection, 'close');
  t.app.startDraining();
  const during = await t.app.inject({ method: 'GET', url: '/health' });
  assert.equal(during.statusCode, 200);
  assert.equal(during.headers.connection, 'close');
});
