import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@notes/contracts';
import {
  createNote,
  depth,
  jobRows,
  newUser,
  noteOf,
  type Pipeline,
  startPipeline,
  type TestUser,
  waitFor,
} from './helpers.ts';
import { startHoldingProxy } from './holding-proxy.ts';

const SHUTDOWN_TIMEOUT_MS = 4000;
let p: Pipeline;
let user: TestUser;
before(async () => {
  p = await startPipeline('sigterm');
  user = await newUser(p.t, 'term');
});
after(() => p?.close());

async function exitAfterSigterm(child: ReturnType<Pipeline['spawnConsumer']>) {
  const started = performance.now();
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return { code, elapsedMs: performance.now() - started };
}

test('SIGTERM: stop taking work, finish and ack what is held, exit within the timeout', async () => {
  const proxy = await startHoldingProxy(p.apiUrl, (_, ops) => ops.has('complete'));
  const child = p.spawnConsumer({ API_URL: proxy.url, CONSUMER_PREFETCH: '3' });
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await createNote(p.t, user, { title: `t${i}`, body: `n${i}` })).id);
  // Three completions held, alone or batched.
  await waitFor('three held', () => proxy.heldJobs().length === 3, 30_000);
  const heldJobs = new Set(proxy.heldJobs());

  const exit = exitAfterSigterm(child);
  await sleep(500); // the child is draining: it must not take the other two meanwhile
  await proxy.release();
  const { code, elapsedMs } = await exit;
  await proxy.close();
  assert.equal(code, 0, child.output());
  assert.ok(elapsedMs < SHUTDOWN_TIMEOUT_MS + 1000, `exited after ${Math.round(elapsedMs)} ms`);

  const statuses = await Promise.all(ids.map(async (id) => ({ id, job: (await jobRows(p, id))[0] })));
  const processed = statuses.filter((s) => s.job?.status === 'processed');
  assert.equal(processed.length, 3, 'the three it held were finished');
  for (const s of processed) assert.ok(heldJobs.has(s.job?.id ?? ''), 'exactly the held ones');
  for (const s of statuses.filter((x) => x.job?.status !== 'processed')) assert.equal(s.job?.status, 'queued');
  // Acked: the finished ones are gone, the other two wait untouched.
  await waitFor('two left', async () => (await depth(p, QUEUES.work)) === 2);
  for (const s of processed) assert.equal((await noteOf(p, user, s.id)).status, 'processed');
});

test('SIGTERM with work that cannot finish in time: exit anyway, the message returns', async () => {
  // Drain what the first test left, so the child below holds only the new note.
  const helper = await p.startConsumer();
  await waitFor('drained', async () => (await depth(p, QUEUES.work)) === 0);
  await helper.stop();

  const proxy = await startHoldingProxy(p.apiUrl, (_, ops) => ops.has('complete'));
  const child = p.spawnConsumer({ API_URL: proxy.url });
  const created = await createNote(p.t, user, { title: 'stuck', body: 'stuck' });
  await waitFor('held', () => proxy.heldJobs().length === 1, 30_000);
  const { elapsedMs } = await exitAfterSigterm(child);
  assert.ok(elapsedMs < SHUTDOWN_TIMEOUT_MS + 1000, `exited after ${Math.round(elapsedMs)} ms`);
  proxy.held.splice(0); // never forwarded
  await proxy.close();
  await waitFor('back in the queue', async () => (await depth(p, QUEUES.work)) === 1);
  // And it is not lost: the next consumer finishes it.
  await p.startConsumer();
  await waitFor('processed', async () => (await noteOf(p, user, created.id)).status === 'processed');
});
