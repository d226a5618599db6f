import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EndpointGate, type Release } from './endpoint-gate.ts';

test('at most maxInFlight run per endpoint; the next waits in line; beyond the line it is turned away', async () => {
  const gate = new EndpointGate(2, 1);
  const e1 = await gate.enter('a');
  const e2 = await gate.enter('a');
  assert.ok(e1 && e2);
  const a1: Release = e1;
  const a2: Release = e2;
  let a3: Release | null | undefined;
  const waiting = gate.enter('a').then((r) => {
    a3 = r;
  });
  assert.deepEqual(gate.load('a'), { running: 2, waiting: 1 });
  assert.equal(await gate.enter('a'), null, 'the line is full: defer');
  // Another endpoint is not held up by a's queue.
  const b1 = await gate.enter('b');
  assert.ok(b1);
  assert.equal(a3, undefined);
  a1();
  await waiting;
  assert.ok(a3, 'the freed slot went to the waiter');
  assert.deepEqual(gate.load('a'), { running: 2, waiting: 0 });
  a1(); // releasing twice changes nothing
  assert.deepEqual(gate.load('a'), { running: 2, waiting: 0 });
  a2();
  (a3 as Release)();
  b1?.();
  assert.deepEqual(gate.load('a'), { running: 0, waiting: 0 });
  assert.deepEqual(gate.load('b'), { running: 0, waiting: 0 });
});

test('a waiter is turned away when the signal aborts (shutdown), and leaves the line', async () => {
  const gate = new EndpointGate(1, 5);
  const first = (await gate.enter('a')) as Release;
  const stop = new AbortController();
  const waiting = gate.enter('a', stop.signal);
  assert.deepEqual(gate.load('a'), { running: 1, waiting: 1 });
  stop.abort();
  assert.equal(await waiting, null);
  assert.deepEqual(gate.load('a'), { running: 1, waiting: 0 });
  assert.equal(await gate.enter('a', stop.signal), null, 'no new waiter once aborted');
  first();
  assert.deepEqual(gate.load('a'), { running: 0, waiting: 0 });
});

test('waiters are admitted in arrival order', async () => {
  const gate = new EndpointGate(1, 10);
  const held = (await gate.enter('a')) as Release;
  const order: number[] = [];
  const all = [1, 2, 3].map((n) =>
    gate.enter('a').then((release) => {
      order.push(n);
      release?.();
    }),
  );
  held();
  await Promise.all(all);
  assert.deepEqual(order, [1, 2, 3]);
});
