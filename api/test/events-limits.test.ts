import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@notes/contracts/testing';
import { type App, buildApp } from '../src/app.ts';
import { StreamSlots } from '../src/modules/events/stream-slots.ts';
import { RedisGuard } from '../src/platform/redis/redis-guard.ts';
import { createDeps } from '../src/wiring.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { newUser, type TestUser } from './notes-fixtures.ts';

/**
 * Bounded live event streams (docs/isolation.md): at most SSE_MAX_STREAMS_PER_USER per user
 * across every API instance, slots that a dead instance held come back when their leases lapse,
 * and a stream ends when its token expires or its user is disabled.
 */

interface Opened {
  status: number;
  ended: Promise<void>;
  close(): void;
}

function open(base: string, token: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL('/api/events', base), { headers: { authorization: `Bearer ${token}` } }, (res) => {
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      res.on('data', () => {});
      res.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function listen(app: App): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

let t: TestApp;
let base: string;
let alice: TestUser;

before(async () => {
  t = await startTestApp('sselimits', { SSE_MAX_STREAMS_PER_USER: '2' });
  base = await listen(t.app);
  alice = await newUser(t, 'alice');
});
after(() => t?.close());

test('the per-user cap holds across API instances, and a closed stream frees its slot', async () => {
  const deps2 = await createDeps(t.deps.config);
  const app2 = await buildApp(deps2);
  const streams: Opened[] = [];
  try {
    const base2 = await listen(app2);
    streams.push(await open(base, alice.token), await open(base2, alice.token));
    assert.deepEqual(
      streams.map((s) => s.status),
      [200, 200],
    );
    assert.equal((await open(base, alice.token)).status, 429);
    assert.equal((await open(base2, alice.token)).status, 429);
    const bob = await newUser(t, 'bob');
    const bobs = await open(base2, bob.token);
    assert.equal(bobs.status, 200, 'another user has slots of their own');
    bobs.close();

    streams.shift()?.close();
    const again = await waitFor(
      'a slot freed by the closed stream',
      async () => {
        const s = await open(base2, alice.token);
        if (s.status === 200) return s;
        s.close();
        return null;
      },
      5000,
    );
    streams.push(again);
  } finally {
    for (const s of streams) s.close();
    await app2.close();
    await deps2.close();
  }
});

test('slots held by an instance that died come back when their leases lapse', async () => {
  // Two streams "opened" by an instance that then vanished without releasing them.
  const dead = new StreamSlots(new RedisGuard(t.deps.redis), 2, 500);
  const user = 'user-of-a-dead-instance';
  assert.equal(await dead.acquire(user, 's1'), true);
  assert.equal(await dead.acquire(user, 's2'), true);
  assert.equal(await dead.acquire(user, 's3'), false, 'the cap holds');
  await sleep(600);
  assert.equal(await dead.acquire(user, 's3'), true, 'lapsed leases no longer count');
  assert.equal(await dead.renew(user, 's1'), false, 'a lapsed lease cannot be renewed');
});

test('a stream ends when its user is disabled', async () => {
  const carol = await newUser(t, 'carol');
  const s = await open(base, carol.token);
  assert.equal(s.status, 200);
  await t.deps.database.pool.query('UPDATE users SET disabled = 1 WHERE id = ?', [carol.id]);
  const ended = await Promise.race([s.ended.then(() => true), sleep(10_000).then(() => false)]);
  s.close();
  assert.ok(ended, 'the stream ended after the user was disabled');
});

test('a stream ends when its token expires', async () => {
  const dave = await newUser(t, 'dave');
  const shortLived = t.app.jwt.sign({ sub: dave.id, role: 'user', tv: 0 }, { expiresIn: 2 });
  const s = await open(base, shortLived);
  assert.equal(s.status, 200);
  const ended = await Promise.race([s.ended.then(() => true), sleep(10_000).then(() => false)]);
  s.close();
  assert.ok(ended, 'the stream ended once the token expired');
});
