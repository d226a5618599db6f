import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import type { Redis } from 'ioredis';
import pino from 'pino';
import {
  EVENT_RETENTION_COUNT,
  EVENT_RETENTION_SECONDS,
  EventPublisher,
  eventStreamKey,
} from '../src/modules/events/events.ts';
import { connectRedis, createRedis } from '../src/platform/redis/redis.ts';

/**
 * The live-event stream per user: its TTL covers the retention after every event, and it is
 * bounded in entries and in bytes (docs/isolation.md), oldest first, the newest always kept.
 */

let ns: TestNamespace;
let redis: Redis;

before(async () => {
  ns = await createTestNamespace('evpub');
  redis = createRedis(ns.config());
  await connectRedis(redis);
});
after(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

test('a stream gets its TTL with its first event and keeps at least the retention after each event', async () => {
  const events = new EventPublisher(redis, pino({ level: 'silent' }));
  const key = eventStreamKey('user-1');
  await events.publish('user-1', 'note.created', { id: 'n1' });
  const ttl = await redis.ttl(key);
  assert.ok(ttl > EVENT_RETENTION_SECONDS && ttl <= EVENT_RETENTION_SECONDS + 60, `ttl ${ttl}`);

  for (let i = 2; i <= 5; i++) await events.publish('user-1', 'note.updated', { id: `n${i}` });
  assert.equal(await redis.xlen(key), 5);
  assert.ok((await redis.ttl(key)) >= EVENT_RETENTION_SECONDS);
  const entries = await redis.xrange(key, '-', '+');
  assert.deepEqual(entries.at(-1)?.[1], ['type', 'note.updated', 'data', '{"id":"n5"}']);
});

test('a publish that cannot reach Redis is logged and never throws', async () => {
  const down = createRedis(ns.config({ REDIS_URL: 'redis://127.0.0.1:1' }));
  try {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    await new EventPublisher(down, logger).publish('user-2', 'note.created', { id: 'x' });
    assert.ok(lines.some((l) => l.includes('live event not published')));
  } finally {
    down.disconnect();
  }
});

/** Bytes of an entry's fields as the publisher counts them (plus its per-entry overhead). */
async function streamBytes(key: string): Promise<number> {
  const entries = await redis.xrange(key, '-', '+');
  return entries.reduce((sum, [, f]) => sum + 32 + f.reduce((n, v) => n + Buffer.byteLength(v), 0), 0);
}

test('a stream is bounded in bytes: the oldest events go first, the counter matches the stream', async () => {
  const budget = 64 * 1024;
  const events = new EventPublisher(redis, pino({ level: 'silent' }), budget);
  const key = eventStreamKey('user-bytes');
  const big = 'é'.repeat(5000); // 10,000 UTF-8 bytes
  for (let i = 0; i < 20; i++) await events.publish('user-bytes', 'note.updated', { id: `n${i}`, body: big });
  const bytes = await streamBytes(key);
  assert.ok(bytes <= budget, `${bytes} bytes kept`);
  assert.ok(bytes > budget - 11_000, `no more was trimmed than needed: ${bytes}`);
  assert.equal(Number(await redis.get(`${key}:bytes`)), bytes, 'the counter is the stream’s size');
  const entries = await redis.xrange(key, '-', '+');
  assert.equal(JSON.parse(entries.at(-1)?.[1][3] ?? '{}').id, 'n19', 'the newest is kept');
  assert.equal(JSON.parse(entries[0]?.[1][3] ?? '{}').id, `n${20 - entries.length}`, 'the oldest went first');

  // One event larger than the whole budget still stands alone (a client may still read it).
  await events.publish('user-bytes', 'note.updated', { id: 'huge', body: 'x'.repeat(budget + 1) });
  assert.equal(await redis.xlen(key), 1);
  assert.equal(Number(await redis.get(`${key}:bytes`)), await streamBytes(key));
});

test('a stream keeps at most EVENT_RETENTION_COUNT entries', async () => {
  const events = new EventPublisher(redis, pino({ level: 'silent' }));
  const key = eventStreamKey('user-count');
  await Promise.all(
    Array.from({ length: EVENT_RETENTION_COUNT + 25 }, (_, i) =>
      events.publish('user-count', 'note.created', { id: i }),
    ),
  );
  assert.equal(await redis.xlen(key), EVENT_RETENTION_COUNT);
  assert.equal(Number(await redis.get(`${key}:bytes`)), await streamBytes(key));
});

test('an outbox event published twice (a crash or a late reply before it was marked sent) enters the stream once', async () => {
  const events = new EventPublisher(redis, pino({ level: 'silent' }));
  const key = eventStreamKey('user-dup');
  await events.publishOrThrow('user-dup', [{ type: 'note.processed', json: '{"id":"n1"}', id: 41 }]);
  await events.publishOrThrow('user-dup', [{ type: 'note.processed', json: '{"id":"n1"}', id: 41 }]);
  await events.publishOrThrow('user-dup', [{ type: 'note.processed', json: '{"id":"n2"}', id: 42 }]);
  await events.publishOrThrow('user-dup', [{ type: 'note.processed', json: '{"id":"n1"}', id: 41 }]);
  const entries = await redis.xrange(key, '-', '+');
  assert.deepEqual(
    entries.map(([id, fields]) => [id, fields[3]]),
    [
      ['41-0', '{"id":"n1"}'],
      ['42-0', '{"id":"n2"}'],
    ],
    'an event from the relay enters under its own id',
  );
  // Without an id (a direct publish) nothing is remembered or deduplicated; it goes after the last.
  await events.publish('user-dup', 'note.updated', { id: 'n3' });
  await events.publish('user-dup', 'note.updated', { id: 'n3' });
  const ids = (await redis.xrange(key, '-', '+')).map(([id]) => id);
  assert.deepEqual(ids, ['41-0', '42-0', '42-1', '42-2']);
  // A relay event after them takes its own id again.
  await events.publishOrThrow('user-dup', [{ type: 'note.processed', json: '{"id":"n4"}', id: 43 }]);
  assert.equal((await redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0], '43-0');
});

test('one call carries several events of a user, in order; repeats among them are skipped', async () => {
  const events = new EventPublisher(redis, pino({ level: 'silent' }));
  const key = eventStreamKey('user-many');
  const ev = (id: number) => ({ type: 'note.updated', json: `{"id":"n${id}"}`, id });
  assert.equal(await events.publishOrThrow('user-many', [ev(5), ev(6), ev(7)]), 3);
  assert.equal(Number(await redis.get(`${key}:bytes`)), await streamBytes(key), 'a fresh stream’s counter');
  assert.equal(await events.publishOrThrow('user-many', [ev(6), ev(8), ev(7), ev(9)]), 2);
  assert.deepEqual(
    (await redis.xrange(key, '-', '+')).map(([id, f]) => [id, f[3]]),
    [5, 6, 7, 8, 9].map((i) => [`${i}-0`, `{"id":"n${i}"}`]),
  );
  assert.equal(Number(await redis.get(`${key}:bytes`)), await streamBytes(key));
  assert.ok((await redis.ttl(key)) >= EVENT_RETENTION_SECONDS);
  assert.ok((await redis.ttl(`${key}:bytes`)) >= EVENT_RETENTION_SECONDS);
});

test('an event published after a newer one of its user (another relay was faster) is appended once, not dropped', async () => {
  const events = new EventPublisher(redis, pino({ level: 'silent' }));
  const key = eventStreamKey('user-late');
  await events.publishOrThrow('user-late', [{ type: 'note.created', json: '{"id":"a"}', id: 100 }]);
  await events.publishOrThrow('user-late', [{ type: 'note.created', json: '{"id":"b"}', id: 90 }]);
  await events.publishOrThrow('user-late', [{ type: 'note.updated', json: '{"id":"c"}', id: 95 }]);
  // Each of them again: every repeat is a no-op, in or out of order.
  for (const id of [90, 100, 95])
    await events.publishOrThrow('user-late', [{ type: 'note.created', json: '{"id":"x"}', id: id }]);
  await events.publishOrThrow('user-late', [{ type: 'note.updated', json: '{"id":"d"}', id: 101 }]);
  const entries = await redis.xrange(key, '-', '+');
  assert.deepEqual(
    entries.map(([id, fields]) => [id, fields[3]]),
    [
      ['100-0', '{"id":"a"}'],
      ['100-1', '{"id":"b"}'],
      ['100-2', '{"id":"c"}'],
      ['101-0', '{"id":"d"}'],
    ],
  );
  assert.equal(Number(await redis.get(`${key}:bytes`)), await streamBytes(key));
});

test('an event published again after its entry was trimmed away still enters once', async () => {
  const budget = 4 * 1024;
  const events = new EventPublisher(redis, pino({ level: 'silent' }), budget);
  const key = eventStreamKey('user-trimmed');
  const data = (i: number) => JSON.stringify({ id: `n${i}`, body: 'x'.repeat(1000) });
  for (let i = 1; i <= 20; i++)
    await events.publishOrThrow('user-trimmed', [{ type: 'note.updated', json: data(i), id: i }]);
  const kept = (await redis.xrange(key, '-', '+')).map(([id]) => id);
  assert.ok(kept.length < 10 && kept.at(-1) === '20-0', `trimmed to ${kept.join(' ')}`);
  for (let i = 1; i <= 20; i++)
    await events.publishOrThrow('user-trimmed', [{ type: 'note.updated', json: data(i), id: i }]);
  assert.deepEqual(
    (await redis.xrange(key, '-', '+')).map(([id]) => id),
    kept,
  );
});
