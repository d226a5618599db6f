import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { QUEUES } from '@notes/contracts';
import { noteProcessHandler } from '../src/handlers/note-process.ts';
import {
  answeringWebhooks,
  call,
  createNote,
  depth,
  jobRows,
  newUser,
  noteOf,
  type Pipeline,
  startPipeline,
  type TestUser,
  untilNote,
  waitFor,
} from './helpers.ts';
import { startHoldingProxy } from './holding-proxy.ts';

let p: Pipeline;
let user: TestUser;
before(async () => {
  p = await startPipeline('crash', { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
  user = await newUser(p.t, 'crash');
  // Applied once is visible as exactly one webhook.deliver job per processed note.
  const res = await call(p.t, user, 'POST', '/api/webhooks', { url: 'http://127.0.0.1:9/never-called' });
  assert.equal(res.statusCode, 201, res.body);
});
after(() => p?.close());

const quietWebhooks = answeringWebhooks(204);

/** Runs a consumer child through a proxy that holds its /complete call, and kills it -9 there. */
async function killMidJob(title: string) {
  const proxy = await startHoldingProxy(p.apiUrl, (_, ops) => ops.has('complete'));
  const child = p.spawnConsumer({ API_URL: proxy.url });
  const created = await createNote(p.t, user, { title, body: `body of ${title} #${title}` });
  await waitFor('the child is mid-job', () => proxy.heldJobs().length === 1, 30_000);
  const [job] = await jobRows(p, created.id);
  assert.equal(job?.status, 'processing', 'started, not yet recorded');
  child.kill('SIGKILL');
  await once(child, 'exit');
  return { proxy, created };
}

async function assertAppliedOnce(noteId: string, tag: string) {
  const note = await untilNote(p, user, noteId, 'processed');
  assert.deepEqual((note.result as { tags: string[] }).tags, [tag]);
  const jobs = await waitFor('all jobs settled', async () => {
    const rows = await jobRows(p, noteId);
    return rows.length === 2 && rows.every((j) => j.status === 'processed') && rows;
  });
  assert.equal(jobs.filter((j) => j.kind === 'note.process').length, 1);
  assert.equal(jobs.filter((j) => j.kind === 'webhook.deliver').length, 1, 'the result was recorded once');
  await waitFor('queues drained', async () => (await depth(p, QUEUES.work)) === 0);
  assert.equal(await depth(p, QUEUES.dead), 0);
}

test('kill -9 before the outcome reached the API: another consumer completes the job', async () => {
  const { proxy, created } = await killMidJob('before');
  await proxy.close(); // the held /complete is lost with the process
  const consumer = await p.startConsumer({}, { handlers: [noteProcessHandler, quietWebhooks] });
  await assertAppliedOnce(created.id, 'before');
  await consumer.stop();
});

test('kill -9 after the API recorded the outcome, before the ack: the redelivery is a no-op', async () => {
  const { proxy, created } = await killMidJob('after');
  await proxy.release(); // the API records the outcome the dead process reported
  await proxy.close();
  assert.equal((await noteOf(p, user, created.id)).status, 'processed');
  // The unacked message comes back to a new consumer, which must not apply it again.
  const consumer = await p.startConsumer({}, { handlers: [noteProcessHandler, quietWebhooks] });
  await assertAppliedOnce(created.id, 'after');
  await consumer.stop();
});
