import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MAX_BATCH } from '@notes/contracts/callbacks';
import { startTestApp, type TestApp } from './helpers.ts';
import {
  callInternal,
  createNote,
  createUser,
  createWebhook,
  getJob,
  getNote,
  jobsOf,
  liveEvents,
  RESULT,
} from './internal-fixtures.ts';

/**
 * The mixed batch route (`POST /internal/jobs/callbacks`): starts, completions and failures in
 * one request and one transaction, each list answered as its own batch route would answer it.
 */
let t: TestApp;
before(async () => {
  t = await startTestApp('intmixed');
});
after(() => t?.close());

test('service identity only; bodies validated strictly; a refused request changes nothing', async () => {
  const userId = await createUser(t);
  const { jobId } = await createNote(t, userId);
  const none = await t.app.inject({ method: 'POST', url: '/internal/jobs/callbacks', payload: { start: [] } });
  assert.equal(none.statusCode, 401);
  const token = t.app.signToken({ id: userId, role: 'user' });
  assert.equal((await callInternal(t, 'callbacks', { start: [{ job_id: jobId, attempt: 1 }] }, token)).status, 403);
  const tooMany = Array.from({ length: MAX_BATCH + 1 }, () => ({ job_id: jobId, attempt: 1 }));
  for (const body of [
    {},
    { jobs: [{ job_id: jobId, attempt: 1 }] },
    { start: tooMany },
    { start: [{ job_id: jobId }] },
    { start: [{ job_id: jobId, attempt: 1 }], extra: 1 },
    { start: [{ job_id: jobId, attempt: 1 }], complete: [{ job_id: jobId, attempt: 'x' }] },
    { start: [{ job_id: jobId, attempt: 1 }], fail: [{ job_id: jobId, attempt: 1 }] },
  ]) {
    const res = await callInternal(t, 'callbacks', body);
    assert.equal(res.status, 400, JSON.stringify(body).slice(0, 200));
    assert.equal(res.body.status, 400);
  }
  assert.equal((await getJob(t, jobId))?.status, 'queued');
  assert.equal(
    (await callInternal(t, 'callbacks', { start: [], complete: [], fail: [] })).body.start.length,
    0,
    'empty lists: nothing to do',
  );
});

test('starts, completions and failures of several jobs in one request: each answered in its own list', async () => {
  const userId = await createUser(t);
  const hook = await createWebhook(t, userId, ['note.processed']);
  const done = await createNote(t, userId);
  const failing = await createNote(t, userId);
  const starting = await createNote(t, userId);
  // An earlier note's delivery job, for a start that needs its endpoint.
  const earlier = await createNote(t, userId);
  await callInternal(t, `${earlier.jobId}/complete`, { attempt: 1, result: RESULT });
  const [delivery] = await jobsOf(t, earlier.noteId, 'webhook.deliver');
  assert.ok(delivery);

  const res = await callInternal(t, 'callbacks', {
    start: [
      { job_id: starting.jobId, attempt: 1, first_copy: true },
      { job_id: delivery.id, attempt: 1 },
      { job_id: 'no-such-job', attempt: 1 },
    ],
    complete: [{ job_id: done.jobId, attempt: 1, result: { ...RESULT, word_count: 9 } }],
    fail: [{ job_id: failing.jobId, attempt: 1, error: 'boom', final: false }],
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const [started, deliveryStart, unknown] = res.body.start;
  assert.equal(started.job_id, starting.jobId);
  assert.equal(started.proceed, true);
  assert.equal(started.note.status, 'processing');
  assert.equal(deliveryStart.proceed, true);
  assert.equal(deliveryStart.webhook.id, hook);
  assert.deepEqual(unknown, { job_id: 'no-such-job', proceed: false, reason: 'unknown' });
  assert.deepEqual(res.body.complete, [{ job_id: done.jobId, recorded: true, outcome: 'processed' }]);
  assert.deepEqual(res.body.fail, [{ job_id: failing.jobId, recorded: true, outcome: 'failed' }]);

  const note = await getNote(t, done.noteId);
  assert.equal(note?.status, 'processed');
  assert.equal((note?.result as { word_count: number } | undefined)?.word_count, 9);
  assert.equal((await getNote(t, failing.noteId))?.status, 'failed');
  assert.equal((await getJob(t, starting.jobId))?.status, 'processing');
  assert.equal((await getJob(t, delivery.id))?.status, 'processing');
  // The completion enqueued its delivery and its live event, as it does alone.
  assert.equal((await jobsOf(t, done.noteId, 'webhook.deliver')).length, 1);
  const events = await liveEvents(t, userId);
  assert.ok(events.some((e) => e.type === 'note.processed' && e.data.id === done.noteId));

  // Each callback again: every one a repeat, nothing changes.
  const again = await callInternal(t, 'callbacks', {
    complete: [{ job_id: done.jobId, attempt: 1, result: RESULT }],
    fail: [{ job_id: failing.jobId, attempt: 1, error: 'boom', final: false }],
  });
  assert.deepEqual(again.body.complete, [{ job_id: done.jobId, recorded: false, outcome: 'duplicate' }]);
  assert.deepEqual(again.body.fail, [{ job_id: failing.jobId, recorded: false, outcome: 'duplicate' }]);
  assert.equal((await jobsOf(t, done.noteId, 'webhook.deliver')).length, 1, 'no second delivery');
});

test('a job both completed and started in one request: the completion applies first', async () => {
  const userId = await createUser(t);
  const { jobId, noteId } = await createNote(t, userId);
  await callInternal(t, `${jobId}/start`, { attempt: 1 });
  const res = await callInternal(t, 'callbacks', {
    start: [{ job_id: jobId, attempt: 1, first_copy: true }],
    complete: [{ job_id: jobId, attempt: 1, result: RESULT }],
  });
  assert.deepEqual(res.body.complete, [{ job_id: jobId, recorded: true, outcome: 'processed' }]);
  assert.deepEqual(res.body.start, [{ job_id: jobId, proceed: false, reason: 'finished' }]);
  assert.equal((await getNote(t, noteId))?.status, 'processed');
});
