import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@notes/contracts';
import { type FaultProxy, startFaultProxy } from '@notes/contracts/testing';
import {
  createNote,
  depth,
  jobRows,
  newUser,
  type Pipeline,
  startPipeline,
  type TestUser,
  waitFor,
} from './helpers.ts';
import { startHoldingProxy } from './holding-proxy.ts';

/**
 * Callbacks under load go in batches (one request and one transaction for many jobs), and every
 * guarantee of the single callbacks holds for each job in them.
 */
let p: Pipeline;
let user: TestUser;
before(async () => {
  p = await startPipeline('batching');
  user = await newUser(p.t, 'batch');
});
after(() => p?.close());

async function backlog(count: number, title: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++)
    ids.push((await createNote(p.t, user, { title: `${title} ${i}`, body: `#n${i}` })).id);
  return ids;
}

async function allProcessedOnce(ids: string[]) {
  for (const id of ids) {
    const rows = await waitFor(`note ${id} processed`, async () => {
      const r = await jobRows(p, id);
      return r.every((j) => j.status === 'processed') && r;
    });
    assert.equal(rows.length, 1, 'one job per note');
    assert.equal(rows[0]?.attempts, 1, 'nothing retried');
  }
  await waitFor('queue drained', async () => (await depth(p, QUEUES.work)) === 0);
  assert.equal(await depth(p, QUEUES.dead), 0);
}

test('a backlog is started and completed in batches; each job is recorded once', async () => {
  const ids = await backlog(40, 'backlog');
  await waitFor('all published', async () => (await depth(p, QUEUES.work)) === 40);
  const proxy = await startHoldingProxy(p.apiUrl, () => false);
  const consumer = await p.startConsumer({ API_URL: proxy.url, CONSUMER_PREFETCH: '100' });
  await allProcessedOnce(ids);
  await consumer.stop();
  await proxy.close();

  const callbacks = proxy.seen.filter((s) => s.path.startsWith('/internal/jobs'));
  const batches = callbacks.filter((s) => s.callbacks.length > 1);
  const carries = (op: string) => batches.some((b) => b.callbacks.some((c) => c.op === op));
  assert.ok(
    carries('start') && carries('complete'),
    `batched starts and completes: ${callbacks.map((c) => `${c.path}×${c.callbacks.length}`).join(' ')}`,
  );
  assert.ok(callbacks.length < 2 * ids.length, `${callbacks.length} callback requests for ${ids.length} jobs`);
  // Each job was started and completed exactly once, whether alone or in a batch.
  for (const op of ['start', 'complete']) {
    const jobs = callbacks.flatMap((c) => c.callbacks.filter((x) => x.op === op).map((x) => x.jobId));
    assert.equal(jobs.length, ids.length, op);
    assert.equal(new Set(jobs).size, ids.length, op);
  }
});

test('a batch whose request fails puts every job in it back without spending an attempt', async () => {
  let proxy: FaultProxy | undefined;
  try {
    proxy = await startFaultProxy(Number(new URL(p.apiUrl).port));
    const consumer = await p.startConsumer(
      { API_URL: `http://127.0.0.1:${proxy.port}`, CONSUMER_PREFETCH: '100' },
      { api: { resetTimeoutMs: 300, volumeThreshold: 2 } },
    );
    proxy.cut();
    const ids = await backlog(25, 'outage');
    await waitFor('circuit open', () => consumer.api.circuitOpen);
    // Several rounds of batch → unreachable → back to the queue (RETRY_DELAYS_MS is short in tests).
    await sleep(1500);
    for (const id of ids)
      assert.deepEqual(
        (await jobRows(p, id)).map((j) => [j.status, j.attempts]),
        [['queued', 0]],
      );
    proxy.restore();
    await allProcessedOnce(ids);
    await consumer.stop();
  } finally {
    await proxy?.close();
  }
});
