import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@notes/contracts';
import {
  call,
  createNote,
  jobRows,
  newUser,
  noteOf,
  type Pipeline,
  startPipeline,
  type TestUser,
  untilNote,
  waitFor,
} from './helpers.ts';

/**
 * Day-2 operations with real consumers (docs/jobs.md): each attempt is reported with its webhook
 * status and answer, and a paused kind stops being worked on while its messages wait in RabbitMQ.
 */
let p: Pipeline;
let user: TestUser;
let adminToken: string;

before(async () => {
  p = await startPipeline('opsconsumer', { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', RETRY_DELAYS_MS: '200,200' });
  user = await newUser(p.t, 'ops');
  const operator = await newUser(p.t, 'operator');
  await p.t.deps.database.pool.query("UPDATE users SET role = 'admin' WHERE id = ?", [operator.id]);
  adminToken = p.t.app.signToken({ id: operator.id, role: 'admin' });
  await p.startConsumer();
});
after(() => p?.close());

const admin = (method: 'GET' | 'PUT', url: string, payload?: Record<string, unknown>) =>
  p.t.app.inject({ method, url, headers: { authorization: `Bearer ${adminToken}` }, ...(payload ? { payload } : {}) });

async function queue() {
  const ch = await p.channel();
  try {
    const q = await ch.checkQueue(QUEUES.work);
    return { ready: q.messageCount, consumers: q.consumerCount };
  } finally {
    await ch.close().catch(() => {});
  }
}

test('every attempt is kept: the failed one with its HTTP status and answer, then the success', async () => {
  let calls = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      if (calls === 1) res.writeHead(503, { 'content-type': 'text/plain' }).end(`try later ${'é'.repeat(600)}`);
      else res.writeHead(200).end('ok, got it');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    assert.equal((await call(p.t, user, 'POST', '/api/webhooks', { url })).statusCode, 201);
    const note = await createNote(p.t, user, { title: 'attempts', body: 'hello #ops' });
    const delivery = await waitFor('delivered on the second attempt', async () => {
      const row = (await jobRows(p, note.id)).find((j) => j.kind === 'webhook.deliver');
      return row?.status === 'processed' && row;
    });
    const res = await admin('GET', `/api/admin/jobs/${delivery.id}`);
    assert.equal(res.statusCode, 200);
    const job = res.json();
    assert.equal(job.payload.job_id, delivery.id);
    assert.equal(job.history.length, 2, JSON.stringify(job.history));
    const [failed, ok] = job.history;
    assert.deepEqual([failed.number, failed.outcome, failed.http_status], [1, 'failed', 503]);
    assert.equal(failed.error_class, 'WebhookDeliveryError');
    assert.match(failed.error_message, /endpoint answered 503/);
    assert.ok(failed.response_excerpt.startsWith('try later é'));
    assert.ok(Buffer.byteLength(failed.response_excerpt) <= 1024, 'the first 1 KiB, cut on a character');
    assert.equal(typeof failed.duration_ms, 'number');
    assert.ok(failed.started_at);
    assert.deepEqual([ok.number, ok.outcome, ok.http_status, ok.response_excerpt], [2, 'processed', 200, 'ok, got it']);
    await call(
      p.t,
      user,
      'DELETE',
      `/api/webhooks/${(await call(p.t, user, 'GET', '/api/webhooks')).json().data[0].id}`,
    );
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('pausing every kind cancels the consumer: new work waits in RabbitMQ until resumed', async () => {
  assert.equal((await queue()).consumers, 1);
  for (const kind of ['note.process', 'webhook.deliver']) {
    assert.equal((await admin('PUT', `/api/admin/control/${kind}`, { paused: true })).statusCode, 200);
  }
  const pausedAt = Date.now();
  await waitFor('the consumer cancelled', async () => (await queue()).consumers === 0, 15_000, 50);
  const tookMs = Date.now() - pausedAt;
  const note = await createNote(p.t, user, { title: 'paused', body: 'waits #paused' });
  await waitFor('its job in notes.jobs, ready', async () => (await queue()).ready >= 1);
  await sleep(1500);
  assert.equal((await noteOf(p, user, note.id)).status, 'queued', 'nothing took it while paused');
  assert.equal((await queue()).ready, 1);

  await admin('PUT', '/api/admin/control/note.process', { paused: false });
  await untilNote(p, user, note.id, 'processed');
  assert.equal((await queue()).consumers, 1);
  await admin('PUT', '/api/admin/control/webhook.deliver', { paused: false });
  process.stderr.write(`# the consumer obeyed the pause in ${tookMs} ms\n`);
});

test('pausing one kind stops its lane only: notes are processed, deliveries wait in notes.webhooks', async () => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(req.headers['webhook-id'] as string);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    assert.equal((await call(p.t, user, 'POST', '/api/webhooks', { url })).statusCode, 201);
    await admin('PUT', '/api/admin/control/webhook.deliver', { paused: true });
    await sleep(2500); // the consumer polls about once a second
    const note = await createNote(p.t, user, { title: 'held', body: 'note runs, delivery waits' });
    await untilNote(p, user, note.id, 'processed');
    await sleep(1500);
    assert.deepEqual(seen, [], 'no delivery while webhook.deliver is paused');
    const delivery = (await jobRows(p, note.id)).find((j) => j.kind === 'webhook.deliver');
    assert.equal(delivery?.status, 'queued');
    const ch = await p.channel();
    const webhooks = await ch.checkQueue(QUEUES.webhooks);
    await ch.close().catch(() => {});
    assert.deepEqual([webhooks.messageCount, webhooks.consumerCount], [1, 0], 'waiting in RabbitMQ, no consumer');
    await admin('PUT', '/api/admin/control/webhook.deliver', { paused: false });
    await waitFor('delivered after the resume', () => seen.length === 1);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
