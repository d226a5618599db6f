import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AmqpConnection, amqpUrls, connectFirst } from '../src/amqp-connection.ts';
import { loadConfig } from '../src/config.ts';
import {
  createTestNamespace,
  type FaultProxy,
  freePort,
  startFaultProxy,
  type TestNamespace,
  waitFor,
} from '../src/testing.ts';

/**
 * AMQP_URL naming several nodes: the connection fails over to whichever answers. The "nodes" are
 * two TCP proxies in front of the shared broker, each of which can be cut like a node that died
 * (the real three-node cluster is e2e/test/scale/rabbitmq-cluster.test.ts).
 */
let ns: TestNamespace;
let a: FaultProxy;
let b: FaultProxy;
const silent = { info() {}, warn() {} };

before(async () => {
  ns = await createTestNamespace('failover');
  a = await startFaultProxy(5672);
  b = await startFaultProxy(5672);
});

after(async () => {
  await a?.close();
  await b?.close();
  await ns?.cleanup();
});

const via = (port: number) => ns.amqpUrl.replace(':5672/', `:${port}/`);

test('AMQP_URL takes a comma-separated list of nodes', () => {
  const c = loadConfig({
    AMQP_URL: 'amqp://u:p@rabbit-1:5672/v, amqp://u:p@rabbit-2:5672/v,amqp://u:p@rabbit-3:5672/v',
  });
  assert.deepEqual(c.amqp.urls, [
    'amqp://u:p@rabbit-1:5672/v',
    'amqp://u:p@rabbit-2:5672/v',
    'amqp://u:p@rabbit-3:5672/v',
  ]);
  assert.equal(c.amqp.url, 'amqp://u:p@rabbit-1:5672/v');
  assert.equal(c.amqp.queueType, 'classic');
  assert.equal(loadConfig({ QUEUE_TYPE: 'quorum' }).amqp.queueType, 'quorum');
  assert.throws(() => loadConfig({ AMQP_URL: 'amqp://a:5672,,amqp://b:5672' }), /AMQP_URL/);
  assert.throws(() => loadConfig({ AMQP_URL: 'amqp://a:5672,http://b' }), /AMQP_URL/);
  assert.throws(() => loadConfig({ QUEUE_TYPE: 'stream' }), /QUEUE_TYPE/);
  assert.deepEqual(amqpUrls(' amqp://x , amqp://y ,'), ['amqp://x', 'amqp://y']);
});

test('a one-off connection takes the first node that answers', async () => {
  const dead = await freePort();
  const conn = await connectFirst([via(dead), via(b.port)]);
  try {
    const ch = await conn.createChannel();
    await ch.checkExchange('amq.direct');
  } finally {
    await conn.close();
  }
  await assert.rejects(connectFirst([via(dead)]), /ECONNREFUSED/);
});

test('the connection moves to a surviving node when its node dies, and back when that one dies', async () => {
  const dead = await freePort();
  const amqp = new AmqpConnection([via(dead), via(a.port), via(b.port)], { name: 'failover-test', logger: silent });
  const connects: string[] = [];
  amqp.on('connected', () => connects.push(amqp.node ?? '?'));
  amqp.start();
  try {
    await amqp.waitConnected(10_000);
    const first = amqp.node;
    assert.ok(first === `127.0.0.1:${a.port}` || first === `127.0.0.1:${b.port}`, `connected to ${first}`);
    const [gone, other] = first === `127.0.0.1:${a.port}` ? [a, b] : [b, a];
    gone.cut();
    await waitFor('a connection to the surviving node', () => amqp.node === `127.0.0.1:${other.port}`, 15_000, 20);
    gone.restore();
    other.cut();
    await waitFor('a connection back on the first node', () => amqp.node === first, 15_000, 20);
    other.restore();
    // The channel works on the node it failed over to.
    const ch = await amqp.connection!.createChannel();
    await ch.checkExchange('amq.direct');
    await ch.close();
    assert.ok(connects.length >= 3, `connections: ${connects.join(', ')}`);
  } finally {
    await amqp.stop();
  }
});
