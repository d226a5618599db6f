import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@notes/contracts';
import { type FaultProxy, startFaultProxy } from '@notes/contracts/testing';
import { call, createNote, depth, jobRows, newUser, noteOf, type Pipeline, startPipeline, waitFor } from './helpers.ts';

type Consumer = Awaited<ReturnType<Pipeline['startConsumer']>>;

let p: Pipeline;
let proxy: FaultProxy;
let consumer: Consumer;
before(async () => {
  // Webhooks go to a receiver on loopback in the second test.
  p = await startPipeline('apiout', { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
  proxy = await startFaultProxy(Number(new URL(p.apiUrl).port));
  // The API itself stays up (the tests talk to it directly); only the consumer's path to it is cut.
  consumer = await p.startConsumer(
    { API_URL: `http://127.0.0.1:${proxy.port}` },
    { api: { resetTimeoutMs: 300, volumeThreshold: 2 } },
  );
});
after(async () => {
  await p?.close();
  await proxy?.close();
});

test('while the API is unreachable, messages wait without spending attempts; then they flow', async () => {
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

test('a webhook delivered just before the API became unreachable is not delivered again', async () => {
  const owner = await newUser(p.t, 'outage-hook');
  // The receiver takes the delivery, and the consumer's path to the API goes down before the
  // consumer can report it: the outcome exists only in the consumer.
  const deliveries: string[] = [];
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      deliveries.push(String(req.headers['webhook-id']));
      if (deliveries.length === 1) {
        proxy.cut();
        setTimeout(() => proxy.restore(), 1500);
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    assert.equal((await call(p.t, owner, 'POST', '/api/webhooks', { url })).statusCode, 201);
    const created = await createNote(p.t, owner, { title: 'hooked', body: 'deliver me once #once' });

    const delivery = await waitFor('the delivery job recorded', async () => {
      const job = (await jobRows(p, created.id)).find((j) => j.kind === 'webhook.deliver');
      return job?.status === 'processed' && job;
    });
    // The outage outlasted several reports (every 200 ms) and the breaker's 300 ms reset.
    await sleep(1000);
    assert.deepEqual(deliveries, [delivery.id], 'delivered exactly once, as webhook-id = the job id');
    assert.equal(delivery.attempts, 1, 'the outage cost no attempt');
  } finally {
    proxy.restore();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  }
});
