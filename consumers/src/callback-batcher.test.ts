import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Batcher, type Pending } from './callback-batcher.ts';

/** A send whose requests the test answers by hand. */
function manualSend() {
  const requests: { items: number[]; answer(results?: (number | Error)[]): void; fail(err: Error): void }[] = [];
  const send = (batch: readonly Pending<number>[]) =>
    new Promise<(number | Error)[]>((resolve, reject) => {
      const items = batch.map((p) => p.item);
      requests.push({ items, answer: (results) => resolve(results ?? items.map((i) => i * 10)), fail: reject });
    });
  return { requests, send };
}

test('a lone call goes at once, as a batch of one', async () => {
  const { requests, send } = manualSend();
  const b = new Batcher(send, { maxBatch: 10, stallMs: 10_000 });
  const answer = b.add(1);
  await nextTurn();
  assert.deepEqual(
    requests.map((r) => r.items),
    [[1]],
  );
  requests[0]?.answer();
  assert.equal(await answer, 10);
});

test('calls made in one turn share a request; calls made while it is out wait for it', async () => {
  const { requests, send } = manualSend();
  const b = new Batcher(send, { maxBatch: 10, maxInFlight: 1, stallMs: 10_000 });
  const first = [b.add(1), b.add(2), b.add(3)];
  await nextTurn();
  const later = [b.add(4), b.add(5)];
  await sleep(20);
  assert.equal(requests.length, 1, 'the second batch waits while the first is out');
  assert.equal(b.queued, 2);
  requests[0]?.answer();
  assert.deepEqual(await Promise.all(first), [10, 20, 30]);
  await nextTurn();
  assert.deepEqual(
    requests.map((r) => r.items),
    [
      [1, 2, 3],
      [4, 5],
    ],
  );
  requests[1]?.answer();
  assert.deepEqual(await Promise.all(later), [40, 50]);
});

test('items that gathered behind a request go together when it returns, with no timer', async () => {
  const { requests, send } = manualSend();
  const b = new Batcher(send, { maxBatch: 10, maxInFlight: 1, stallMs: 10_000 });
  const first = b.add(1);
  await nextTurn();
  const later = [b.add(2)];
  await sleep(30);
  later.push(b.add(3));
  await nextTurn();
  assert.equal(requests.length, 1, 'nothing goes while the first request is out');
  requests[0]?.answer();
  assert.equal(await first, 10);
  await nextTurn();
  assert.deepEqual(
    requests.map((r) => r.items),
    [[1], [2, 3]],
  );
  requests[1]?.answer();
  assert.deepEqual(await Promise.all(later), [20, 30]);
  assert.equal(b.inFlight, 0);
});

test('up to maxInFlight requests go at once; past them, items wait for one to return', async () => {
  const { requests, send } = manualSend();
  const b = new Batcher(send, { maxBatch: 10, maxInFlight: 2, stallMs: 10_000 });
  const one = b.add(1);
  await nextTurn();
  const two = b.add(2);
  await nextTurn();
  const rest = [b.add(3), b.add(4)];
  await nextTurn();
  assert.deepEqual(
    requests.map((r) => r.items),
    [[1], [2]],
  );
  requests[1]?.answer();
  assert.equal(await two, 20);
  await nextTurn();
  assert.deepEqual(
    requests.map((r) => r.items),
    [[1], [2], [3, 4]],
  );
  requests[0]?.answer();
  requests[2]?.answer();
  assert.equal(await one, 10);
  assert.deepEqual(await Promise.all(rest), [30, 40]);
});

test('a stalled request stops holding the items behind it after stallMs', async () => {
  const { requests, send } = manualSend();
  const b = new Batcher(send, { maxBatch: 10, maxInFlight: 1, stallMs: 30 });
  void b.add(1);
  await nextTurn();
  void b.add(2);
  await nextTurn();
  assert.equal(requests.length, 1);
  await sleep(100);
  assert.deepEqual(
    requests.map((r) => r.items),
    [[1], [2]],
  );
});

test('no request carries more than maxBatch items', async () => {
  const { requests, send } = manualSend();
  const b = new Batcher(send, { maxBatch: 3, stallMs: 10_000 });
  const all = Array.from({ length: 8 }, (_, i) => b.add(i));
  await nextTurn();
  assert.deepEqual(
    requests.map((r) => r.items),
    [
      [0, 1, 2],
      [3, 4, 5],
    ],
  );
  for (const r of requests.splice(0)) r.answer();
  await nextTurn();
  await nextTurn();
  assert.deepEqual(
    requests.map((r) => r.items),
    [[6, 7]],
  );
  requests[0]?.answer();
  assert.deepEqual(await Promise.all(all), [0, 10, 20, 30, 40, 50, 60, 70]);
});

test('an error answered for one item fails that item alone; a failed request fails them all', async () => {
  const { requests, send } = manualSend();
  const b = new Batcher(send, { maxBatch: 10, stallMs: 10_000 });
  const [a, bad, c] = [b.add(1), b.add(2), b.add(3)];
  await nextTurn();
  requests[0]?.answer([10, new Error('refused'), 30]);
  assert.equal(await a, 10);
  await assert.rejects(bad, /refused/);
  assert.equal(await c, 30);

  const both = [b.add(4), b.add(5)];
  await nextTurn();
  requests[1]?.fail(new Error('unreachable'));
  for (const p of both) await assert.rejects(p, /unreachable/);
});
