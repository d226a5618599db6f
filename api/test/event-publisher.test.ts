import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { connectRedis, createRedis } from '../src/plugins/external/redis.ts';
import { EVENT_RETENTION_SECONDS, EventPublisher, eventStreamKey } from '../src/services/events.ts';

/** The live-event stream keeps its retention with one EXPIRE a minute instead of one per event. */

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

  // Later events in the same minute send no EXPIRE, and the TTL still covers the retention.
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
