import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { DEFERRED, LANES, METRICS } from '@notes/contracts';
import { seedUser } from '../../api/test/admin-fixtures.ts';
import { call, createNote, depth, jobRows, newUser, noteOf, type Pipeline, startPipeline, waitFor } from './helpers.ts';

/**
 * Webhook deliveries in their own lane (docs/isolation.md), against the real API, broker and
 * consumer: an endpoint never has more than WEBHOOK_MAX_IN_FLIGHT deliveries at once, the excess
 * waits without starving another endpoint or note processing, and an endpoint answering
 * `410 Gone` is disabled where its owner and the admin see it.
 */
let p: Pipeline;
before(async () => {
  p = await startPipeline('webhook-lanes', { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
});
after(() => p?.close());

/** A receiver that holds every request until released (or answers at once with `status`). */
async function startReceiver(opts: { hold?: boolean; status?: number } = {}) {
  let open = 0;
  let maxOpen = 0;
  let received = 0;
  let holding = opts.hold ?? false;
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      open++;
      maxOpen = Math.max(maxOpen, open);
      res.on('close', () => open--);
      if (holding) held.push(res);
      else res.writeHead(opts.status ?? 204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    stats: () => ({ open, maxOpen, received }),
    release() {
      holding = false;
      for (const res of held.splice(0)) res.writeHead(204).end();
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function subscribe(user: { id: string; token: string }, url: string): Promise<string> {
  const res = await call(p.t, user, 'POST', '/api/webhooks', { url });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id;
}

test('one endpoint holds at most WEBHOOK_MAX_IN_FLIGHT; the excess waits without starving other endpoints or notes', async () => {
  const slow = await startReceiver({ hold: true });
  const fast = await startReceiver();
  try {
    const heavy = await newUser(p.t, 'heavy');
    const other = await newUser(p.t, 'other');
    await subscribe(heavy, slow.url);
    await subscribe(other, fast.url);
    // 3 running + 3 waiting per endpoint in a lane of 8: the slow endpoint can never fill it.
    const consumer = await p.startConsumer({ WEBHOOK_MAX_IN_FLIGHT: '3', WEBHOOK_CONCURRENCY: '8' });
    for (let i = 0; i < 30; i++) await createNote(p.t, heavy, { body: `heavy ${i}` });
    await waitFor('the slow endpoint holds three', () => slow.stats().open === 3);

    // While it is saturated, another user's note is processed and their endpoint gets its delivery.
    const note = await createNote(p.t, other, { body: 'bystander #ok' });
    await waitFor('the bystander note processed', async () => (await noteOf(p, other, note.id)).status === 'processed');
    await waitFor('the other endpoint delivered', () => fast.stats().received === 1);
    const metrics = await (await fetch(`http://127.0.0.1:${consumer.port}/metrics`)).text();
    const deferred = Number(/^notes_webhook_deliveries_deferred_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0);
    assert.ok(metrics.includes(METRICS.webhookDeferred));
    assert.ok(deferred > 0, 'deliveries over the endpoint line were parked, not held');
    assert.equal(slow.stats().maxOpen, 3);

    slow.release();
    await waitFor(
      'every heavy delivery made',
      async () => {
        const [rows] = await p.t.deps.database.pool.query(
          "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'webhook.deliver' AND user_id = ? AND status = 'processed'",
          [heavy.id],
        );
        return (rows as { n: number }[])[0]?.n === 30;
      },
      60_000,
    );
    assert.equal(slow.stats().maxOpen, 3, 'never more than WEBHOOK_MAX_IN_FLIGHT at the endpoint');
    assert.equal(slow.stats().received, 30, 'each delivered once');
    await waitFor('lanes drained', async () => (await depth(p, LANES.webhooks.queue)) === 0);
    assert.equal(await depth(p, DEFERRED.queue), 0);
    await consumer.stop();
  } finally {
    slow.release();
    await slow.close();
    await fast.close();
  }
});

test('an endpoint answering 410 Gone is disabled: its owner and the admin see it, and it gets no more deliveries', async () => {
  const gone = await startReceiver({ status: 410 });
  try {
    const owner = await newUser(p.t, 'gone');
    const hookId = await subscribe(owner, gone.url);
    const consumer = await p.startConsumer();
    const first = await createNote(p.t, owner, { body: 'first' });
    await waitFor('the delivery dead', async () =>
      (await jobRows(p, first.id)).some((j) => j.kind === 'webhook.deliver' && j.status === 'dead'),
    );
    assert.equal(gone.stats().received, 1, 'a 410 is not retried');
    assert.equal((await noteOf(p, owner, first.id)).status, 'processed', 'the note itself stays processed');

    const mine = (await call(p.t, owner, 'GET', '/api/webhooks')).json();
    const hook = mine.data.find((w: { id: string }) => w.id === hookId);
    assert.ok(hook.disabled_at, 'the owner sees it disabled');
    assert.match(hook.disabled_reason, /410 Gone/);

    const admin = await seedUser(p.t.app, p.t.deps.database, { role: 'admin' });
    const listed = await call(p.t, admin, 'GET', '/api/admin/webhooks?disabled=true');
    assert.equal(listed.statusCode, 200, listed.body);
    const seen = listed.json().data.find((w: { id: string }) => w.id === hookId);
    assert.equal(seen?.user_id, owner.id);
    assert.equal(seen?.disabled_at, hook.disabled_at);
    const enabled = (await call(p.t, admin, 'GET', '/api/admin/webhooks?disabled=false')).json();
    assert.ok(!enabled.data.some((w: { id: string }) => w.id === hookId));
    assert.equal((await call(p.t, owner, 'GET', '/api/admin/webhooks')).statusCode, 403);

    const second = await createNote(p.t, owner, { body: 'second' });
    await waitFor('processed', async () => (await noteOf(p, owner, second.id)).status === 'processed');
    assert.deepEqual(
      (await jobRows(p, second.id)).map((j) => j.kind),
      ['note.process'],
      'no delivery is enqueued to a disabled endpoint',
    );
    assert.equal(gone.stats().received, 1);
    await consumer.stop();
  } finally {
    await gone.close();
  }
});
