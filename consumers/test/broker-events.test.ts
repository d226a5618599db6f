import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createNote, newUser, noteOf, type Pipeline, startPipeline, waitFor } from './helpers.ts';

let p: Pipeline;
before(async () => {
  p = await startPipeline('brokerev');
});
after(() => p?.close());

const MGMT = 'http://127.0.0.1:15672/api';
const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

test('the broker cancelling the consumer (queue deleted) → it re-asserts the topology and consumes again', async () => {
  const consumer = await p.startConsumer();
  await waitFor('consuming', () => consumer.consumer.consuming);
  const res = await fetch(`${MGMT}/queues/${encodeURIComponent(p.t.ns.vhost)}/notes.jobs`, {
    method: 'DELETE',
    headers: auth,
  });
  assert.ok(res.ok, `delete queue: ${res.status}`);
  // The consumer gets a null message (basic.cancel), waits a moment and consumes the new queue.
  await waitFor('queue back with a consumer', async () => {
    const q = await fetch(`${MGMT}/queues/${encodeURIComponent(p.t.ns.vhost)}/notes.jobs`, { headers: auth });
    return q.ok && ((await q.json()) as { consumers?: number }).consumers === 1;
  });
  const user = await newUser(p.t, 'cancel');
  const created = await createNote(p.t, user, { title: 'after cancel', body: 'still #works' });
  await waitFor('processed', async () => (await noteOf(p, user, created.id)).status === 'processed');
});
