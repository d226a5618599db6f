import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PrivateRedis, startPrivateRedis } from '@notes/contracts/testing';
import { Redis } from 'ioredis';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, count, createNote, newUser, type TestUser } from './notes-fixtures.ts';

/**
 * A Redis write pause (CLIENT PAUSE … WRITE, on a redis-server of this test's own) holds a keyed
 * write's claim unanswered; the write goes ahead on the database fence, and when the pause ends
 * Redis runs the held claim: the key is "in flight" although the write committed long ago. A
 * client retrying then must get the replay (or a 201), never a 409 that only the lapsing lease
 * would clear (docs/isolation.md).
 */

let redis: PrivateRedis;
let admin: Redis;
let t: TestApp;
let alice: TestUser;

before(async () => {
  redis = await startPrivateRedis();
  admin = new Redis(redis.url, { lazyConnect: true });
  await admin.connect();
  // The write limiter is off: its own Redis call would time out first and trip the client's
  // breaker, so the claim would not even be sent (a pause starting a moment later would).
  t = await startTestApp('idempause', { REDIS_URL: redis.url, USER_WRITE_RATE: '0' });
  alice = await newUser(t, 'alice');
});
after(async () => {
  await t?.close();
  admin?.disconnect();
  await redis?.close();
});

test('a retry after a Redis write pause gets the replay, not a 409 left behind by the pause', async () => {
  const note = await createNote(t, alice, { title: 'before the pause' });
  const key = randomUUID();
  const headers = { 'idempotency-key': key };
  const change = { title: 'changed across the pause' };

  // Paused for writes, Redis holds the claim (an EVAL) unanswered: the client gives up on it
  // after its timeout, the write goes ahead fenced by the database, and the answer is not
  // recorded (Redis counts as down for a moment). Once unpaused, Redis runs the held claim.
  await admin.call('CLIENT', 'PAUSE', '3000', 'WRITE');
  const first = await call(t, alice, 'PATCH', `/api/notes/${note.id}`, change, headers);
  // While still paused: the claim can't be made, the fence answers.
  const during = await call(t, alice, 'PATCH', `/api/notes/${note.id}`, change, headers);
  assert.equal(during.statusCode, 200, during.body);
  assert.equal(during.headers['idempotent-replayed'], 'true');

  // After the pause (and the client's cool-down), Redis still holds the stale in-flight claim.
  await admin.call('CLIENT', 'UNPAUSE');
  await sleep(1100);
  const leftBehind = await admin.keys(`${t.ns.redisKeyPrefix}idem:*`);
  const stale = (await Promise.all(leftBehind.map((k) => admin.get(k)))).some((v) => v?.includes('"inflight"'));
  assert.ok(stale, 'the pause left the claim in flight (the situation under test)');

  const retry = await call(t, alice, 'PATCH', `/api/notes/${note.id}`, change, headers);
  assert.equal(retry.statusCode, 200, retry.body);
  assert.equal(retry.headers['idempotent-replayed'], 'true');
  assert.deepEqual(retry.json(), first.json());
  const again = await call(t, alice, 'PATCH', `/api/notes/${note.id}`, change, headers);
  assert.equal(again.headers['idempotent-replayed'], 'true', 'and Redis answers it from now on');
  assert.equal(await count(t, 'SELECT version AS n FROM notes WHERE id = ?', [note.id]), 2, 'applied once');
});
