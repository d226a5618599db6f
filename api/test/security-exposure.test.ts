import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort } from '@notes/contracts/testing';
import { startTestApp, type TestApp } from './helpers.ts';

/**
 * Less said to strangers (docs/security.md): readiness names dependencies and their state, never
 * the error behind it; metrics answer only METRICS_TOKEN, or only this machine without one; a
 * forwarded header is no way to look local. (The consumers' side: consumers/test/metrics-access.test.ts.)
 */
const TOKEN = 'metrics-token-for-the-test-0123456789';

describe('/health/ready with a dependency down', () => {
  let t: TestApp;
  let redisPort: number;
  before(async () => {
    redisPort = await freePort(); // nothing listens there
    t = await startTestApp('secexp', { REDIS_URL: `redis://127.0.0.1:${redisPort}` });
  });
  after(() => t?.close());

  test('names the dependency and its state, and nothing of the error', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/ready', remoteAddress: '203.0.113.7' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.status, 'degraded');
    assert.equal(body.checks.redis.status, 'down');
    for (const check of Object.values(body.checks) as Record<string, unknown>[]) {
      assert.deepEqual(Object.keys(check).sort(), ['latency_ms', 'status']);
    }
    assert.doesNotMatch(res.body, new RegExp(`ECONNREFUSED|${redisPort}|127\\.0\\.0\\.1|Error|connect`, 'i'));
  });
});

describe('/metrics on the API', () => {
  let open: TestApp;
  let guarded: TestApp;
  before(async () => {
    open = await startTestApp('secmet1');
    guarded = await startTestApp('secmet2', { METRICS_TOKEN: TOKEN, TRUST_PROXY: 'true' });
  });
  after(async () => {
    await open?.close();
    await guarded?.close();
  });

  const metrics = (t: TestApp, remoteAddress: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers });

  test('without METRICS_TOKEN: this machine only, whatever X-Forwarded-For says', async () => {
    assert.equal((await metrics(open, '127.0.0.1')).statusCode, 200);
    assert.equal((await metrics(open, '::1')).statusCode, 200);
    const stranger = await metrics(open, '203.0.113.7');
    assert.equal(stranger.statusCode, 403);
    assert.match(String(stranger.headers['content-type']), /application\/problem\+json/);
    assert.doesNotMatch(stranger.body, /http_requests|process_/);
    assert.equal((await metrics(open, '203.0.113.7', { 'x-forwarded-for': '127.0.0.1' })).statusCode, 403);
  });

  test('with METRICS_TOKEN: the bearer token and nothing else, from anywhere', async () => {
    const tries: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-wrong-token' },
      { authorization: TOKEN },
    ];
    for (const headers of tries) {
      const res = await metrics(guarded, '127.0.0.1', headers);
      assert.equal(res.statusCode, 401, JSON.stringify(headers));
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
    const ok = await metrics(guarded, '203.0.113.7', { authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.statusCode, 200);
    assert.match(ok.body, /process_/);
  });
});
