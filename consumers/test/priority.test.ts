import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PRIORITIES, type Priority, QUEUES } from '@notes/contracts';
import { noteProcessHandler } from '../src/handlers/note-process.ts';
import type { JobHandler } from '../src/handlers/registry.ts';
import { createWebhookDeliverHandler } from '../src/handlers/webhook-deliver.ts';
import { call, createNote, depth, newUser, type Pipeline, startPipeline, waitFor } from './helpers.ts';

/**
 * Priority under a real backlog, for both lanes (docs/isolation.md): jobs of all five priorities
 * wait in RabbitMQ while nothing consumes them, then one consumer starts, and the order in which
 * handlers start must never run a job while a higher-priority one is still waiting.
 */
let p: Pipeline;
before(async () => {
  p = await startPipeline('priority', { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
});
after(() => p?.close());

const rank = (priority: Priority) => PRIORITIES.indexOf(priority);
/** 25 priorities, interleaved so that arrival order is far from priority order. */
const MIXED: Priority[] = Array.from({ length: 25 }, (_, i) => PRIORITIES[(i * 3) % 5] as Priority);

function assertNoInversion(started: Priority[], what: string) {
  for (let i = 1; i < started.length; i++) {
    assert.ok(
      rank(started[i] as Priority) <= rank(started[i - 1] as Priority),
      `${what}: a ${started[i]} job started after a ${started[i - 1]} one, so it ran while a higher one waited: ${started.join(', ')}`,
    );
  }
}

const okDeliver = createWebhookDeliverHandler(async () => ({ status: 200, durationMs: 0 }));

test('note.process: with a mixed backlog, no job starts while a higher-priority one waits', async () => {
  const user = await newUser(p.t, 'prio');
  const before = await depth(p, QUEUES.work);
  for (const [i, priority] of MIXED.entries()) await createNote(p.t, user, { title: `n${i}`, priority });
  await waitFor('the backlog in RabbitMQ', async () => (await depth(p, QUEUES.work)) === before + MIXED.length);

  const started: Priority[] = [];
  const recording: JobHandler<'note.process'> = {
    kind: 'note.process',
    async handle(ctx) {
      started.push(ctx.job.priority);
      return noteProcessHandler.handle(ctx);
    },
  };
  const consumer = await p.startConsumer({ CONSUMER_PREFETCH: '1' }, { handlers: [recording, okDeliver] });
  await waitFor('all started', () => started.length === MIXED.length);
  assertNoInversion(started, 'note.process');
  assert.deepEqual([...started].sort(), [...MIXED].sort());
  await consumer.stop();
});

test('webhook.deliver: with a mixed backlog, no delivery starts while a higher-priority one waits', async () => {
  const user = await newUser(p.t, 'prio-hook');
  // The receiver is never called: deliveries go through the test's own handlers.
  const res = await call(p.t, user, 'POST', '/api/webhooks', { url: 'http://127.0.0.1:9/hook' });
  assert.equal(res.statusCode, 201, res.body);

  // A first consumer processes the notes (so their deliveries are enqueued) while its webhook
  // lane, one slot wide, is held by a delivery that does not return: the rest pile up in RabbitMQ.
  let unblock: () => void = () => {};
  const blocked = new Promise<void>((r) => {
    unblock = r;
  });
  const holding = createWebhookDeliverHandler(async () => {
    await blocked;
    return { status: 200, durationMs: 0 };
  });
  const first = await p.startConsumer({ WEBHOOK_CONCURRENCY: '1' }, { handlers: [noteProcessHandler, holding] });
  try {
    for (const [i, priority] of MIXED.entries()) await createNote(p.t, user, { title: `w${i}`, priority });
    await waitFor(
      'the delivery backlog in RabbitMQ',
      // `depth` counts the held delivery too (ready + unacked).
      async () => (await depth(p, QUEUES.webhooks)) === MIXED.length,
      60_000,
    );

    const started: Priority[] = [];
    const recording = createWebhookDeliverHandler(async () => ({ status: 200, durationMs: 0 }));
    const recordingFirst: JobHandler<'webhook.deliver'> = {
      kind: 'webhook.deliver',
      async handle(ctx) {
        started.push(ctx.job.priority);
        return recording.handle(ctx);
      },
    };
    const second = await p.startConsumer(
      { WEBHOOK_CONCURRENCY: '1' },
      { handlers: [noteProcessHandler, recordingFirst] },
    );
    await waitFor('the backlog started', () => started.length === MIXED.length - 1, 60_000);
    assertNoInversion(started, 'webhook.deliver');
    await second.stop();
  } finally {
    unblock();
    await first.stop();
  }
});
