import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from './config.ts';

test('defaults match the contract', () => {
  const c = loadConfig({});
  assert.equal(c.database.url, 'mysql://root@127.0.0.1:3306/notes');
  assert.equal(c.database.name, 'notes');
  assert.equal(c.redis.url, 'redis://127.0.0.1:6379');
  assert.equal(c.amqp.url, 'amqp://guest:guest@127.0.0.1:5672');
  assert.deepEqual([c.http.host, c.http.port, c.consumer.port], ['127.0.0.1', 3000, 9464]);
  assert.deepEqual(c.retryDelaysMs, [1000, 5000, 30000, 120000]);
  assert.equal(c.maxAttempts, 5);
  assert.equal(c.idempotencyWindowSeconds, 30);
  assert.deepEqual(c.webhook, { timeoutMs: 10000, allowPrivateNetworks: false });
  assert.equal(c.shutdownTimeoutMs, 10000);
  assert.equal(c.auth.usingDevSecret, true);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.database));
});

test('a bad value names the variable', () => {
  assert.throws(
    () => loadConfig({ PORT: 'eighty' }),
    (e: Error) => e instanceof ConfigError && /PORT/.test(e.message),
  );
  assert.throws(() => loadConfig({ RETRY_DELAYS_MS: '1000,,2' }), /RETRY_DELAYS_MS/);
  assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://x/y' }), /DATABASE_URL/);
  assert.throws(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'maybe' }), /WEBHOOK_ALLOW_PRIVATE_NETWORKS/);
});

test('production requires JWT_SECRET; admin needs both variables', () => {
  assert.throws(() => loadConfig({ NODE_ENV: 'production' }), /JWT_SECRET/);
  assert.ok(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }));
  assert.throws(() => loadConfig({ ADMIN_EMAIL: 'a@b.co' }), /ADMIN_PASSWORD/);
  assert.deepEqual(loadConfig({ ADMIN_EMAIL: 'a@b.co', ADMIN_PASSWORD: 'secret123' }).admin, {
    email: 'a@b.co',
    password: 'secret123',
  });
});

test('an entry point with a bad variable exits 1 naming it', () => {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "import('./src/config.ts').then((m) => { m.loadConfigOrExit(); console.log('started'); })",
    ],
    { env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /PORT/);
  assert.doesNotMatch(r.stdout, /started/);
});

test('limits: defaults, 0 accepted, TRUST_PROXY forms', () => {
  const c = loadConfig({});
  assert.deepEqual(c.limits, {
    userWriteRate: 100,
    userWriteBurst: 200,
    authAddressRatePerMinute: 60,
    authAddressBurst: 60,
    sseMaxStreamsPerUser: 5,
    passwordHashQueue: 64,
    eventStreamMaxBytes: 8_388_608,
    idempotencyMaxBytesPerUser: 4_194_304,
  });
  assert.equal(c.trustProxy, false);
  assert.equal(loadConfig({ USER_WRITE_RATE: '0' }).limits.userWriteRate, 0);
  assert.equal(loadConfig({ USER_WRITE_RATE: '0.5' }).limits.userWriteRate, 0.5);
  assert.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
  assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2);
  assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.1, 192.168.0.0/16' }).trustProxy, ['10.0.0.1', '192.168.0.0/16']);
  assert.throws(() => loadConfig({ TRUST_PROXY: 'proxy.example' }), /TRUST_PROXY/);
  assert.throws(() => loadConfig({ USER_WRITE_RATE: '-1' }), /USER_WRITE_RATE/);
  assert.throws(() => loadConfig({ SSE_MAX_STREAMS_PER_USER: '0' }), /SSE_MAX_STREAMS_PER_USER/);
});
