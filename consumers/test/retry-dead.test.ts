import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HEADERS, QUEUES } from '@notes/contracts';
import { noteProcessHandler } from '../src/handlers/note-process.ts';
import type { JobHandler } from '../src/handlers/registry.ts';
import { createWebhookDeliverHandler } from '../src/handlers/webhook-deliver.ts';
import {
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

let p: Pipeline;
let user: TestUser;
/** When each attempt of each note ran, as the handler saw it. */
const seen = new Map<string, { attempt: number; at: number }[]>();

/** note.process that fails every attempt of notes titled "fail", and works otherwise. */
const flaky: JobHandler<'note.process'> = {
  kind: 'note.process',
  async handle(ctx) {
    const list = seen.get(ctx.note.id) ?? [];
    list.push({ attempt: ctx.attempt, at: performance.now() });
    seen.set(ctx.note.id, list);
    if (ctx.note.title === 'fail') throw new Error(`deliberate failure ${ctx.attempt}`);
    if (ctx.note.title === 'fail-once' && ctx.attempt === 1) throw new Error('first attempt fails');
    return noteProcessHandler.handle(ctx);
  },
};
const noWebhooks = createWebhookDeliverHandler(async () => {
  throw new Error('no webhooks in this test');
});

before(async () => {
  // Three attempts in all, with gaps that grow: 300 ms, then 900 ms.
  p = await startPipeline('retrydead', { RETRY_DELAYS_MS: '300,900' });
  user = await newUser(p.t, 'retry');
  await p.startConsumer({}, { handlers: [flaky, noWebhooks] });
});
after(() => p?.close());

test('a failing handler retries through the wait queues with growing gaps, then dead-letters', async () => {
  const created = await createNote(p.t, user, { title: 'fail', body: 'never works' });
  const note = await untilNote(p, user, created.id, 'dead');
  const runs = seen.get(created.id) ?? [];
  assert.deepEqual(
    runs.map((r) => r.attempt),
    [1, 2, 3],
  );
  const gap1 = (runs[1]?.at ?? 0) - (runs[0]?.at ?? 0);
  const gap2 = (runs[2]?.at ?? 0) - (runs[1]?.at ?? 0);
  assert.ok(gap1 >= 300, `first wait ${gap1} ms is at least RETRY_DELAYS_MS[0]`);
  assert.ok(gap2 >= 900, `second wait ${gap2} ms is at least RETRY_DELAYS_MS[1]`);
  assert.ok(gap2 > gap1, 'the gaps grow');

  assert.equal(note.attempts, 3);
  const [job] = await jobRows(p, created.id);
  assert.equal(job?.status, 'dead');
  assert.equal(job?.attempts, 3);
  assert.match(job?.dead_reason ?? '', /^max_attempts: Error: deliberate failure 3$/);

  // The message itself is in notes.dlq with the reason and the attempt count.
  await waitFor('in the DLQ', async () => (await depth(p, QUEUES.dead)) === 1);
  const ch = await p.channel();
  const msg = await ch.get(QUEUES.dead, { noAck: false });
  assert.ok(msg);
  const headers = msg.properties.headers ?? {};
  assert.equal(msg.properties.messageId, job?.id);
  assert.equal(headers[HEADERS.attempt], 3);
  assert.match(String(headers[HEADERS.deadReason]), /^max_attempts: /);
  assert.ok(!Number.isNaN(Date.parse(String(headers[HEADERS.deadAt]))));
  assert.equal(headers['x-death'], undefined, 'broker bookkeeping is stripped');
  ch.nack(msg, false, true);
  await ch.close();
  assert.equal(await depth(p, QUEUES.work), 0);
});

test('a failure followed by a success ends processed with two attempts', async () => {
  const created = await createNote(p.t, user, { title: 'fail-once', body: 'works #later' });
  const note = await untilNote(p, user, created.id, 'processed');
  assert.equal(note.attempts, 2);
  assert.equal((note as unknown as { last_error: string | null }).last_error, null);
  const [job] = await jobRows(p, created.id);
  assert.equal(job?.status, 'processed');
  assert.equal(job?.attempts, 2);
});
