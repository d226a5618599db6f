import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateServiceKeyPair, signServiceToken } from '@notes/contracts';
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
  outboxRowsFor,
  RESULT,
} from './internal-fixtures.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp('internal');
  // The job relay deletes what it publishes; these tests read the outbox rows a callback wrote.
  await t.deps.outbox.stop();
});
after(() => t?.close());

describe('who may call', () => {
  test('no token is 401; a user or an admin is 403; the service identity passes', async () => {
    const userId = await createUser(t);
    const adminId = await createUser(t, 'admin');
    const { jobId } = await createNote(t, userId);
    for (const op of ['start', 'complete', 'fail']) {
      const none = await t.app.inject({ method: 'POST', url: `/internal/jobs/${jobId}/${op}`, payload: {} });
      assert.equal(none.statusCode, 401, op);
      for (const id of [userId, adminId]) {
        const token = t.app.signToken({ id, role: id === adminId ? 'admin' : 'user' });
        // Even an invalid body answers 403: the role check runs before validation.
        const res = await callInternal(t, `${jobId}/${op}`, { nonsense: true }, token);
        assert.equal(res.status, 403, op);
        assert.equal(res.body.status, 403);
      }
    }
    const wrongSecret = signServiceToken(generateServiceKeyPair().privateKey);
    assert.equal((await callInternal(t, `${jobId}/start`, { attempt: 1 }, wrongSecret)).status, 401);
    assert.equal((await callInternal(t, `${jobId}/start`, { attempt: 1 })).status, 200);
  });

  test('bodies are validated strictly', async () => {
    const userId = await createUser(t);
    const { jobId } = await createNote(t, userId);
    for (const [op, body] of [
      ['start', {}],
      ['start', { attempt: 0 }],
      ['start', { attempt: '1' }],
      ['complete', { attempt: 1, result: { ...RESULT, extra: 1 } }],
      ['fail', { attempt: 1, error: 'x' }],
      ['fail', { attempt: 1, error: 'x', final: false, other: 1 }],
    ] as const) {
      const res = await callInternal(t, `${jobId}/${op}`, body);
      assert.equal(res.status, 400, `${op} ${JSON.stringify(body)}`);
    }
    assert.equal((await getJob(t, jobId))?.status, 'queued', 'a rejected request changes nothing');
  });
});

describe('start', () => {
  test('marks the job and its note processing and hands over the note', async () => {
    const userId = await createUser(t);
    const { noteId, jobId } = await createNote(t, userId, { priority: 'high' });
    const res = await callInternal(t, `${jobId}/start`, { attempt: 2 });
    assert.equal(res.status, 200);
    assert.equal(res.body.proceed, true);
    assert.equal(res.body.job.id, jobId);
    assert.equal(res.body.job.status, 'processing');
    assert.equal(res.body.job.attempts, 2);
    assert.equal(res.body.note.id, noteId);
    assert.equal(res.body.note.user_id, userId);
    assert.equal(res.body.note.version, 1);
    assert.equal(res.body.note.priority, 'high');
    assert.equal(res.body.note.body, 'Hello #world see https://example.com/x.');
    assert.equal(res.body.webhook, undefined);
    const job = await getJob(t, jobId);
    assert.equal(job?.status, 'processing');
    assert.ok(job?.startedAt);
    assert.equal((await getNote(t, noteId))?.status, 'processing');
    // A repeat (a redelivery after a crash) may run it again.
    const again = await callInternal(t, `${jobId}/start`, { attempt: 2 });
    assert.equal(again.body.proceed, true);
  });

  test('a job for an older version is skipped and the note left alone', async () => {
    const userId = await createUser(t);
    const { noteId, jobId } = await createNote(t, userId);
    await editNote(t, noteId);
    const res = await callInternal(t, `${jobId}/start`, { attempt: 1 });
    assert.deepEqual(res.body, { proceed: false, reason: 'stale' });
    assert.equal((await getJob(t, jobId))?.status, 'skipped');
    assert.equal((await getNote(t, noteId))?.status, 'queued');
    // Settled: a later delivery is told it is finished.
    assert.deepEqual((await callInternal(t, `${jobId}/start`, { attempt: 1 })).body, {
      proceed: false,
      reason: 'finished',
    });
  });

  test('a job for a deleted note is skipped; an unknown job is reported as such', async () => {
    const userId = await createUser(t);
    const { noteId, jobId } = await createNote(t, userId);
    await t.deps.database.pool.query('DELETE FROM notes WHERE id = ?', [noteId]);
    assert.deepEqual((await callInternal(t, `${jobId}/start`, { attempt: 1 })).body, {
      proceed: false,
      reason: 'deleted',
    });
    assert.equal((await getJob(t, jobId))?.status, 'skipped');
    assert.deepEqual((await callInternal(t, 'no-such-job/start', { attempt: 1 })).body, {
      proceed: false,
      reason: 'unknown',
    });
  });
});

describe('complete', () => {
  test('records the result, enqueues one delivery per subscribed endpoint, publishes the event', async () => {
    const userId = await createUser(t);
    const hookA = await createWebhook(t, userId, ['note.processed']);
    const hookB = await createWebhook(t, userId, ['note.processed', 'note.dead']);
    await createWebhook(t, userId, ['note.dead']);
    const { noteId, jobId } = await createNote(t, userId, { priority: 'critical' });
    await callInternal(t, `${jobId}/start`, { attempt: 1 });

    const res = await callInternal(t, `${jobId}/complete`, { attempt: 1, result: RESULT });
    assert.deepEqual(res.body, { recorded: true, outcome: 'processed' });
    const note = await getNote(t, noteId);
    assert.equal(note?.status, 'processed');
    assert.deepEqual(note?.result, RESULT);
    assert.equal(note?.version, 1, 'recording a result leaves the version alone');
    assert.equal(note?.attempts, 1);
    assert.ok(note?.processedAt);
    const job = await getJob(t, jobId);
    assert.equal(job?.status, 'processed');
    assert.ok(job?.finishedAt);

    const deliveries = await jobsOf(t, noteId, 'webhook.deliver');
    assert.deepEqual(deliveries.map((d) => d.webhookId).sort(), [hookA, hookB].sort());
    for (const d of deliveries) {
      assert.equal(d.priority, 'critical');
      assert.equal(d.noteVersion, 1);
      assert.equal((await outboxRowsFor(t, d.id)).length, 1, 'each delivery has its outbox row');
    }
    const events = await liveEvents(t, userId);
    assert.deepEqual(
      events.map((e) => [e.type, e.data.id]),
      [['note.processed', noteId]],
    );
  });

  test('a redelivered complete is a no-op', async () => {
    const userId = await createUser(t);
    await createWebhook(t, userId, ['note.processed']);
    const { noteId, jobId } = await createNote(t, userId);
    await callInternal(t, `${jobId}/complete`, { attempt: 1, result: RESULT });
    const first = await getNote(t, noteId);
    const other = { ...RESULT, word_count: 99 };
    for (const attempt of [1, 2]) {
      const res = await callInternal(t, `${jobId}/complete`, { attempt, result: other });
      assert.deepEqual(res.body, { recorded: false, outcome: 'duplicate' });
    }
    assert.deepEqual(await getNote(t, noteId), first);
    assert.equal((await jobsOf(t, noteId, 'webhook.deliver')).length, 1);
    assert.equal((await liveEvents(t, userId)).length, 1);
  });

  test('concurrent completes of one job record it exactly once', async () => {
    const userId = await createUser(t);
    await createWebhook(t, userId, ['note.processed']);
    const { noteId, jobId } = await createNote(t, userId);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => callInternal(t, `${jobId}/complete`, { attempt: 1, result: RESULT })),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), Array(8).fill(200));
    assert.equal(answers.filter((a) => a.body.recorded).length, 1);
    assert.equal((await jobsOf(t, noteId, 'webhook.deliver')).length, 1);
  });

  test('a stale complete never overwrites the newer state', async () => {
    const userId = await createUser(t);
    const { noteId, jobId: oldJob } = await createNote(t, userId);
    await callInternal(t, `${oldJob}/start`, { attempt: 1 });
    const { jobId: newJob } = await editNote(t, noteId);
    await callInternal(t, `${newJob}/complete`, { attempt: 1, result: RESULT });
    const fresh = await getNote(t, noteId);

    const res = await callInternal(t, `${oldJob}/complete`, { attempt: 1, result: { ...RESULT, word_count: 1 } });
    assert.deepEqual(res.body, { recorded: false, outcome: 'stale' });
    assert.equal((await getJob(t, oldJob))?.status, 'skipped');
    assert.deepEqual(await getNote(t, noteId), fresh);
    assert.equal(fresh?.version, 2);
    assert.equal(fresh?.status, 'processed');
  });

  test('a complete for a deleted note skips the job', async () => {
    const userId = await createUser(t);
    const { noteId, jobId } = await createNote(t, userId);
    await t.deps.database.pool.query('DELETE FROM notes WHERE id = ?', [noteId]);
    const res = await callInternal(t, `${jobId}/complete`, { attempt: 1, result: RESULT });
    assert.deepEqual(res.body, { recorded: false, outcome: 'deleted' });
    assert.equal((await getJob(t, jobId))?.status, 'skipped');
  });

  test('note.process needs a result; the refusal records nothing', async () => {
    const userId = await createUser(t);
    const { noteId, jobId } = await createNote(t, userId);
    const res = await callInternal(t, `${jobId}/complete`, { attempt: 1 });
    assert.equal(res.status, 400);
    const ok = await callInternal(t, `${jobId}/complete`, { attempt: 1, result: RESULT });
    assert.equal(ok.body.outcome, 'processed');
    assert.equal((await getNote(t, noteId))?.status, 'processed');
  });
});
