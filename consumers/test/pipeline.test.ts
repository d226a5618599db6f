import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { QUEUES } from '@notes/contracts';
import { Webhook } from 'standardwebhooks';
import {
  call,
  createNote,
  depth,
  jobRows,
  newUser,
  noteOf,
  type Pipeline,
  publishedMessage,
  publishJob,
  startPipeline,
  type TestUser,
  waitFor,
} from './helpers.ts';

let p: Pipeline;
let user: TestUser;
before(async () => {
  // Webhooks go to a local receiver in this test.
  p = await startPipeline('pipeline', { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
  user = await newUser(p.t, 'pipe');
  await p.startConsumer();
});
after(() => p?.close());

const BODY = 'Ship it #Release #release #v2_0 see https://Example.com/a?b=1&c=2). 日本語 e\u0301 😀';

test('a note goes queued → processed with the exact result', async () => {
  const created = await createNote(p.t, user, { title: 'exact', body: BODY });
  const note = await waitFor('processed', async () => {
    const n = await noteOf(p, user, created.id);
    return n.status === 'processed' && n;
  });
  assert.deepEqual(note.result, {
    word_count: 10,
    char_count: [...BODY].length,
    reading_time_seconds: 3,
    tags: ['release', 'v2_0'],
    links: ['https://Example.com/a?b=1&c=2'],
    checksum: createHash('sha256').update(BODY, 'utf8').digest('hex'),
  });
  assert.equal(note.version, 1);
  assert.equal(note.attempts, 1);
  const [job] = await jobRows(p, created.id);
  assert.equal(job?.status, 'processed');
  assert.equal(job?.attempts, 1);
});

test('a stale job never overwrites: the edited version wins', async () => {
  // Two writes in quick succession: v1's job may run before or after the edit; either way the
  // note ends processed with v2's result and v1's job is processed or skipped, never applied late.
  const created = await createNote(p.t, user, { title: 'stale', body: 'first #one' });
  const patched = await call(p.t, user, 'PATCH', `/api/notes/${created.id}`, { body: 'second #two' });
  assert.equal(patched.statusCode, 200);
  const note = await waitFor('v2 processed', async () => {
    const n = await noteOf(p, user, created.id);
    return n.status === 'processed' && n.version === 2 && n;
  });
  assert.deepEqual((note.result as { tags: string[] }).tags, ['two']);
  const jobs = await waitFor('both jobs settled', async () => {
    const rows = await jobRows(p, created.id);
    return rows.every((j) => j.status === 'processed' || j.status === 'skipped') && rows;
  });
  assert.equal(jobs.length, 2);
  assert.equal(jobs.find((j) => j.note_version === 2)?.status, 'processed');
  // Still v2's result after everything settled.
  assert.deepEqual(((await noteOf(p, user, created.id)).result as { tags: string[] }).tags, ['two']);
});

test('a duplicate message (the relay republishing) is applied once', async () => {
  const hook = await startReceiver();
  try {
    const res = await call(p.t, user, 'POST', '/api/webhooks', { url: hook.url });
    assert.equal(res.statusCode, 201, res.body);
    const created = await createNote(p.t, user, { title: 'dup', body: 'once #only' });
    await waitFor('processed', async () => (await noteOf(p, user, created.id)).status === 'processed');
    await waitFor('delivered', () => hook.requests.length >= 1);

    // The same note.process message again, as a relay that crashed before its commit would.
    const job = (await jobRows(p, created.id)).find((j) => j.kind === 'note.process');
    const message = await publishedMessage(p, job?.id ?? '');
    const ch = await p.channel();
    await publishJob(ch, message);
    await publishJob(ch, message);
    await waitFor('duplicates consumed', async () => (await depth(p, QUEUES.work)) === 0);
    await new Promise((r) => setTimeout(r, 300));

    const jobs = await jobRows(p, created.id);
    assert.equal(jobs.filter((j) => j.kind === 'webhook.deliver').length, 1, 'one delivery job, not three');
    assert.equal(hook.requests.length, 1);
    const delivered = hook.requests[0]!;
    // Standard Webhooks: webhook-id is the delivery job's id; the signature verifies.
    const secret = res.json().secret as string;
    const payload = new Webhook(secret).verify(delivered.body, delivered.headers) as {
      type: string;
      data: { id: string; status: string; result: { tags: string[] } };
    };
    assert.equal(delivered.headers['webhook-id'], jobs.find((j) => j.kind === 'webhook.deliver')?.id);
    assert.equal(payload.type, 'note.processed');
    assert.equal(payload.data.id, created.id);
    assert.equal(payload.data.status, 'processed');
    assert.deepEqual(payload.data.result.tags, ['only']);
    assert.equal((payload.data as Record<string, unknown>).user_id, undefined, 'the public note shape');
    await waitFor('delivery job processed', async () =>
      (await jobRows(p, created.id)).every((j) => j.status === 'processed'),
    );
  } finally {
    await hook.close();
  }
});

test('health, readiness and metrics on CONSUMER_PORT', async () => {
  const c = await p.startConsumer();
  const base = `http://127.0.0.1:${c.port}`;
  assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: 'ok' });
  type Ready = { checks: { rabbitmq: { status: string }; api: { status: string } } };
  const ready = await waitFor('ready', async () => {
    const r = await fetch(`${base}/health/ready`);
    return r.status === 200 && ((await r.json()) as Ready);
  });
  assert.equal(ready.checks.rabbitmq.status, 'up');
  assert.equal(ready.checks.api.status, 'up');
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /notes_jobs_processed_total\{/);
  assert.match(metrics, /notes_queue_messages\{[^}]*queue="notes.jobs"/);
  assert.equal((await fetch(`${base}/health`, { method: 'POST' })).status, 405);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  await c.stop();
  await c.stop(); // idempotent
});

interface Received {
  headers: Record<string, string>;
  body: string;
}

test('a duplicate of a webhook job published while its delivery runs does not deliver it again', async () => {
  const owner = await newUser(p.t, 'dupwhile');
  const hook = await startReceiver(1500);
  try {
    const res = await call(p.t, owner, 'POST', '/api/webhooks', { url: hook.url });
    assert.equal(res.statusCode, 201, res.body);
    const created = await createNote(p.t, owner, { title: 'dup while running', body: 'once #running' });
    await waitFor('the delivery in progress', () => hook.requests.length === 1);

    // While the receiver holds the first delivery, the relay's duplicate of the same message.
    const delivery = (await jobRows(p, created.id)).find((j) => j.kind === 'webhook.deliver');
    assert.equal(delivery?.status, 'processing');
    await publishJob(await p.channel(), await publishedMessage(p, delivery?.id ?? ''));

    await waitFor('delivery job processed', async () =>
      (await jobRows(p, created.id)).every((j) => j.status === 'processed'),
    );
    await waitFor('the duplicate consumed', async () => (await depth(p, QUEUES.work)) === 0);
    await new Promise((r) => setTimeout(r, 1800)); // a second delivery would have arrived by now
    assert.equal(hook.requests.length, 1, 'delivered once');
  } finally {
    await hook.close();
  }
});

/** A webhook receiver; `delayMs` holds each answer that long (a delivery in progress). */
async function startReceiver(delayMs = 0) {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      requests.push({ headers: req.headers as Record<string, string>, body });
      setTimeout(() => res.writeHead(204).end(), delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
