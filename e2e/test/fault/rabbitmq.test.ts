import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@notes/contracts/testing';
import { registerUsers, request } from '../../src/http.ts';
import { checkPipeline } from '../../src/invariants.ts';
import { type Product, startProduct } from '../../src/product.ts';
import { type RabbitNode, startRabbitNode } from '../../src/rabbit-node.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/webhook-receiver.ts';
import { acceptedMore, startWriteLoad } from '../../src/write-load.ts';

/**
 * Broker faults on a RabbitMQ node of this file's own: stopped and started under write load,
 * crashed (kill -9) and stopped gracefully while consumers hold unacked messages. The API keeps
 * accepting, the outbox holds the backlog, consumers reconnect, and the guarantee holds.
 */
let rabbit: RabbitNode;
let product: Product;
let receiver: WebhookReceiver;

before(async () => {
  rabbit = await startRabbitNode('rmq');
  receiver = await startWebhookReceiver();
  product = await startProduct('e2ermq', { amqpUrl: rabbit.url, env: { CONSUMER_PREFETCH: '8' } });
  await product.startApi();
  await product.startConsumer();
  await product.startConsumer();
});

after(async () => {
  await product?.close();
  await receiver?.close();
  await rabbit?.close();
});

const readiness = async () => {
  const res = await request(product.apiUrl, 'GET', '/health/ready');
  return { status: res.status, body: res.json as { status: string; checks: { rabbitmq: { status: string } } } };
};

test('RabbitMQ stopped under write load, consumers holding unacked messages: every write is a 201, all processed once after the restart', async (t) => {
  const users = await registerUsers(product.apiUrl, 3, 'down', receiver.url);
  // Slow webhook answers keep deliveries (and their unacked messages) in the consumers' hands.
  receiver.delayMs = 300;
  const load = startWriteLoad({ apiUrl: product.apiUrl, users, label: 'down', concurrency: 6, ratePerSec: 25 });
  await acceptedMore(load, 40);
  await waitFor('webhook deliveries in flight', () => receiver.inFlight >= 2, 30_000, 20);
  await rabbit.stop();
  const stoppedAt = Date.now();
  await waitFor(
    'the API to see the broker gone',
    async () => (await readiness()).body.checks.rabbitmq.status === 'down',
  );
  const ready = await readiness();
  assert.equal(ready.status, 200, 'a broker outage degrades, it does not make the API unready');
  assert.equal(ready.body.status, 'degraded');

  await acceptedMore(load, 60);
  const backlog = await product.count('SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL');
  assert.ok(backlog > 0, 'writes accepted during the outage wait in the outbox');
  const acceptedWhileDown = [...load.report.accepted.values()].filter((a) => a.at > stoppedAt).length;

  await rabbit.start();
  receiver.delayMs = 0;
  await acceptedMore(load, 40);
  const report = await load.stop();
  assert.deepEqual(Object.keys(report.statuses), ['201'], `every answer a 201: ${JSON.stringify(report.statuses)}`);
  await waitFor(
    'both consumers consuming again',
    async () => (await rabbit.depths(['notes.jobs']))['notes.jobs']?.consumers === 2,
  );
  const summary = await checkPipeline({
    product,
    amqpUrl: rabbit.url,
    userIds: users.map((u) => u.id),
    load: report,
    receiver,
  });
  t.diagnostic(
    `accepted ${report.accepted.size} (${acceptedWhileDown} while down, outbox backlog ${backlog}); ` +
      `${JSON.stringify(summary)}; slowest 201 ${report.maxMs['201']} ms`,
  );
});

test('RabbitMQ killed -9 under write load while consumers hold unacked messages: they reconnect, nothing is lost or applied twice', async (t) => {
  const users = await registerUsers(product.apiUrl, 3, 'crash', receiver.url);
  receiver.delayMs = 300;
  const load = startWriteLoad({ apiUrl: product.apiUrl, users, label: 'crash', concurrency: 6, ratePerSec: 25 });
  await acceptedMore(load, 40);
  await waitFor('webhook deliveries in flight', () => receiver.inFlight >= 2, 30_000, 20);
  await rabbit.crash();
  await sleep(1000);
  await rabbit.start();
  receiver.delayMs = 0;
  await acceptedMore(load, 40);
  const report = await load.stop();
  assert.deepEqual(Object.keys(report.statuses), ['201'], JSON.stringify(report.statuses));
  await waitFor(
    'both consumers consuming again',
    async () => (await rabbit.depths(['notes.jobs']))['notes.jobs']?.consumers === 2,
  );
  // A crash may forget acks that were not yet on disk: those messages come back and must be no-ops.
  const summary = await checkPipeline({
    product,
    amqpUrl: rabbit.url,
    userIds: users.map((u) => u.id),
    load: report,
    receiver,
  });
  t.diagnostic(JSON.stringify(summary));
});
