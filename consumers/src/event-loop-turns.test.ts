import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLoopTurns } from './event-loop-turns.ts';

/**
 * An immediate queued from inside a check phase runs in the next loop iteration, after its poll
 * phase: where it lands among the steps shows whether they shared one iteration.
 */
test('turns taken in one tick are granted in separate loop iterations', async () => {
  const turns = new EventLoopTurns();
  const order: string[] = [];
  const steps = [1, 2, 3, 4].map((n) =>
    turns.take().then(() => {
      order.push(`turn ${n}`);
      if (n === 1) setImmediate(() => order.push('next iteration'));
    }),
  );
  await Promise.all(steps);
  assert.deepEqual(order, ['turn 1', 'turn 2', 'next iteration', 'turn 3', 'turn 4']);
});

test('a plain setImmediate batch runs back to back in one iteration (why the turns exist)', async () => {
  const order: string[] = [];
  const steps = [1, 2, 3, 4].map(
    (n) =>
      new Promise<void>((resolve) =>
        setImmediate(() => {
          order.push(`step ${n}`);
          if (n === 1) setImmediate(() => order.push('next iteration'));
          resolve();
        }),
      ),
  );
  await Promise.all(steps);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['step 1', 'step 2', 'step 3', 'step 4', 'next iteration']);
});
