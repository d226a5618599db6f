import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers.ts';
import { untilLiveEventsPublished } from './notes-fixtures.ts';

let t: TestApp;
let token: string;
before(async () => {
  t = await startTestApp('counters');
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/auth/register',
    payload: { name: 'Counter', email: 'counter@example.test', password: 'long enough' },
  });
  token = res.json().token;
});
after(() => t?.close());

async function value(name: string, labels: Record<string, string>): Promise<number> {
  const metric = t.deps.metrics.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return hit?.value ?? 0;
}

const post = (payload: object, key?: string) =>
  t.app.inject({
    method: 'POST',
    url: '/api/notes',
    headers: { authorization: `Bearer ${token}`, ...(key ? { 'idempotency-key': key } : {}) },
    payload,
  });

test('idempotent replays and conflicts, cache hits and misses, and enqueued jobs are counted', async () => {
  const first = await post({ title: 'counted', body: 'x', priority: 'high' }, 'k-1');
  assert.equal(first.statusCode, 201);
  assert.equal(await value('notes_jobs_enqueued_total', { kind: 'note.process', priority: 'high' }), 1);

  assert.equal((await post({ title: 'counted', body: 'x', priority: 'high' }, 'k-1')).statusCode, 201);
  assert.equal(await value('notes_idempotent_replays_total', { mode: 'key' }), 1);
  assert.equal((await post({ title: 'other', body: 'x' }, 'k-1')).statusCode, 422);
  assert.equal(await value('notes_idempotency_conflicts_total', { reason: 'payload_mismatch' }), 1);

  assert.equal((await post({ title: 'unkeyed', body: 'y' })).statusCode, 201);
  assert.equal((await post({ title: 'unkeyed', body: 'y' })).statusCode, 201);
  assert.equal(await value('notes_idempotent_replays_total', { mode: 'hash' }), 1);
  assert.equal(await value('notes_jobs_enqueued_total', { kind: 'note.process', priority: 'normal' }), 1);

  // The live-event relay invalidates the user's note cache when it publishes their events (a
  // new generation): let it publish the ones above first, or a hit could become a second miss.
  await untilLiveEventsPublished(t);
  const url = `/api/notes/${first.json().id}`;
  const get = () => t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  assert.equal((await get()).statusCode, 200);
  assert.equal((await get()).statusCode, 200);
  assert.equal(await value('notes_cache_misses_total', { cache: 'note' }), 1);
  assert.equal(await value('notes_cache_hits_total', { cache: 'note' }), 1);
});
