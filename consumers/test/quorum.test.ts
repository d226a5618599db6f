import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  HEADERS,
  PRIORITIES,
  type Priority,
  QUEUES,
  quorumWorkQueue,
  topologyQueuesOf,
  workQueueNames,
} from '@notes/contracts';
import { noteProcessHandler } from '../src/handlers/note-process.ts';
import type { JobHandler } from '../src/handlers/registry.ts';
import {
  answeringWebhooks,
  createNote,
  depth,
  jobRows,
  newUser,
  type Pipeline,
  startPipeline,
  type TestUser,
  untilNote,
  waitFor,
} from './helpers.ts';

/**
 * QUEUE_TYPE=quorum on the shared RabbitMQ (a one-node cluster: the same queues and arguments as
 * on three nodes; e2e/test/scale/rabbitmq-cluster.test.ts loses nodes). One quorum queue per
 * priority, strict order across them under a backlog; retries through quorum wait queues come
 * back to their own priority; poison is counted by the broker and parked by the consumer.
 */
let p: Pipeline;
let user: TestUser;
const order: { id: string; title: string }[] = [];
let hangs = 0;

/** Records the order notes start in; "fail" always fails; "hang" holds until the consumer stops. */
const recording: JobHandler<'note.process'> = {
  kind: 'note.process',
  async handle(ctx) {
    order.push({ id: ctx.note.id, title: ctx.note.title });
    if (ctx.note.title === 'fail') throw new Error(`deliberate failure ${ctx.attempt}`);
    if (ctx.note.title === 'hang') {
      hangs++;
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      throw new DOMException('stopped', 'AbortError');
    }
    return noteProcessHandler.handle(ctx);
  },
};
const handlers = [recording, answeringWebhooks()];

before(async () => {
  p = await startPipeline('quorum', { QUEUE_TYPE: 'quorum', RETRY_DELAYS_MS: '200,400', MAX_DELIVERIES: '3' });
  user = await newUser(p.t, 'quorum');
});
after(() => p?.close());

const workDepth = async () => {
  let n = 0;
  for (const q of workQueueNames('quorum')) n += await depth(p, q);
  return n;
};

test('the topology is quorum queues, one per priority, with a delivery limit and at-least-once dead-lettering', async () => {
  await p.startConsumer({}, { handlers }).then((c) => c.stop());
  const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  type Listed = { name: string; type: string; arguments: Record<string, unknown> };
  // The management API lists new queues after a moment.
  const byName = await waitFor('the queues listed', async () => {
    const res = await fetch(`http://127.0.0.1:15672/api/queues/${encodeURIComponent(p.t.ns.vhost)}`, {
      headers: { authorization: auth },
    });
    const listed = new Map(((await res.json()) as Listed[]).map((q) => [q.name, q]));
    const want = topologyQueuesOf([200, 400], 'quorum').map((q) => q.name);
    return want.every((n) => listed.has(n)) && listed;
  });
  for (const name of [...workQueueNames('quorum', 'notes'), ...workQueueNames('quorum', 'webhooks')]) {
    const q = byName.get(name);
    assert.equal(q?.type, 'quorum', name);
    assert.equal(q?.arguments['x-dead-letter-strategy'], 'at-least-once');
    assert.equal(q?.arguments['x-overflow'], 'reject-publish');
    assert.ok(Number(q?.arguments['x-delivery-limit']) > 3);
  }
  assert.equal(byName.get(QUEUES.dead)?.type, 'quorum');
  assert.equal(byName.get('notes.retry.200ms')?.type, 'quorum');
  assert.equal(byName.get('notes.retry.200ms')?.arguments['x-dead-letter-strategy'], 'at-least-once');
  assert.equal(byName.get('notes.webhooks.deferred')?.type, 'quorum');
  assert.equal(byName.has(QUEUES.work), false, 'no classic work queue');
  assert.equal(byName.has(QUEUES.webhooks), false, 'no classic webhook queue');
});

for (const prefetch of [1, 3]) {
  test(`with a backlog in all five queues, every higher priority starts before any lower one (prefetch ${prefetch})`, async () => {
    order.length = 0;
    // Oldest first: low, then normal, ... so FIFO order would be the wrong one.
    const want = new Map<string, Priority>();
    for (const priority of PRIORITIES) {
      for (let i = 0; i < 4; i++) {
        const n = await createNote(p.t, user, { title: `${priority} ${i}`, priority });
        want.set(n.id, priority);
      }
    }
    await waitFor('all 20 published', async () => (await workDepth()) === 20 || String(await workDepth()));
    const consumer = await p.startConsumer({ CONSUMER_PREFETCH: String(prefetch) }, { handlers });
    await waitFor('all 20 started', () => order.length === 20 || `${order.length}: ${order.map((o) => o.title)}`);
    const levels = order.map((o) => PRIORITIES.indexOf(want.get(o.id) as Priority));
    for (let i = 1; i < levels.length; i++) {
      assert.ok(
        (levels[i] as number) <= (levels[i - 1] as number),
        `started in order ${order.map((o) => o.title).join(', ')}`,
      );
    }
    await waitFor('drained', async () => (await workDepth()) === 0);
    await consumer.stop();
  });
}

test('a failing job retries through the quorum wait queues at its own priority, then dead-letters with its attempt', async () => {
  order.length = 0;
  const consumer = await p.startConsumer({}, { handlers });
  const created = await createNote(p.t, user, { title: 'fail', body: 'never works', priority: 'high' });
  const note = await untilNote(p, user, created.id, 'dead');
  assert.equal(note.attempts, 3);
  assert.equal(order.filter((o) => o.id === created.id).length, 3, 'three attempts ran');
  const [job] = await jobRows(p, created.id);
  assert.equal(job?.status, 'dead');
  assert.match(job?.dead_reason ?? '', /max_attempts/);
  const ch = await p.channel();
  const msg = await waitFor('the DLQ copy', async () => ch.get(QUEUES.dead, { noAck: false }));
  assert.equal(msg.properties.messageId, job?.id);
  assert.equal(msg.properties.headers?.[HEADERS.attempt], 3, 'the attempt header survives the wait queues');
  assert.equal(msg.properties.headers?.[HEADERS.priority], 'high');
  ch.ack(msg);
  await ch.close();
  await consumer.stop();
});

test('a message that keeps losing its consumer is counted by the broker and parked after MAX_DELIVERIES', async () => {
  hangs = 0;
  const created = await createNote(p.t, user, { title: 'hang', body: 'never finishes', priority: 'critical' });
  for (let run = 1; run <= 3; run++) {
    const consumer = await p.startConsumer({}, { handlers });
    await waitFor(`delivery ${run} in the handler`, () => hangs >= run);
    await consumer.stop(); // aborts the handler; the message goes back and the broker counts it
  }
  const consumer = await p.startConsumer({}, { handlers });
  const job = await waitFor('job dead', async () => {
    const [j] = await jobRows(p, created.id);
    return j?.status === 'dead' && j;
  });
  assert.match(job.dead_reason ?? '', /^poison: delivered 3 times without an outcome$/);
  assert.equal(hangs, 3, 'never run a fourth time');
  await waitFor('the critical queue empty', async () => (await depth(p, quorumWorkQueue('critical'))) === 0);
  const fine = await createNote(p.t, user, { title: 'fine', body: 'ok', priority: 'low' });
  await untilNote(p, user, fine.id, 'processed');
  await consumer.stop();
});
