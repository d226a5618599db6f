import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { EXCHANGES, QUEUES, retryQueueName } from '@notes/contracts';
import { queueInfo, startFaultProxy, waitFor } from '@notes/contracts/testing';
import amqp from 'amqplib';
import { startTestApp, type TestApp } from './helpers.ts';
import { unsent, writeNotes } from './relay-fixtures.ts';

/**
 * The relay publishes every committed row whatever happens to its channel (docs/guarantees.md):
 * a channel the broker closes while the connection lives, a new channel whose topology
 * assertion fails, a connection that dies with publishes awaiting confirms and comes back on
 * another node. (A broker that blocks publishers is in e2e/test/fault/relay-blocked.test.ts; nodes killed
 * in a cluster in e2e/test/scale/rabbitmq-cluster.test.ts.)
 */
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('a channel the broker closes under a live connection is replaced, and a new channel whose topology fails is retried', async () => {
  const t = await startTestApp('relaychan', { OUTBOX_POLL_MS: '100' });
  cleanups.push(() => t.close());
  await writeNotes(t, 3);
  await waitFor('3 in notes.jobs', async () => (await queueInfo(t.ns.vhost, QUEUES.work)).messages === 3);
  const channels = t.deps.outbox.stats.channels;

  // Behind the relay's back: the exchange it publishes to is deleted, so its next publish makes
  // the broker close its channel (404) while the connection stays up; and a wait queue is
  // redeclared with other arguments, so the topology assertion on any new channel fails (406).
  const admin = await amqp.connect(t.ns.amqpUrl);
  cleanups.push(() => admin.close().catch(() => {}));
  const ch = await admin.createChannel();
  const waitQueue = retryQueueName(t.deps.config.retryDelaysMs[0]!);
  await ch.deleteExchange(EXCHANGES.work);
  await ch.deleteQueue(waitQueue);
  await ch.assertQueue(waitQueue, { durable: true, arguments: { 'x-message-ttl': 1 } });

  await writeNotes(t, 10);
  await waitFor('the relay to find its channel closed and fail to open another', async () => {
    return t.deps.outbox.stats.failed > 0 && t.deps.outbox.stats.openFailures >= 2;
  });
  assert.ok(t.deps.amqp.connected, 'the connection itself never dropped');
  assert.equal(await unsent(t), 10, 'nothing is marked sent while it cannot be published');

  // The operator removes the stray queue: the next attempt opens a channel, asserts the whole
  // topology again (the exchange and its bindings come back) and publishes everything.
  await ch.deleteQueue(waitQueue);
  await waitFor('all 13 in notes.jobs', async () => (await queueInfo(t.ns.vhost, QUEUES.work)).messages === 13, 30_000);
  assert.equal(await unsent(t), 0);
  assert.ok(t.deps.outbox.stats.channels > channels, 'a new channel was opened on the same connection');
});

test('a connection that dies with publishes awaiting confirms: the relay goes on through another node and publishes every row', async () => {
  const probe = await startTestApp('relayfail');
  cleanups.push(() => probe.close());
  await probe.deps.outbox.stop(); // only the relay behind the proxies publishes in this test
  // Two "nodes": two proxies to the broker, both in AMQP_URL. The one in use stops passing
  // bytes (confirms never come back) and is then cut.
  const first = await startFaultProxy(5672);
  const second = await startFaultProxy(5672);
  cleanups.push(
    () => first.close(),
    () => second.close(),
  );
  const url = (port: number) => probe.ns.amqpUrl.replace('127.0.0.1:5672', `127.0.0.1:${port}`);
  const { createDeps } = await import('../src/wiring.ts');
  const deps = await createDeps(
    probe.ns.config({ AMQP_URL: `${url(first.port)},${url(second.port)}`, OUTBOX_POLL_MS: '100' }),
  );
  cleanups.push(() => deps.close());
  await deps.amqp.waitConnected(5000);
  const t = { ...probe, deps } as TestApp;
  await writeNotes(t, 2);
  await waitFor('2 in notes.jobs', async () => (await queueInfo(probe.ns.vhost, QUEUES.work)).messages === 2);

  const inUse = deps.amqp.node?.endsWith(`:${first.port}`) ? first : second;
  inUse.pause();
  await writeNotes(t, 20);
  await waitFor('a batch waiting for confirms', async () => {
    const [rows] = await deps.database.pool.query(
      'SELECT COUNT(*) AS n FROM information_schema.innodb_trx WHERE trx_rows_locked > 0',
    );
    return Number((rows as { n: number }[])[0]?.n) > 0;
  });
  inUse.cut();
  await writeNotes(t, 10);
  await waitFor(
    'all 32 in notes.jobs',
    async () => (await queueInfo(probe.ns.vhost, QUEUES.work)).messages >= 32,
    30_000,
  );
  await waitFor('no unsent rows', async () => (await unsent(t)) === 0);
  assert.ok(deps.amqp.connected && !deps.amqp.node?.endsWith(`:${inUse.port}`), 'the relay is on the other node');
});
