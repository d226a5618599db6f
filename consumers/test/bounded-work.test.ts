import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { analyse } from '../src/analysis.ts';
import { createNote, newUser, noteOf, type Pipeline, startPipeline, waitFor } from './helpers.ts';

/**
 * A batch of the worst bodies the API accepts (a link, then ~64 KiB of dots and one letter, the
 * crafted notes of the noisy-neighbour report) is analysed while /health is asked over and over:
 * every ask is answered (docs/isolation.md). With the old backtracking trim each such note held
 * the event loop for seconds, and the asks timed out. Not a speed assertion: the 10 s allowance
 * per ask is far above any scheduling noise, and far below what a blocked loop costs the batch.
 */
const BODY_LIMIT = 65_536;
const crafted = (i: number) => {
  const head = `see http://x${i}`;
  return `${head}${'.'.repeat(BODY_LIMIT - head.length - 1)}a`;
};

let p: Pipeline;
before(async () => {
  p = await startPipeline('bounded-work');
});
after(() => p?.close());

test('/health keeps answering while a batch of worst-case notes is analysed', async () => {
  const user = await newUser(p.t, 'crafted');
  const ids: string[] = [];
  // Written before the consumer starts, so they arrive as one prefetched batch.
  for (let i = 0; i < 24; i++) ids.push((await createNote(p.t, user, { body: crafted(i), priority: 'max' })).id);
  const consumer = await p.startConsumer();
  const base = `http://127.0.0.1:${consumer.port}`;

  let done = false;
  let answered = 0;
  const failures: string[] = [];
  const asking = (async () => {
    while (!done) {
      try {
        const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(10_000) });
        if (res.status === 200) answered++;
        else failures.push(`status ${res.status}`);
        await res.body?.cancel();
      } catch (err) {
        failures.push((err as Error).message);
      }
      await sleep(20);
    }
  })();
  try {
    await waitFor(
      'all processed',
      async () => {
        for (const id of ids) if ((await noteOf(p, user, id)).status !== 'processed') return false;
        return true;
      },
      120_000,
      250,
    );
  } finally {
    done = true;
    await asking;
  }
  assert.deepEqual(failures, [], 'every /health ask was answered');
  assert.ok(answered > 0);
  const note = await noteOf(p, user, ids[0] as string);
  assert.deepEqual(note.result, analyse(crafted(0)));
  assert.deepEqual((note.result as { links: string[] }).links, [`http://x0${'.'.repeat(BODY_LIMIT - 14)}a`]);
});
