import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_BATCH } from '@notes/contracts/callbacks';
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

/** The batch routes: one request, one transaction, an answer per job as if each had come alone. */
let t: TestApp;
before(async () => {
  t = await startTestApp('intbatch');
  // The job relay deletes what it publishes; these tests read the outbox rows a callback wrote.
  await t.deps.outbox.stop();
});
after(() => t?.close());

const resultWith = (words: number) => ({ ...RESULT, word_count: words });

describe('who may call, and what', () => {
  test('service identity only; bodies validated strictly; a refused batch changes nothing', async () => {
    const userId = await createUser(t);
    const { jobId } = await createNote(t, userId);
    for (const op of ['start', 'complete', 'fail']) {
      const none = await t.app.inject({ method: 'POST', url: `/internal/jobs/${op}`, payload: { jobs: [] } });
      assert.equal(none.statusCode, 401, op);
      const token = t.app.signToken({ id: userId, role: 'user' });
      assert.equal((await callInternal(t, op, { jobs: [{ job_id: jobId }] }, token)).status, 403, op);
    }
    const tooMany = Array.from({ length: MAX_BATCH + 1 }, () => ({ job_id: jobId, attempt: 1 }));
    for (const [op, body] of [
      ['start', {}],
      ['start', { jobs: [] }],
      ['start', { jobs: tooMany }],
      ['start', { jobs: [{ job_id: jobId }] }],
      ['start', { jobs: [{ job_id: jobId, attempt: 1 }], extra: 1 }],
      ['start', { jobs: [{ job_id: jobId, attempt: 1, traceparent: 'not-a-traceparent' }] }],
      [
        'complete',
        {
          jobs: [
            { job_id: jobId, attempt: 1, result: RESULT },
            { job_id: jobId, attempt: 'x' },
          ],
        },
      ],
      ['fail', { jobs: [{ job_id: jobId, attempt: 1, error: 'x' }] }],
    ] as const) {
      const res = await callInternal(t, op, body);
      assert.equal(res.status, 400, `${op} ${JSON.stringify(body).slice(0, 200)}`);
    }
    assert.equal((await getJob(t, jobId))?.status, 'queued');
  });

  test('the batch routes are in the OpenAPI document beside the single ones', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    for (const op of ['start', 'complete', 'fail']) {
      const batch = doc.paths[`/internal/jobs/${op}`]?.post;
      assert.ok(batch, op);
      assert.ok(batch.requestBody.content['application/json'].schema.properties.jobs, op);
      assert.ok(doc.paths[`/internal/jobs/{jobId}/${op}`]?.post, op);
    }
  });
});

describe('start', () => {
  test('a mixed batch: each job gets its own answer, in request order', async () => {
    const userId = await createUser(t);
    const fresh = await createNote(t, userId, { priority: 'high' });
    const stale = await createNote(t, userId);
    await editNote(t, stale.noteId);
    const deleted = await createNote(t, userId);
    await t.deps.database.pool.query('DELETE FROM notes WHERE id = ?', [deleted.noteId]);
    const res = await callInternal(t, 'start', {
      jobs: [
        { job_id: stale.jobId, attempt: 1 },
        { job_id: 'no-such-job', attempt: 1 },
        { job_id: fresh.jobId, attempt: 2 },
        { job_id: deleted.jobId, attempt: 1 },
        { job_id: fresh.jobId, attempt: 2 },
      ],
    });
    assert.equal(res.status, 200);
    const [a, b, c, d, e] = res.body.results;
    assert.deepEqual(a, { job_id: stale.jobId, proceed: false, reason: 'stale' });
    assert.deepEqual(b, { job_id: 'no-such-job', proceed: false, reason: 'unknown' });
    assert.equal(c.job_id, fresh.jobId);
    assert.equal(c.proceed, true);
    assert.equal(c.job.status, 'processing');
    assert.equal(c.job.attempts, 2);
    assert.equal(c.note.id, fresh.noteId);
    assert.equal(c.note.status, 'processing');
    assert.equal(c.note.priority, 'high');
    assert.deepEqual(d, { job_id: deleted.jobId, proceed: false, reason: 'deleted' });
    // The same start again in the same batch: a repeat may run, and changes nothing.
    assert.equal(e.proceed, true);
    assert.deepEqual(e.note, c.note);
    assert.equal((await getJob(t, stale.jobId))?.status, 'skipped');
    assert.equal((await getJob(t, deleted.jobId))?.status, 'skipped');
    assert.equal((await getJob(t, fresh.jobId))?.status, 'processing');
    assert.equal((await getNote(t, fresh.noteId))?.status, 'processing');
    assert.equal((await getNote(t, stale.noteId))?.status, 'queued', 'the newer version is left alone');
  });

  test('a first copy of a running job is a duplicate and does not run; any other copy runs', async () => {
    const userId = await createUser(t);
    const { jobId } = await createNote(t, userId);
    const start = async (...items: Record<string, unknown>[]) =>
      (await callInternal(t, 'start', { jobs: items.map((i) => ({ job_id: jobId, attempt: 1, ...i })) })).body
        .results as { proceed: boolean; reason?: string }[];

    // Two first copies in one batch (the relay published the job twice): only the first runs.
    const [one, two] = await start({ first_copy: true }, { first_copy: true });
    assert.equal(one?.proceed, true);
    assert.deepEqual(two, { job_id: jobId, proceed: false, reason: 'running' });
    // The same later, in a batch of its own.
    assert.deepEqual(await start({ first_copy: true }), [{ job_id: jobId, proceed: false, reason: 'running' }]);
    // A copy that may be what a crash left (redelivered, requeued, or from a consumer that does not
    // say) runs again, as before.
    assert.equal((await start({ first_copy: false }))[0]?.proceed, true);
    assert.equal((await start({}))[0]?.proceed, true);
    // A new attempt is not a duplicate of the old one.
    assert.equal((await start({ attempt: 2, first_copy: true }))[0]?.proceed, true);
    assert.equal((await getJob(t, jobId))?.status, 'processing');
  });

  test('a webhook delivery gets its endpoint', async () => {
    const userId = await createUser(t);
    const hook = await createWebhook(t, userId, ['note.processed']);
    const a = await createNote(t, userId);
    const b = await createNote(t, userId);
    await callInternal(t, 'complete', {
      jobs: [
        { job_id: a.jobId, attempt: 1, result: RESULT },
        { job_id: b.jobId, attempt: 1, result: RESULT },
      ],
    });
    const deliveries = [
      ...(await jobsOf(t, a.noteId, 'webhook.deliver')),
      ...(await jobsOf(t, b.noteId, 'webhook.deliver')),
    ];
    assert.equal(deliveries.length, 2);
    const res = await callInternal(t, 'start', { jobs: deliveries.map((d) => ({ job_id: d.id, attempt: 1 })) });
    for (const r of res.body.results) {
      assert.equal(r.proceed, true);
      assert.equal(r.webhook.id, hook);
      assert.match(r.webhook.secret, /^whsec_/);
      assert.equal(r.note.status, 'processed');
    }
  });
});

describe('complete', () => {
  test('a mixed batch: fresh, stale, duplicate, unknown and refused each get their own outcome', async () => {
    const userId = await createUser(t);
    await createWebhook(t, userId, ['note.processed']);
    const fresh = await createNote(t, userId);
    const other = await createNote(t, userId);
    const stale = await createNote(t, userId);
    await editNote(t, stale.noteId);
    const done = await createNote(t, userId);
    await callInternal(t, `${done.jobId}/complete`, { attempt: 1, result: resultWith(7) });
    const doneBefore = await getNote(t, done.noteId);
    const staleBefore = await getNote(t, stale.noteId);

    const res = await callInternal(t, 'complete', {
      jobs: [
        { job_id: fresh.jobId, attempt: 1, result: resultWith(11) },
        { job_id: stale.jobId, attempt: 1, result: resultWith(12) },
        { job_id: done.jobId, attempt: 2, result: resultWith(13) },
        { job_id: 'no-such-job', attempt: 1, result: RESULT },
        { job_id: other.jobId, attempt: 1 },
        { job_id: other.jobId, attempt: 3, result: resultWith(14) },
        { job_id: fresh.jobId, attempt: 1, result: resultWith(15) },
      ],
    });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.results.map((r: { job_id: string; outcome: string; recorded: boolean }) => [
        r.job_id,
        r.outcome,
        r.recorded,
      ]),
      [
        [fresh.jobId, 'processed', true],
        [stale.jobId, 'stale', false],
        [done.jobId, 'duplicate', false],
        ['no-such-job', 'unknown', false],
        [other.jobId, 'rejected', false],
        [other.jobId, 'processed', true],
        [fresh.jobId, 'duplicate', false],
      ],
    );
    assert.match(res.body.results[4].error, /result is required/);

    // Each note got its own result (the batch's UPDATE carries a value per row).
    const freshNote = await getNote(t, fresh.noteId);
    assert.equal(freshNote?.status, 'processed');
    assert.deepEqual(freshNote?.result, resultWith(11));
    assert.equal(freshNote?.attempts, 1);
    const otherNote = await getNote(t, other.noteId);
    assert.deepEqual(otherNote?.result, resultWith(14));
    assert.equal(otherNote?.attempts, 3);
    assert.equal((await getJob(t, other.jobId))?.attempts, 3);
    assert.deepEqual(await getNote(t, done.noteId), doneBefore, 'a duplicate changes nothing');
    assert.deepEqual(await getNote(t, stale.noteId), staleBefore, 'a stale job never overwrites');
    assert.equal((await getJob(t, stale.jobId))?.status, 'skipped');

    // One delivery per processed note, one event per processed note, in request order.
    for (const n of [fresh, other, done]) assert.equal((await jobsOf(t, n.noteId, 'webhook.deliver')).length, 1);
    assert.equal((await jobsOf(t, stale.noteId, 'webhook.deliver')).length, 0);
    assert.deepEqual(
      (await liveEvents(t, userId)).map((e) => e.data.id),
      [done.noteId, fresh.noteId, other.noteId],
    );
  });

  test('a replayed batch is a no-op', async () => {
    const userId = await createUser(t);
    await createWebhook(t, userId, ['note.processed']);
    const notes = [await createNote(t, userId), await createNote(t, userId), await createNote(t, userId)];
    const body = { jobs: notes.map((n, i) => ({ job_id: n.jobId, attempt: 1, result: resultWith(i + 1) })) };
    const first = await callInternal(t, 'complete', body);
    assert.ok(first.body.results.every((r: { outcome: string }) => r.outcome === 'processed'));
    const rows = await Promise.all(notes.map((n) => getNote(t, n.noteId)));

    const again = await callInternal(t, 'complete', body);
    assert.ok(again.body.results.every((r: { outcome: string; recorded: boolean }) => r.outcome === 'duplicate'));
    assert.deepEqual(await Promise.all(notes.map((n) => getNote(t, n.noteId))), rows);
    for (const n of notes) assert.equal((await jobsOf(t, n.noteId, 'webhook.deliver')).length, 1);
    assert.equal((await liveEvents(t, userId)).length, 3);
  });

  test('two concurrent batches with overlapping jobs record each job exactly once', async () => {
    const userId = await createUser(t);
    await createWebhook(t, userId, ['note.processed']);
    const notes = [];
    for (let i = 0; i < 12; i++) notes.push(await createNote(t, userId));
    const item = (n: { jobId: string }) => ({ job_id: n.jobId, attempt: 1, result: RESULT });
    // Overlapping halves, in opposite orders: locks are taken in key order, so neither waits forever.
    const a = notes.slice(0, 8).map(item);
    const b = notes.slice(4).map(item).reverse();
    const [ra, rb, rc] = await Promise.all([
      callInternal(t, 'complete', { jobs: a }),
      callInternal(t, 'complete', { jobs: b }),
      callInternal(t, 'complete', { jobs: [...b].reverse() }),
    ]);
    for (const r of [ra, rb, rc]) assert.equal(r.status, 200);
    const all = [...ra.body.results, ...rb.body.results, ...rc.body.results] as { job_id: string; outcome: string }[];
    for (const n of notes) {
      const outcomes = all.filter((r) => r.job_id === n.jobId).map((r) => r.outcome);
      assert.equal(outcomes.filter((o) => o === 'processed').length, 1, `${n.jobId}: ${outcomes}`);
      assert.ok(outcomes.every((o) => o === 'processed' || o === 'duplicate'));
      assert.equal((await jobsOf(t, n.noteId, 'webhook.deliver')).length, 1);
    }
    assert.equal((await liveEvents(t, userId)).length, notes.length);
  });

  test('the deliveries a batch enqueues continue each job trace, not the batch request', async () => {
    const userId = await createUser(t);
    await createWebhook(t, userId, ['note.processed']);
    const a = await createNote(t, userId);
    const b = await createNote(t, userId);
    const traceparent = `00-${'a1'.repeat(16)}-${'b2'.repeat(8)}-01`;
    await callInternal(t, 'complete', {
      jobs: [
        { job_id: a.jobId, attempt: 1, result: RESULT, traceparent },
        { job_id: b.jobId, attempt: 1, result: RESULT },
      ],
    });
    const [delivery] = await jobsOf(t, a.noteId, 'webhook.deliver');
    assert.ok(delivery);
    const [row] = await outboxRowsFor(t, delivery.id);
    assert.equal(row?.traceparent, traceparent);
    assert.equal((await jobsOf(t, b.noteId, 'webhook.deliver')).length, 1);
  });
});

describe('fail', () => {
  test('a mixed batch of retries, final failures, late and repeated reports', async () => {
    const userId = await createUser(t);
    const retry = await createNote(t, userId);
    const final = await createNote(t, userId);
    const late = await createNote(t, userId);
    await callInternal(t, 'start', { jobs: [{ job_id: late.jobId, attempt: 2 }] });
    const res = await callInternal(t, 'fail', {
      jobs: [
        { job_id: retry.jobId, attempt: 1, error: 'boom', final: false },
        { job_id: final.jobId, attempt: 3, error: 'e3', final: true, reason: 'max_attempts: e3' },
        { job_id: late.jobId, attempt: 1, error: 'late', final: false },
        { job_id: retry.jobId, attempt: 1, error: 'again', final: false },
        { job_id: 'no-such-job', attempt: 1, error: 'x', final: true },
      ],
    });
    assert.deepEqual(
      res.body.results.map((r: { outcome: string }) => r.outcome),
      ['failed', 'dead', 'stale', 'duplicate', 'unknown'],
    );
    const retried = await getJob(t, retry.jobId);
    assert.equal(retried?.status, 'failed');
    assert.equal(retried?.lastError, 'boom');
    assert.equal((await getNote(t, retry.noteId))?.status, 'failed');
    const dead = await getJob(t, final.jobId);
    assert.equal(dead?.status, 'dead');
    assert.equal(dead?.deadReason, 'max_attempts: e3');
    assert.equal(dead?.attempts, 3);
    assert.equal((await getNote(t, final.noteId))?.status, 'dead');
    assert.equal((await getJob(t, late.jobId))?.status, 'processing');
    assert.deepEqual(
      (await liveEvents(t, userId)).map((e) => [e.type, e.data.id]),
      [['note.dead', final.noteId]],
    );
    // Replayed: nothing changes.
    const again = await callInternal(t, 'fail', {
      jobs: [{ job_id: final.jobId, attempt: 3, error: 'other', final: true }],
    });
    assert.equal(again.body.results[0].outcome, 'duplicate');
    assert.equal((await getJob(t, final.jobId))?.lastError, 'e3');
  });
});
