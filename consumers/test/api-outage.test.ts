import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@notes/contracts';
import { type FaultProxy, startFaultProxy } from '@notes/contracts/testing';
import { createNote, depth, jobRows, newUser, noteOf, type Pipeline, startPipeline, waitFor } from './helpers.ts';

let p: Pipeline;
let proxy: FaultProxy;
before(async () => {
  p = await startPipeline('apiout');
  proxy = await startFaultProxy(Number(new URL(p.apiUrl).port));
});
after(async () => {
  await p?.close();
  await proxy?.close();
});

test('while the API is unreachable, messages wait without spending attempts; then they flow', async () => {
  const consumer = await p.startConsumer(
    { API_URL: `http://127.0.0.1:${proxy.port}` },
    { api: { resetTimeoutMs: 300, volumeThreshold: 2 } },
  );
  // The API itself stays up (the test talks to it directly); only the consumer's path to it is cut.
  const owner = await newUser(p.t, 'outage');
  const ready = `http://127.0.0.1:${consumer.port}/health/ready`;
  await waitFor('ready', async () => (await fetch(ready)).status === 200);

  proxy.cut();
  const created = await createNote(p.t, owner, { title: 'waits', body: 'patient #wait' });
  // Several rounds of start → unreachable → back to the queue (RETRY_DELAYS_MS is 200,400: three
  // attempts would be spent in well under this time if unavailability counted as failure).
  await waitFor('circuit open', () => consumer.api.circuitOpen);
  await sleep(2000);
  assert.equal((await fetch(ready)).status, 503, 'not ready while the API is unreachable');
  const [job] = await jobRows(p, created.id);
  assert.equal(job?.status, 'queued');
  assert.equal(job?.attempts, 0);
  assert.equal(await depth(p, QUEUES.dead), 0);

  proxy.restore();
  const note = await waitFor('processed', async () => {
    const n = await noteOf(p, owner, created.id);
    return n.status === 'processed' && n;
  });
  assert.equal(note.attempts, 1, 'the outage cost no attempt');
  assert.deepEqual((note.result as { tags: string[] }).tags, ['wait']);
  await waitFor('ready again', async () => (await fetch(ready)).status === 200);
});
