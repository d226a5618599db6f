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
  assert.deepEqual(c.webhook, { timeoutMs: 10000, allowPrivateNetworks: false, maxInFlight: 8, concurrency: 64 });
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

test('the API refuses the development secrets in production or off loopback; admin needs both variables', () => {
  const api = { component: 'api' } as const;
  const keys = { JWT_SECRET: 'x'.repeat(32), SERVICE_PUBLIC_KEYS: 'k'.repeat(43) };
  assert.throws(() => loadConfig({ NODE_ENV: 'production' }, api), /JWT_SECRET/);
  assert.throws(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }, api), /SERVICE_PUBLIC_KEYS/);
  assert.ok(loadConfig({ NODE_ENV: 'production', ...keys }, api));
  for (const HOST of ['0.0.0.0', '::', '192.168.1.10', 'api.example.com']) {
    assert.throws(() => loadConfig({ HOST }, api), /JWT_SECRET.*HOST=/, HOST);
    assert.ok(loadConfig({ HOST, ...keys }, api));
  }
  for (const HOST of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) {
    const c = loadConfig({ HOST, NODE_ENV: 'development' }, api);
    assert.deepEqual([c.auth.usingDevSecret, c.service.acceptsDevKey], [true, true], HOST);
  }
  // Consumers and scripts never sign user tokens: only a production consumer needs its key.
  assert.ok(loadConfig({ HOST: '0.0.0.0' }, { component: 'consumers' }));
  assert.throws(() => loadConfig({ NODE_ENV: 'production' }, { component: 'consumers' }), /SERVICE_PRIVATE_KEY/);
  assert.throws(() => loadConfig({ SERVICE_PUBLIC_KEYS: 'short' }), /SERVICE_PUBLIC_KEYS/);
  assert.deepEqual(loadConfig({ SERVICE_PUBLIC_KEYS: `${'a'.repeat(43)},${'b'.repeat(43)}` }).service.publicKeys, [
    'a'.repeat(43),
    'b'.repeat(43),
  ]);
  assert.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), /METRICS_TOKEN/);
  assert.throws(() => loadConfig({ ADMIN_EMAIL: 'a@b.co' }), /ADMIN_PASSWORD/);
  assert.deepEqual(loadConfig({ ADMIN_EMAIL: 'a@b.co', ADMIN_PASSWORD: 'secret123' }).admin, {
    email: 'a@b.co',
    password: 'secret123',
    promoteExisting: false,
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
