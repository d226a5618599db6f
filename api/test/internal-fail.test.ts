import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listJobs } from '../src/modules/admin/admin-repository.ts';
import { jobs } from '../src/platform/db/schema.ts';
import { rowUpdate } from './db-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import {
  callInternal,
  createNote,
  createUser,
  createWebhook,
  editNote,
  getJob,
  getNote,
  jobsOf,
  liveEvents,
  RESULT,
} from './internal-fixtures.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp('intfail');
});
after(() => t?.close());

describe('fail', () => {
  test('a retryable failure marks job and note failed; a repeat changes nothing', async () => {
    const userId = await createUser(t);
    const { noteId, jobId } = await createNote(t, userId);
    await callInternal(t, `${jobId}/start`, { attempt: 1 });
    const res = await callInternal(t, `${jobId}/fail`, { attempt: 1, error: 'boom', final: false });
    assert.deepEqual(res.body, { recorded: true, outcome: 'failed' });
    const job = await getJob(t, jobId);
    assert.equal(job?.status, 'failed');
    assert.equal(job?.lastError, 'boom');
    assert.equal(job?.attempts, 1);
    const note = await getNote(t, noteId);
    assert.equal(note?.status, 'failed');
    assert.equal(note?.lastError, 'boom');

    const again = await callInternal(t, `${jobId}/fail`, { attempt: 1, error: 'other', final: false });
    assert.deepEqual(again.body, { recorded: false, outcome: 'duplicate' });
    assert.equal((await getJob(t, jobId))?.lastError, 'boom');
  });

  test('a late report from an older attempt does not turn the newer one back', async () => {
    const userId = await createUser(t);
    const { jobId } = await createNote(t, userId);
    await callInternal(t, `${jobId}/start`, { attempt: 2 });
    const res = await callInternal(t, `${jobId}/fail`, { attempt: 1, error: 'late', final: false });
    assert.deepEqual(res.body, { recorded: false, outcome: 'stale' });
    assert.equal((await getJob(t, jobId))?.status, 'processing');
  });

  test('the final failure makes job and note dead with the reason and publishes note.dead', async () => {
    const userId = await createUser(t);
    const { noteId, jobId } = await createNote(t, userId);
    await callInternal(t, `${jobId}/fail`, { attempt: 1, error: 'e1', final: false });
    await callInternal(t, `${jobId}/fail`, { attempt: 2, error: 'e2', final: false });
    const res = await callInternal(t, `${jobId}/fail`, {
      attempt: 3,
      error: 'e3',
      final: true,
      reason: 'max_attempts: e3',
    });
    assert.deepEqual(res.body, { recorded: true, outcome: 'dead' });
    const job = await getJob(t, jobId);
    assert.equal(job?.status, 'dead');
    assert.equal(job?.deadReason, 'max_attempts: e3');
    assert.equal(job?.lastError, 'e3');
    assert.equal(job?.attempts, 3);
    assert.ok(job?.finishedAt);
    const note = await getNote(t, noteId);
    assert.equal(note?.status, 'dead');
    assert.equal(note?.attempts, 3);
    assert.deepEqual(
      (await liveEvents(t, userId)).map((e) => e.type),
      ['note.dead'],
    );

    // Redelivered: nothing changes, no second event; a late complete cannot revive it.
    assert.equal(
      (await callInternal(t, `${jobId}/fail`, { attempt: 3, error: 'x', final: true })).body.outcome,
      'duplicate',
    );
    assert.equal((await callInternal(t, `${jobId}/complete`, { attempt: 3, result: RESULT })).body.outcome, 'finished');
    assert.equal((await getNote(t, noteId))?.status, 'dead');
    assert.equal((await liveEvents(t, userId)).length, 1);
  });

  test('a job promoted from the DLQ starts a new run whose callbacks are recorded again', async () => {
    const userId = await createUser(t);
    const { noteId, jobId } = await createNote(t, userId);
    await callInternal(t, `${jobId}/fail`, { attempt: 1, error: 'e', final: true });
    assert.equal((await getJob(t, jobId))?.status, 'dead');
    // What promote-dlq does to the row; the message carries x-notes-promoted-at (the run).
    await t.deps.database.writer.transaction((tx) =>
      tx.moveStatus(
        'jobs',
        'dead',
        'queued',
        rowUpdate(jobs, { status: 'queued', attempts: 0 }, { id: jobId, status: 'dead' }),
      ),
    );
    const run = '1767225600000';
    assert.equal((await callInternal(t, `${jobId}/start`, { attempt: 1, run })).body.proceed, true);
    const res = await callInternal(t, `${jobId}/fail`, { attempt: 1, run, error: 'again', final: true });
    assert.equal(res.body.outcome, 'dead');
    assert.equal((await getJob(t, jobId))?.lastError, 'again');
    assert.equal((await getNote(t, noteId))?.status, 'dead');
  });

  test('a final failure of a stale job leaves the newer note alone', async () => {
    const userId = await createUser(t);
    const { noteId, jobId } = await createNote(t, userId);
    await editNote(t, noteId);
    const res = await callInternal(t, `${jobId}/fail`, { attempt: 3, error: 'e', final: true });
    assert.equal(res.body.outcome, 'dead');
    const note = await getNote(t, noteId);
    assert.equal(note?.status, 'queued');
    assert.equal(note?.lastError, null);
  });
});

describe('webhook.deliver', () => {
  async function processedNoteWithDelivery() {
    const userId = await createUser(t);
    const webhookId = await createWebhook(t, userId, ['note.processed']);
    const { noteId, jobId } = await createNote(t, userId);
    await callInternal(t, `${jobId}/complete`, { attempt: 1, result: RESULT });
    const [delivery] = await jobsOf(t, noteId, 'webhook.deliver');
    assert.ok(delivery);
    return { userId, webhookId, noteId, deliveryId: delivery.id };
  }

  test('start hands over the endpoint with its secret and the processed note', async () => {
    const { webhookId, noteId, deliveryId } = await processedNoteWithDelivery();
    const res = await callInternal(t, `${deliveryId}/start`, { attempt: 1 });
    assert.equal(res.body.proceed, true);
    assert.equal(res.body.job.kind, 'webhook.deliver');
    assert.equal(res.body.webhook.id, webhookId);
    assert.equal(res.body.webhook.url, 'https://hooks.example.test/in');
    assert.match(res.body.webhook.secret, /^whsec_/);
    assert.deepEqual(res.body.webhook.events, ['note.processed']);
    assert.equal(res.body.note.id, noteId);
    assert.equal(res.body.note.status, 'processed', 'a delivery does not touch the note');
    assert.deepEqual(res.body.note.result, RESULT);
  });

  test('a deleted endpoint skips the delivery', async () => {
    const { webhookId, deliveryId } = await processedNoteWithDelivery();
    await t.deps.database.pool.query('DELETE FROM webhooks WHERE id = ?', [webhookId]);
    assert.deepEqual((await callInternal(t, `${deliveryId}/start`, { attempt: 1 })).body, {
      proceed: false,
      reason: 'deleted',
    });
    assert.equal((await getJob(t, deliveryId))?.status, 'skipped');
  });

  test('a delivered webhook completes the job only; a dead one leaves the note processed', async () => {
    const a = await processedNoteWithDelivery();
    assert.equal((await callInternal(t, `${a.deliveryId}/complete`, { attempt: 1 })).body.outcome, 'processed');
    assert.equal((await getJob(t, a.deliveryId))?.status, 'processed');

    const b = await processedNoteWithDelivery();
    const res = await callInternal(t, `${b.deliveryId}/fail`, {
      attempt: 3,
      error: 'HTTP 500',
      final: true,
      reason: 'max_attempts: HTTP 500',
    });
    assert.equal(res.body.outcome, 'dead');
    assert.equal((await getJob(t, b.deliveryId))?.status, 'dead');
    const note = await getNote(t, b.noteId);
    assert.equal(note?.status, 'processed');
    assert.equal(note?.lastError, null);
    assert.deepEqual(
      (await liveEvents(t, b.userId)).map((e) => e.type),
      ['note.processed'],
    );
  });
});

test('the console finds a job by its error while it has one (job_errors follows the callbacks)', async () => {
  const userId = await createUser(t);
  const { jobId } = await createNote(t, userId);
  const word = `kaboom${jobId.slice(-8)}`;
  const found = async () =>
    (await listJobs(t.deps.database.db, { q: word, sort: '-created_at', limit: 25, offset: 0 })).data.map((j) => [
      j.id,
      j.status,
    ]);
  assert.deepEqual(await found(), []);
  await callInternal(t, `${jobId}/start`, { attempt: 1 });
  await callInternal(t, `${jobId}/fail`, { attempt: 1, error: `${word} once`, final: false });
  assert.deepEqual(await found(), [[jobId, 'failed']]);
  await callInternal(t, `${jobId}/start`, { attempt: 2 });
  assert.deepEqual(await found(), [[jobId, 'processing']], 'a status change of a job with an error follows');
  await callInternal(t, `${jobId}/complete`, { attempt: 2, result: RESULT });
  assert.deepEqual(await found(), [], 'the error was cleared: the job leaves the search');
});
