import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createTestNamespace,
  type PrivateRedis,
  startPrivateRedis,
  type TestNamespace,
} from '@notes/contracts/testing';
import type { Redis } from 'ioredis';
import { LoginThrottle } from '../src/modules/auth/login-throttle.ts';
import { connectRedis, createRedis } from '../src/platform/redis/redis.ts';
import { type AuthTestApp, login, newUser, startAuthTestApp } from './auth-helpers.ts';

/**
 * The login throttle (docs/api.md) on real Redis: the window is shared by instances,
 * Retry-After is the time until a slot frees, and with Redis down or hung it still holds.
 */
const WINDOW = 15 * 60_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

/** A clock the test moves by hand. */
function clock(start = T0) {
  let now = start;
  return {
    now: () => now,
    set: (t: number) => {
      now = t;
    },
  };
}

describe('on the shared Redis', () => {
  let ns: TestNamespace;
  const clients: Redis[] = [];
  const client = async () => {
    const redis = createRedis(ns.config());
    await connectRedis(redis);
    clients.push(redis);
    return redis;
  };
  before(async () => {
    ns = await createTestNamespace('auththr');
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await ns?.cleanup();
  });

  test('blocks after 10 failures until the oldest ages out; other instances see it; success clears', async () => {
    const time = clock();
    const a = new LoginThrottle(await client(), { now: time.now });
    const b = new LoginThrottle(await client(), { now: time.now });
    const email = 'Victim@Example.test';
    for (let i = 0; i < 10; i++) {
      time.set(T0 + i * 1000);
      assert.deepEqual(await a.check(email, '10.0.0.1'), { blocked: false }, `before failure ${i + 1}`);
      await a.recordFailure(email, '10.0.0.1');
    }
    time.set(T0 + 10_000);
    assert.deepEqual(await a.check(email, '10.0.0.1'), { blocked: true, retryAfterSeconds: 890 });
    // b never saw these failures itself: it reads them from Redis. The email is case-insensitive.
    assert.deepEqual(await b.check('victim@example.test', '10.0.0.1'), { blocked: true, retryAfterSeconds: 890 });
    assert.deepEqual(await b.check(email, '10.0.0.2'), { blocked: false }, 'another address');
    assert.deepEqual(await b.check('other@example.test', '10.0.0.1'), { blocked: false }, 'another email');

    // Stored under the namespace's key prefix, with an expiry, and without the email in clear.
    const raw = await client();
    // (The address's own budget across accounts is a key of its own.)
    const prefixed = (await scan(raw, `${ns.redisKeyPrefix}login-failures:*`)).filter((k) => !k.includes(':address:'));
    assert.equal(prefixed.length, 1);
    assert.ok(!prefixed[0]?.toLowerCase().includes('victim'));
    const ttl = await raw.pttl((prefixed[0] ?? '').slice(ns.redisKeyPrefix.length));
    assert.ok(ttl > 0 && ttl <= WINDOW, `ttl ${ttl}`);

    // The first failure ages out: one attempt frees up, and the next failure blocks until the
    // second oldest ages out.
    time.set(T0 + WINDOW + 1);
    assert.deepEqual(await a.check(email, '10.0.0.1'), { blocked: false });
    await b.recordFailure(email, '10.0.0.1');
    assert.deepEqual(await a.check(email, '10.0.0.1'), { blocked: true, retryAfterSeconds: 1 });
    time.set(T0 + WINDOW + 5_000);
    assert.deepEqual(await a.check(email, '10.0.0.1'), { blocked: false });

    await b.recordFailure(email, '10.0.0.1');
    await b.clear(email, '10.0.0.1');
    for (const x of [a, b]) assert.deepEqual(await x.check(email, '10.0.0.1'), { blocked: false });
  });
});

async function scan(redis: Redis, pattern: string): Promise<string[]> {
  // SCAN's MATCH is not prefixed by ioredis, so this sees the real key names.
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

describe('when Redis is down or hangs', () => {
  let redis: PrivateRedis;
  let ns: TestNamespace;
  const clients: Redis[] = [];
  before(async () => {
    redis = await startPrivateRedis();
    ns = await createTestNamespace('auththrdown');
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await redis?.close();
    await ns?.cleanup();
  });

  const throttleOnPrivateRedis = async (now: () => number) => {
    const client = createRedis(ns.config({ REDIS_URL: redis.url }));
    await connectRedis(client);
    clients.push(client);
    return new LoginThrottle(client, { now });
  };

  test('failures from before and during an outage count in this process', async () => {
    const time = clock();
    const throttle = await throttleOnPrivateRedis(time.now);
    for (let i = 0; i < 5; i++) await throttle.recordFailure('a@example.test', '10.0.0.1');
    await redis.stop();
    try {
      assert.deepEqual(await throttle.check('a@example.test', '10.0.0.1'), { blocked: false });
      for (let i = 0; i < 5; i++) await throttle.recordFailure('a@example.test', '10.0.0.1');
      time.set(T0 + 60_000);
      assert.deepEqual(await throttle.check('a@example.test', '10.0.0.1'), {
        blocked: true,
        retryAfterSeconds: 840,
      });
      assert.deepEqual(await throttle.check('a@example.test', '10.0.0.2'), { blocked: false });
      await throttle.clear('a@example.test', '10.0.0.1');
      assert.deepEqual(await throttle.check('a@example.test', '10.0.0.1'), { blocked: false });
    } finally {
      await redis.start();
    }
  });

  test('a hung Redis (no answers) still throttles, after its command timeout', async () => {
    const time = clock();
    const throttle = await throttleOnPrivateRedis(time.now);
    redis.pause();
    try {
      for (let i = 0; i < 10; i++) await throttle.recordFailure('b@example.test', '10.0.0.1');
      const verdict = await throttle.check('b@example.test', '10.0.0.1');
      assert.deepEqual(verdict, { blocked: true, retryAfterSeconds: 900 });
    } finally {
      redis.resume();
    }
  });

  test('through the app: 429 after 10 failures with Redis down, and logins still work', async () => {
    let app: AuthTestApp | undefined;
    try {
      app = await startAuthTestApp('auththrapp', { REDIS_URL: redis.url });
      const user = await newUser(app.app, 'down');
      await redis.stop();
      for (let i = 0; i < 10; i++)
        assert.equal((await login(app.app, user.email, 'wrong-pw', '10.9.9.9')).statusCode, 401);
      const blocked = await login(app.app, user.email, user.password, '10.9.9.9');
      assert.equal(blocked.statusCode, 429);
      assert.ok(Number(blocked.headers['retry-after']) > 0);
      assert.equal((await login(app.app, user.email, user.password, '10.8.8.8')).statusCode, 200);
    } finally {
      await redis.start();
      await app?.close();
    }
  });
});
