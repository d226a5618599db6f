import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PriorityScheduler } from './priority-scheduler.ts';

/** A controllable task per item: started items wait until the test finishes them. */
function harness(slots: number) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const s = new PriorityScheduler<string>(5, slots, (item) => {
    started.push(item);
    return new Promise<void>((resolve) => finish.set(item, resolve));
  });
  const done = async (item: string) => {
    finish.get(item)?.();
    await new Promise((r) => setImmediate(r));
  };
  return { s, started, done };
}

test('a free slot always takes the highest buffered level, oldest first', async () => {
  const { s, started, done } = harness(1);
  s.push(4, 'low-1');
  s.push(2, 'high-1');
  s.push(4, 'low-2');
  s.push(0, 'max-1');
  s.push(2, 'high-2');
  s.push(0, 'max-2');
  assert.deepEqual(started, ['low-1'], 'the first one starts at once: nothing else was waiting');
  for (const item of ['low-1', 'max-1', 'max-2', 'high-1', 'high-2']) await done(item);
  assert.deepEqual(started, ['low-1', 'max-1', 'max-2', 'high-1', 'high-2', 'low-2']);
  assert.equal(s.buffered, 0);
});

test('never more than `slots` run; clear() forgets what had not started', async () => {
  const { s, started, done } = harness(2);
  for (let i = 0; i < 5; i++) s.push(3, `n${i}`);
  assert.deepEqual(started, ['n0', 'n1']);
  assert.equal(s.running, 2);
  assert.deepEqual(s.clear(), ['n2', 'n3', 'n4']);
  await done('n0');
  assert.deepEqual(started, ['n0', 'n1']);
  assert.equal(s.running, 1);
  assert.throws(() => s.push(5, 'x'), RangeError);
});

test('a task that throws or rejects frees its slot', async () => {
  let n = 0;
  const s = new PriorityScheduler<number>(1, 1, (i) => {
    n++;
    if (i === 0) throw new Error('sync');
    return Promise.reject(new Error('async'));
  });
  s.push(0, 0);
  await new Promise((r) => setImmediate(r));
  s.push(0, 1);
  s.push(0, 2);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(n, 3);
  assert.equal(s.running, 0);
});
