import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startPrivateRedis } from '@notes/contracts/testing';
import type { LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../src/app.ts';
import { createDeps } from '../src/wiring.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, isProblem, newUser, type TestUser } from './notes-fixtures.ts';

/**
 * Per-user write rate and per-address registration/login rate (docs/isolation.md): token
 * buckets in Redis shared by every API instance, 429 problem+json with Retry-After and the IETF
 * RateLimit-Policy / RateLimit fields, fail-open when Redis can't be asked.
 */

const note = () => ({ title: `n ${randomBytes(4).toString('hex')}` });

function assertLimited(res: LightMyRequestResponse, policy: string) {
  assert.equal(res.statusCode, 429, res.body);
  assert.ok(isProblem(res, 429), 'problem+json');
  assert.equal(res.json().status, 429);
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${res.headers['retry-after']}`);
  assert.equal(res.headers['ratelimit-policy'], policy);
  assert.match(String(res.headers.ratelimit), /^"[a-z]+";r=0;t=\d+$/);
}

describe('per-user write rate', () => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  before(async () => {
    // One write per 5 s with bursts of 5: the sixth write in a row is refused. (The slow refill keeps
    // the bucket from refilling between writes on a loaded machine, where six writes can take seconds.)
    t = await startTestApp('ratelimit', { USER_WRITE_RATE: '0.2', USER_WRITE_BURST: '5' });
    alice = await newUser(t, 'alice');
    bob = await newUser(t, 'bob');
  });
  after(() => t?.close());

  test('a burst is allowed, the next write is a 429 with Retry-After and RateLimit fields; others are unaffected', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await call(t, alice, 'POST', '/api/notes', note());
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers['ratelimit-policy'], '"writes";q=5;w=25');
      assert.match(String(res.headers.ratelimit), new RegExp(`^"writes";r=${4 - i};t=\\d+$`));
    }
    const refused = await call(t, alice, 'POST', '/api/notes', note());
    assertLimited(refused, '"writes";q=5;w=25');
    const [[notes]] = (await t.deps.database.pool.query('SELECT COUNT(*) AS n FROM notes WHERE user_id = ?', [
      alice.id,
    ])) as unknown as [[{ n: number }]];
    assert.equal(Number(notes.n), 5, 'the refused write changed nothing');

    // Reads are not writes; another user has a bucket of their own.
    assert.equal((await call(t, alice, 'GET', '/api/notes')).statusCode, 200);
    assert.equal((await call(t, bob, 'POST', '/api/notes', note())).statusCode, 201);
    // PATCH, DELETE and webhook writes count too.
    assert.equal((await call(t, alice, 'DELETE', `/api/notes/${randomUUID()}`)).statusCode, 429);
    assert.equal((await call(t, alice, 'POST', '/api/webhooks', { url: 'https://example.com/hook' })).statusCode, 429);
  });

  test('the bucket refills at the rate', async () => {
    const carol = await newUser(t, 'carol');
    for (let i = 0; i < 5; i++) assert.equal((await call(t, carol, 'POST', '/api/notes', note())).statusCode, 201);
    const refused = await call(t, carol, 'POST', '/api/notes', note());
    assert.equal(refused.statusCode, 429);
    await new Promise((r) => setTimeout(r, Number(refused.headers['retry-after']) * 1000 + 50));
    assert.equal((await call(t, carol, 'POST', '/api/notes', note())).statusCode, 201);
  });

  test('every API instance spends the same bucket', async () => {
    const second = await createDeps(t.deps.config);
    const app2 = await buildApp(second);
    try {
      await app2.ready();
      const dave = await newUser(t, 'dave');
      const auth = { authorization: `Bearer ${dave.token}` };
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) {
        const app = i % 2 === 0 ? t.app : app2;
        const res = await app.inject({ method: 'POST', url: '/api/notes', headers: auth, payload: note() });
        codes.push(res.statusCode);
      }
      assert.deepEqual(codes, [201, 201, 201, 201, 201, 429]);
    } finally {
      await app2.close();
      await second.close();
    }
  });
});

describe('per-user write rate: leases', () => {
  // Bursts of 40: an instance leases up to 10 tokens at once. At one write per 100 s, nothing refills
  // (nor lapses from a lease) while the test runs, so every count below is exact.
  const LIMITS = { USER_WRITE_RATE: '0.01', USER_WRITE_BURST: '40' };
  const POLICY = '"writes";q=40;w=4000';

  test('Redis is asked once per lease; tokens left fall by one per write; the refused write has every header', async () => {
    const redis = await startPrivateRedis();
    const t = await startTestApp('ratelimitlease', { REDIS_URL: redis.url, ...LIMITS });
    // Each lease is one SET of the user's bucket (a refusal sets nothing): count them as Redis sees them.
    const watcher = new Redis(redis.url);
    try {
      await watcher.config('SET', 'notify-keyspace-events', 'K$');
      const u = await newUser(t, 'lease');
      let leases = 0;
      watcher.on('pmessage', (_pattern, _channel, event) => {
        if (event === 'set') leases++;
      });
      await watcher.psubscribe(`__keyspace@0__:*rl:w:${u.id}`);
      for (let i = 0; i < 40; i++) {
        const res = await call(t, u, 'POST', '/api/notes', note());
        assert.equal(res.statusCode, 201, res.body);
        assert.equal(res.headers['ratelimit-policy'], POLICY);
        assert.match(String(res.headers.ratelimit), new RegExp(`^"writes";r=${39 - i};t=\\d+$`));
      }
      assertLimited(await call(t, u, 'POST', '/api/notes', note()), POLICY);
      // Keyspace events come in order on the watcher's connection: the answer to this comes after them.
      await watcher.punsubscribe();
      assert.equal(leases, 4, '40 writes, leases of 10');
    } finally {
      watcher.disconnect();
      await t.close();
      await redis.close();
    }
  });

  test('two instances writing at once admit no more than the bucket allows, and every answer has its headers', async () => {
    const t = await startTestApp('ratelimitlease2', LIMITS);
    const second = await createDeps(t.deps.config);
    const app2 = await buildApp(second);
    try {
      await app2.ready();
      const u = await newUser(t, 'pair');
      const headers = { authorization: `Bearer ${u.token}` };
      const answers: LightMyRequestResponse[] = [];
      const started = Date.now();
      // Eight writers on each instance, 50 writes per instance.
      const writer = async (app: typeof t.app, n: number) => {
        for (let i = 0; i < n; i++) {
          answers.push(await app.inject({ method: 'POST', url: '/api/notes', headers, payload: note() }));
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, i) => writer(i % 2 === 0 ? t.app : app2, i < 4 ? 7 : 6)));
      const elapsedS = (Date.now() - started) / 1000;
      assert.equal(answers.length, 100);

      const admitted = answers.filter((res) => res.statusCode === 201);
      // Never more than the bucket: burst + rate × elapsed. At most one other instance's lease
      // (10 tokens) early; here both spend theirs to the end, so none is lost.
      assert.ok(admitted.length <= 40 + 0.01 * elapsedS, `${admitted.length} admitted`);
      assert.ok(admitted.length >= 40 - 10, `${admitted.length} admitted`);
      for (const res of admitted) {
        assert.equal(res.headers['ratelimit-policy'], POLICY);
        const left = Number(/^"writes";r=(\d+);t=\d+$/.exec(String(res.headers.ratelimit))?.[1]);
        assert.ok(left >= 0 && left < 40, `RateLimit ${res.headers.ratelimit}`);
      }
      for (const res of answers.filter((r) => r.statusCode !== 201)) assertLimited(res, POLICY);
      const [[notes]] = (await t.deps.database.pool.query('SELECT COUNT(*) AS n FROM notes WHERE user_id = ?', [
        u.id,
      ])) as unknown as [[{ n: number }]];
      assert.equal(Number(notes.n), admitted.length, 'refused writes changed nothing');
    } finally {
      await app2.close();
      await second.close();
      await t.close();
    }
  });
});

test('USER_WRITE_RATE=0 turns the write limit off', async () => {
  const t = await startTestApp('ratelimit0', { USER_WRITE_RATE: '0', USER_WRITE_BURST: '1' });
  try {
    const u = await newUser(t, 'free');
    for (let i = 0; i < 5; i++) {
      const res = await call(t, u, 'POST', '/api/notes', note());
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers.ratelimit, undefined);
    }
  } finally {
    await t.close();
  }
});

describe('per-address limits on register and login', () => {
  let t: TestApp;
  const register = (remoteAddress: string, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      remoteAddress,
      headers,
      payload: { name: 'n', email: `r-${randomBytes(5).toString('hex')}@example.test`, password: 'password-123' },
    });
  before(async () => {
    t = await startTestApp('ratelimitaddr', { AUTH_ADDRESS_RATE_PER_MINUTE: '1', AUTH_ADDRESS_BURST: '3' });
  });
  after(() => t?.close());

  test('the fourth registration from one address is refused; another address is not; X-Forwarded-For is not believed', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await register('10.1.1.1')).statusCode, 201);
    assertLimited(await register('10.1.1.1'), '"address";q=3;w=180');
    // Claiming to be someone else through a header changes nothing without TRUST_PROXY.
    assert.equal((await register('10.1.1.1', { 'x-forwarded-for': '10.9.9.9' })).statusCode, 429);
    assert.equal((await register('10.2.2.2')).statusCode, 201);
    // Login has a bucket of its own.
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      remoteAddress: '10.1.1.1',
      payload: { email: 'nobody@example.test', password: 'password-123' },
    });
    assert.equal(login.statusCode, 401);
  });
});

test('TRUST_PROXY: the address a trusted proxy forwards is the one that counts', async () => {
  const t = await startTestApp('ratelimitproxy', {
    AUTH_ADDRESS_RATE_PER_MINUTE: '1',
    AUTH_ADDRESS_BURST: '1',
    TRUST_PROXY: '10.0.0.1',
  });
  try {
    const login = (remoteAddress: string, forwarded: string) =>
      t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        remoteAddress,
        headers: { 'x-forwarded-for': forwarded },
        payload: { email: 'nobody@example.test', password: 'password-123' },
      });
    assert.equal((await login('10.0.0.1', '203.0.113.7')).statusCode, 401);
    assert.equal((await login('10.0.0.1', '203.0.113.7')).statusCode, 429);
    // Through the trusted proxy, another client has its own bucket.
    assert.equal((await login('10.0.0.1', '203.0.113.8')).statusCode, 401);
    // An untrusted peer's header is ignored: it is counted as itself.
    assert.equal((await login('10.0.0.2', '203.0.113.9')).statusCode, 401);
    assert.equal((await login('10.0.0.2', '203.0.113.10')).statusCode, 429);
  } finally {
    await t.close();
  }
});

for (const [label, rate, burst] of [
  ['', '1', 1],
  [', leased tokens', '0.01', 8],
] as const) {
  test(`fail-open: with Redis down, keyed writes go ahead unlimited${label}`, async () => {
    const redis = await startPrivateRedis();
    const t = await startTestApp('ratelimitdown', {
      REDIS_URL: redis.url,
      USER_WRITE_RATE: rate,
      USER_WRITE_BURST: String(burst),
    });
    try {
      const u = await newUser(t, 'down');
      for (let i = 0; i < burst; i++) assert.equal((await call(t, u, 'POST', '/api/notes', note())).statusCode, 201);
      assert.equal((await call(t, u, 'POST', '/api/notes', note())).statusCode, 429);
      await redis.stop();
      for (let i = 0; i < 3; i++) {
        const res = await call(t, u, 'POST', '/api/notes', note(), { 'idempotency-key': randomUUID() });
        assert.equal(res.statusCode, 201, res.body);
      }
    } finally {
      await t.close();
      await redis.close();
    }
  });
}
