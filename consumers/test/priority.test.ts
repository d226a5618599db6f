import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { QUEUES } from '@notes/contracts';
import { noteProcessHandler } from '../src/handlers/note-process.ts';
import type { JobHandler } from '../src/handlers/registry.ts';
import { createWebhookDeliverHandler } from '../src/handlers/webhook-deliver.ts';
import { createNote, depth, newUser, type Pipeline, startPipeline, waitFor } from './helpers.ts';

let p: Pipeline;
before(async () => {
  p = await startPipeline('priority');
});
after(() => p?.close());

test('with a backlog, max is consumed before low (prefetch 1)', async () => {
  const user = await newUser(p.t, 'prio');
  // The backlog builds while no consumer runs: 20 low first, then 3 max.
  const low = [];
  for (let i = 0; i < 20; i++) low.push((await createNote(p.t, user, { title: `low ${i}`, priority: 'low' })).id);
  const max = [];
  for (let i = 0; i < 3; i++) max.push((await createNote(p.t, user, { title: `max ${i}`, priority: 'max' })).id);
  await waitFor('all 23 published', async () => (await depth(p, QUEUES.work)) === 23);

  const order: string[] = [];
  const recording: JobHandler<'note.process'> = {
    kind: 'note.process',
    async handle(ctx) {
      order.push(ctx.note.id);
      return noteProcessHandler.handle(ctx);
    },
  };
  await p.startConsumer(
    { CONSUMER_PREFETCH: '1' },
    { handlers: [recording, createWebhookDeliverHandler(async () => ({ status: 200, durationMs: 0 }))] },
  );
  await waitFor('all consumed', () => order.length === 23);
  assert.deepEqual(new Set(order.slice(0, 3)), new Set(max), 'the three max notes come first');
  assert.deepEqual(new Set(order.slice(3)), new Set(low));
});
