import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@notes/contracts';
import { waitFor } from '@notes/contracts/testing';
import { queueDepths } from '../../src/broker.ts';
import { registerUsers } from '../../src/http.ts';
import { checkPipeline } from '../../src/invariants.ts';
import { type Product, type ProductProcess, startProduct } from '../../src/product.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/webhook-receiver.ts';
import { acceptedMore, startWriteLoad } from '../../src/write-load.ts';

/**
 * Consumer processes failing under load while a slow webhook receiver keeps jobs in flight:
 * kill -9 mid-job, SIGSTOP past the AMQP heartbeat, and SIGTERM. Each ends with the invariants:
 * nothing lost, no result recorded twice, the receiver sees a webhook-id again only when the
 * process sending it was interrupted.
 */
let product: Product;
let receiver: WebhookReceiver;

before(async () => {
  receiver = await startWebhookReceiver();
  // Consumers log at info so a redelivery shows in their output ("redelivered; counting it …").
  product = await startProduct('e2econs', { env: { CONSUMER_PREFETCH: '8', LOG_LEVEL: 'info' } });
  await product.startApi({ LOG_LEVEL: 'warn' });
});

after(async () => {
  await product?.close();
  await receiver?.close();
});

const running = () => product.consumers.filter((c) => c.running);
const consumersOnQueue = async () => (await queueDepths(product.ns.amqpUrl, [QUEUES.work]))[QUEUES.work]?.consumers;
const redeliveries = (procs: readonly ProductProcess[]) =>
  procs.reduce((n, p) => n + (p.output().match(/redelivered; counting it/g)?.length ?? 0), 0);

test('kill -9 of consumers mid-job under load: every job completes, its effect applied once', async (t) => {
  const users = await registerUsers(product.apiUrl, 3, 'kill', receiver.url);
  // Three at once (starting a process is the slow part); two are killed, the third finishes.
  await Promise.all([product.startConsumer(), product.startConsumer(), product.startConsumer()]);
  receiver.delayMs = 400;
  // Below what the survivors with 400 ms webhooks get through (8 / 0.4 s each), so no backlog builds.
  const load = startWriteLoad({ apiUrl: product.apiUrl, users, label: 'ckill', concurrency: 6, ratePerSec: 15 });
  const kills: number[] = [];
  for (let i = 0; i < 2; i++) {
    await acceptedMore(load, 20);
    await waitFor('deliveries in flight', () => receiver.inFlight >= 4, 30_000, 10);
    const victims = running();
    const victim = victims[Math.floor(Math.random() * victims.length)]!;
    await victim.kill();
    kills.push(Date.now());
  }
  await acceptedMore(load, 25);
  const report = await load.stop();
  receiver.delayMs = 0;
  const summary = await checkPipeline({
    product,
    amqpUrl: product.ns.amqpUrl,
    userIds: users.map((u) => u.id),
    load: report,
    receiver,
    faultTimes: kills,
  });
  const cut = receiver.deliveries.filter((d) => d.status === -1).length;
  t.diagnostic(`${kills.length} kills, ${cut} webhook deliveries cut off mid-request; ${JSON.stringify(summary)}`);
  for (const c of running()) await c.terminate();
});

test('a consumer SIGSTOPped past the heartbeat: its messages go to another consumer; resumed, it applies nothing twice', async (t) => {
  const users = await registerUsers(product.apiUrl, 2, 'stop', receiver.url);
  // A 2 s heartbeat: the broker gives up on a silent connection after about two missed beats.
  const amqpUrl = `${product.ns.amqpUrl}?heartbeat=2`;
  const frozen = await product.startConsumer({ AMQP_URL: amqpUrl });
  const other = await product.startConsumer({ AMQP_URL: amqpUrl });
  receiver.delayMs = 300;
  // Slow enough for one consumer alone to keep up while the other is frozen.
  const load = startWriteLoad({ apiUrl: product.apiUrl, users, label: 'sigstop', concurrency: 4, ratePerSec: 10 });
  await acceptedMore(load, 20);
  await waitFor('deliveries in flight', () => receiver.inFlight >= 2, 30_000, 10);
  frozen.signal('SIGSTOP');
  const stoppedAt = Date.now();
  try {
    await waitFor('the broker to drop the frozen consumer', async () => (await consumersOnQueue()) === 1, 30_000, 250);
    // Everything accepted so far gets processed while the frozen one still holds its old deliveries.
    await acceptedMore(load, 10);
    const ids = [...load.report.accepted.values()].map((a) => a.noteId);
    await waitFor(
      'all accepted notes processed by the other consumer',
      async () =>
        (await product.count(
          `SELECT COUNT(*) FROM notes WHERE id IN (${ids.map(() => '?').join(',')}) AND status = 'processed'`,
          ids,
        )) === ids.length,
      60_000,
      250,
    );
  } catch (err) {
    const stuck = await product.query(
      `SELECT n.id, n.status, j.status AS job, j.attempts FROM notes n JOIN jobs j ON j.note_id = n.id
        WHERE n.user_id IN (?, ?) AND n.status <> 'processed'`,
      users.map((u) => u.id),
    );
    t.diagnostic(`stuck: ${JSON.stringify(stuck).slice(0, 3000)}`);
    t.diagnostic(`other: ${other.output().slice(-6000)}`);
    throw err;
  } finally {
    frozen.signal('SIGCONT');
  }
  receiver.delayMs = 0;
  await acceptedMore(load, 20);
  const report = await load.stop();
  await waitFor('the resumed consumer reconnected', async () => (await consumersOnQueue()) === 2, 30_000, 250);
  const summary = await checkPipeline({
    product,
    amqpUrl: product.ns.amqpUrl,
    userIds: users.map((u) => u.id),
    load: report,
    receiver,
    // Deliveries the frozen process had started may arrive again from the other one.
    faultTimes: [stoppedAt],
  });
  assert.ok(frozen.running && other.running, 'both consumers still up');
  t.diagnostic(`${JSON.stringify(summary)}; redeliveries counted by the other: ${redeliveries([other])}`);
  await frozen.terminate();
  await other.terminate();
});

test('SIGTERM under load: a consumer finishes what it holds, exits in time, and nothing is redelivered', async (t) => {
  const users = await registerUsers(product.apiUrl, 2, 'term', receiver.url);
  const first = await product.startConsumer();
  const second = await product.startConsumer();
  receiver.delayMs = 300;
  const load = startWriteLoad({ apiUrl: product.apiUrl, users, label: 'cterm', concurrency: 6, ratePerSec: 40 });
  await acceptedMore(load, 30);
  await waitFor('deliveries in flight', () => receiver.inFlight >= 3, 30_000, 10);
  const { code, ms } = await first.terminate();
  assert.equal(code, 0, first.output().slice(-2000));
  assert.ok(ms < Number(product.env.SHUTDOWN_TIMEOUT_MS) + 1000, `exited after ${Math.round(ms)} ms`);
  const third = await product.startConsumer();
  await acceptedMore(load, 30);
  const { code: code2 } = await second.terminate();
  assert.equal(code2, 0, second.output().slice(-2000));
  await sleep(200);
  await acceptedMore(load, 20);
  const report = await load.stop();
  receiver.delayMs = 0;
  // No fault times: every webhook-id must arrive exactly once.
  const summary = await checkPipeline({
    product,
    amqpUrl: product.ns.amqpUrl,
    userIds: users.map((u) => u.id),
    load: report,
    receiver,
  });
  assert.equal(redeliveries([first, second, third]), 0, 'a message came back after a graceful stop');
  const retried = await product.count(
    `SELECT COUNT(*) FROM jobs WHERE user_id IN (?, ?) AND attempts <> 1`,
    users.map((u) => u.id),
  );
  assert.equal(retried, 0, 'every job ran once');
  t.diagnostic(`first exit after ${Math.round(ms)} ms; ${JSON.stringify(summary)}`);
  await third.terminate();
});
