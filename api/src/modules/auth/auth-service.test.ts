import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as argon2 from 'argon2';
import { argon2Slots, ConcurrencyLimit, hashPassword } from './auth-service.ts';

test('ConcurrencyLimit runs at most `limit` tasks at once, the rest in arrival order', async () => {
  const limit = new ConcurrencyLimit(2);
  const started: number[] = [];
  const release: (() => void)[] = [];
  let running = 0;
  let most = 0;
  const results = [0, 1, 2, 3, 4].map((i) =>
    limit.run(async () => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => release.push(resolve));
      running--;
      return i * 10;
    }),
  );
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [0, 1]);
  assert.equal(limit.active, 2);
  assert.equal(limit.waiting, 3);
  while (started.length < 5 || release.length) {
    release.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(await Promise.all(results), [0, 10, 20, 30, 40]);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(most, 2);
  assert.equal(limit.active, 0);
});

test('ConcurrencyLimit frees the slot when a task fails', async () => {
  const limit = new ConcurrencyLimit(1);
  const failed = limit.run(() => Promise.reject(new Error('boom')));
  const next = limit.run(async () => 'ran');
  await assert.rejects(failed, /boom/);
  assert.equal(await next, 'ran');
  assert.equal(limit.active, 0);
  assert.equal(limit.waiting, 0);
});

test('password hashing goes through the process-wide argon2 limit of two', async () => {
  const hashes = Array.from({ length: 5 }, (_, i) => hashPassword(`password number ${i}`));
  assert.equal(argon2Slots.active, 2);
  assert.equal(argon2Slots.waiting, 3);
  const done = await Promise.all(hashes);
  assert.equal(argon2Slots.active, 0);
  assert.ok(await argon2.verify(done[4] as string, 'password number 4'));
});
