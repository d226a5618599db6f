import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { type RelayRound, RelayWorker } from './relay-worker.ts';

const logger = pino({ level: 'silent' });

/** A round the test completes by hand, counting how many started. */
function manualRounds() {
  const started: { finish: (r: RelayRound | Error) => void }[] = [];
  const round = () =>
    new Promise<RelayRound>((resolve, reject) => {
      started.push({ finish: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
    });
  return { started, round };
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(2);
  }
}

test('an idle worker runs a round at once when nudged; nudges during a round make exactly one more', async () => {
  const { started, round } = manualRounds();
  const worker = new RelayWorker(round, { name: 't', logger, pollMs: 60_000 });
  worker.start();
  await until(() => started.length === 1); // the first round at start
  started[0]!.finish('idle');
  await sleep(10);
  assert.equal(started.length, 1, 'nothing runs until a nudge or the poll');

  worker.nudge();
  await until(() => started.length === 2);
  for (let i = 0; i < 5; i++) worker.nudge(); // commits while the round is in flight
  started[1]!.finish('idle');
  await until(() => started.length === 3);
  started[2]!.finish('idle');
  await sleep(10);
  assert.equal(started.length, 3, 'one round took everything committed meanwhile');

  const stopping = worker.stop();
  await stopping;
});

test('a full batch goes again at once; a round that throws is retried after a backoff and the loop goes on', async () => {
  const { started, round } = manualRounds();
  const worker = new RelayWorker(round, { name: 't', logger, pollMs: 30 });
  worker.start();
  await until(() => started.length === 1);
  started[0]!.finish('more');
  await until(() => started.length === 2);
  started[1]!.finish(new Error('broker said no'));
  const failedAt = Date.now();
  worker.nudge(); // a nudge does not skip the backoff
  await until(() => started.length === 3);
  assert.ok(Date.now() - failedAt >= 25, 'retried after the backoff');
  assert.equal(worker.stats.failures, 1);
  started[2]!.finish('idle');
  await worker.stop();
});

test('while the target is away nudges only mark work; wake() runs a round at once', async () => {
  const { started, round } = manualRounds();
  const worker = new RelayWorker(round, { name: 't', logger, pollMs: 60_000 });
  worker.start();
  await until(() => started.length === 1);
  started[0]!.finish('wait');
  await sleep(5);
  for (let i = 0; i < 3; i++) worker.nudge();
  await sleep(20);
  assert.equal(started.length, 1, 'nudges do not start rounds against a target that is away');
  worker.wake();
  await until(() => started.length === 2);
  started[1]!.finish('idle');
  await worker.stop();
});

test('stop() waits for the round in flight and runs no other', async () => {
  const { started, round } = manualRounds();
  const worker = new RelayWorker(round, { name: 't', logger, pollMs: 10 });
  worker.start();
  await until(() => started.length === 1);
  let stopped = false;
  const stopping = worker.stop().then(() => {
    stopped = true;
  });
  await sleep(10);
  assert.equal(stopped, false, 'the round in flight is finished first');
  started[0]!.finish('more');
  await stopping;
  await sleep(20);
  assert.equal(started.length, 1);
});

test('rounds that keep waiting back off, doubling up to maxWaitMs; a round that publishes or wake() resets it', async () => {
  const { started, round } = manualRounds();
  const worker = new RelayWorker(round, { name: 't', logger, pollMs: 1, maxWaitMs: 8 });
  worker.start();
  const slept: number[] = [];
  /** Finishes round `i` with `r` and records the sleep chosen before round `i + 1`. */
  const finish = async (i: number, r: RelayRound) => {
    await until(() => started.length === i + 1);
    started[i]!.finish(r);
    await until(() => started.length === i + 2);
    slept.push(worker.stats.lastSleepMs);
  };
  let i = 0;
  for (const r of ['wait', 'wait', 'wait', 'wait', 'wait', 'idle', 'wait', 'wait'] as const) await finish(i++, r);
  assert.deepEqual(slept, [1, 2, 4, 8, 8, 1, 1, 2], 'refused rounds back off (capped); a round that published resets');
  await until(() => started.length === i + 1);
  started[i++]!.finish('wait');
  await until(() => worker.stats.lastSleepMs === 4);
  worker.wake(); // the target is back: a round at once, and the next wait starts from the poll again
  await finish(i++, 'wait');
  assert.equal(worker.stats.lastSleepMs, 1);
  await until(() => started.length === i + 1);
  started[i]!.finish('idle');
  await worker.stop();
});
