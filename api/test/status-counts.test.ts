import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { uuidv7 } from 'uuidv7';
import { countsByStatus } from '../src/modules/admin/status-counts-repository.ts';
import { discardJob } from '../src/modules/dlq/dlq-repository.ts';
import {
  type DeadLetterRow,
  discardLetters,
  fileLetters,
  finishPromotion,
} from '../src/modules/dlq/failure-inbox-repository.ts';
import { markRetried } from '../src/modules/jobs/operations-repository.ts';
import { pruneJobs } from '../src/workers/maintenance.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { callInternal, jobsOf, RESULT } from './internal-fixtures.ts';
import { call, createNote, newUser, query } from './notes-fixtures.ts';

/**
 * The status counters (docs/data.md, "Stats") kept by the one writer, which counts each
 * transaction's changes in one statement, with no trigger behind it: every status a create, an
 * edit, a delete, the callbacks, an operator's action, the failure inbox and retention move a row
 * through is counted exactly once.
 */
let t: TestApp;
before(async () => {
  t = await startTestApp('counts');
});
after(() => t?.close());

async function assertCountersMatchRows(label: string): Promise<void> {
  for (const table of ['notes', 'jobs'] as const) {
    const rows = await query<{ status: string; n: number }>(
      t,
      `SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status`,
    );
    const counted = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    const kept = Object.fromEntries(
      Object.entries(await countsByStatus(t.deps.database.db, table)).filter(([, n]) => n !== 0),
    );
    assert.deepEqual(kept, counted, `${label}: ${table}`);
  }
}

test('creates, edits, deletes and callbacks are each counted once', async () => {
  const user = await newUser(t, 'counts');
  // Concurrent creates share group-commit transactions.
  const notes = await Promise.all(Array.from({ length: 8 }, () => createNote(t, user, { body: 'words' })));
  await assertCountersMatchRows('after creates');

  const [edited, deleted, started, done, failed, dead] = notes as [
    (typeof notes)[0],
    (typeof notes)[0],
    (typeof notes)[0],
    (typeof notes)[0],
    (typeof notes)[0],
    (typeof notes)[0],
  ];
  const job = async (noteId: string) => (await jobsOf(t, noteId, 'note.process'))[0]!.id;
  const ids = {
    started: await job(started.id),
    done: await job(done.id),
    failed: await job(failed.id),
    dead: await job(dead.id),
  };
  const start = await callInternal(t, 'start', {
    jobs: [ids.started, ids.done, ids.failed, ids.dead].map((job_id) => ({ job_id, attempt: 1 })),
  });
  assert.equal(start.status, 200);
  await assertCountersMatchRows('after a start batch');

  const complete = await callInternal(t, 'complete', { jobs: [{ job_id: ids.done, attempt: 1, result: RESULT }] });
  assert.equal(complete.body.results[0].outcome, 'processed');
  const fail = await callInternal(t, 'fail', {
    jobs: [
      { job_id: ids.failed, attempt: 1, error: 'boom', final: false },
      { job_id: ids.dead, attempt: 1, error: 'e1', final: true, reason: 'max_attempts: e1' },
    ],
  });
  assert.deepEqual(
    fail.body.results.map((r: { outcome: string }) => r.outcome),
    ['failed', 'dead'],
  );
  await assertCountersMatchRows('after complete and fail batches');

  // An edit puts a processed note back to queued with a new job; a delete removes its row.
  assert.equal((await call(t, user, 'PATCH', `/api/notes/${done.id}`, { body: 'again' })).statusCode, 200);
  assert.equal((await call(t, user, 'PATCH', `/api/notes/${edited.id}`, { priority: 'high' })).statusCode, 200);
  assert.equal((await call(t, user, 'DELETE', `/api/notes/${deleted.id}`)).statusCode, 204);
  assert.equal((await call(t, user, 'DELETE', `/api/notes/${failed.id}`)).statusCode, 204);
  await assertCountersMatchRows('after edits and deletes');

  // The stale job of the edited note is skipped by its start; the note itself is untouched.
  const stale = await callInternal(t, 'start', { jobs: [{ job_id: await job(edited.id), attempt: 1 }] });
  assert.equal(stale.body.results[0].proceed, false);
  await assertCountersMatchRows('after a skipped job');
});

test('operator actions, the failure inbox and retention keep the counters exact, with no trigger', async () => {
  const triggers = await query(
    t,
    "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND ACTION_STATEMENT LIKE '%status_counts%'",
  );
  assert.deepEqual(triggers, [], 'the writer is the only count (migration 0008)');
  const { writer } = t.deps.database;
  const user = await newUser(t, 'counts2');
  const notes = await Promise.all(Array.from({ length: 5 }, () => createNote(t, user, { body: 'words' })));
  const ids = await Promise.all(notes.map(async (n) => (await jobsOf(t, n.id, 'note.process'))[0]!.id));
  const [retried, promoted, inboxDiscarded, dlqDiscarded, pruned] = ids as [string, string, string, string, string];
  await callInternal(t, 'start', { jobs: ids.map((job_id) => ({ job_id, attempt: 1 })) });
  await callInternal(t, 'fail', {
    jobs: [
      { job_id: retried, attempt: 1, error: 'boom', final: false },
      ...[promoted, inboxDiscarded, dlqDiscarded].map((job_id) => ({
        job_id,
        attempt: 1,
        error: 'e1',
        final: true,
        reason: 'max_attempts: e1',
      })),
    ],
  });
  await callInternal(t, 'complete', { jobs: [{ job_id: pruned, attempt: 1, result: RESULT }] });
  await assertCountersMatchRows('after the callbacks');

  // An operator's retry-now: failed back to queued.
  await markRetried(writer, retried, new Date());
  // The failure inbox: one letter promoted (its job and note back to queued), one discarded.
  const run = 'run-counts';
  const [promotedLetter, discardedLetter] = await fileLetters(writer, [
    { ...letter(promoted, user.id), promoteRun: run },
    letter(inboxDiscarded, user.id),
  ]);
  assert.equal(await finishPromotion(writer, [promotedLetter!], run, new Date()), 1);
  assert.equal(await discardLetters(writer, [discardedLetter!], 'counted', new Date()), 1);
  // The DLQ's discard of a job with no letter.
  assert.equal(await discardJob(writer, dlqDiscarded, 'counted', new Date()), true);
  await assertCountersMatchRows('after a retry, a promote and two discards');
  assert.deepEqual(
    (await query<{ id: string; status: string }>(t, 'SELECT id, status FROM jobs WHERE id IN (?) ORDER BY id', [ids]))
      .map((r) => [r.id, r.status])
      .sort(),
    [
      [retried, 'queued'],
      [promoted, 'queued'],
      [inboxDiscarded, 'discarded'],
      [dlqDiscarded, 'discarded'],
      [pruned, 'processed'],
    ].sort(),
  );

  // Retention deletes finished jobs (a cutoff in the future makes these old enough).
  const conn = await t.deps.database.pool.getConnection();
  try {
    const deleted = await pruneJobs(conn, writer, ['processed', 'discarded'], new Date(Date.now() + 3_600_000));
    assert.ok(deleted >= 3, `retention deleted ${deleted}`);
  } finally {
    conn.release();
  }
  await assertCountersMatchRows('after retention');
});

function letter(jobId: string, userId: string): DeadLetterRow {
  return {
    id: uuidv7(),
    jobId,
    kind: 'note.process',
    priority: 'normal',
    userId,
    groupId: 'g-counts',
    errorClass: 'Error',
    message: 'e1',
    reason: 'max_attempts: e1',
    malformed: false,
    attempt: 1,
    body: '',
    headers: {},
    deadAt: new Date(),
    promoteRun: null,
  };
}
