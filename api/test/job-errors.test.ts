import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { uuidv7 } from 'uuidv7';
import { rebuildJobErrors } from '../src/modules/admin/status-counts-repository.ts';
import { discardJob } from '../src/modules/dlq/dlq-repository.ts';
import {
  type DeadLetterRow,
  discardLetters,
  fileLetters,
  finishPromotion,
} from '../src/modules/dlq/failure-inbox-repository.ts';
import { markRetried } from '../src/modules/jobs/operations-repository.ts';
import { pruneJobs } from '../src/workers/maintenance.ts';
import { seedJob } from './admin-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { callInternal, jobsOf, RESULT } from './internal-fixtures.ts';
import { call, createNote, newUser, query } from './notes-fixtures.ts';

/**
 * `job_errors`, the jobs that carry error text (docs/data.md, "Search"), kept by the one writer
 * with no trigger behind it (migration 0011): after every path that sets, changes or clears a
 * job's error text, or moves a job that carries one, or deletes jobs, the table holds exactly
 * the jobs with error text, each with the columns the job lists filter and sort on as `jobs` has
 * them.
 */
let t: TestApp;
before(async () => {
  t = await startTestApp('joberrors');
});
after(() => t?.close());

const COLUMNS = 'note_id, kind, priority, status, last_error, dead_reason, created_at, updated_at, finished_at';
const mirrored = () => query(t, `SELECT job_id, ${COLUMNS} FROM job_errors ORDER BY job_id`);
const withText = () =>
  query(
    t,
    `SELECT id AS job_id, ${COLUMNS} FROM jobs WHERE last_error IS NOT NULL OR dead_reason IS NOT NULL ORDER BY id`,
  );

async function assertMirrored(label: string, expected?: Record<string, string>): Promise<void> {
  const rows = await mirrored();
  assert.deepEqual(rows, await withText(), label);
  if (expected) {
    const statuses = Object.fromEntries(
      rows.filter((r) => (r.job_id as string) in expected).map((r) => [r.job_id as string, r.status as string]),
    );
    assert.deepEqual(statuses, expected, `${label}: the jobs with error text`);
  }
}

test('no trigger keeps job_errors: the writer does (migration 0011)', async () => {
  const triggers = await query(
    t,
    "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'jobs'",
  );
  assert.deepEqual(triggers, []);
});

test('the callbacks: a failure, a start and a success after it, a death, a skipped job', async () => {
  const user = await newUser(t, 'je');
  const notes = await Promise.all(Array.from({ length: 4 }, () => createNote(t, user, { body: 'words' })));
  const ids = await Promise.all(notes.map(async (n) => (await jobsOf(t, n.id, 'note.process'))[0]!.id));
  const [retried, dead, fine, skipped] = ids as [string, string, string, string];
  await callInternal(t, 'start', { jobs: [retried, dead, fine].map((job_id) => ({ job_id, attempt: 1 })) });
  await callInternal(t, 'complete', { jobs: [{ job_id: fine, attempt: 1, result: RESULT }] });
  await assertMirrored('jobs without error text have no row', {});

  await callInternal(t, 'fail', {
    jobs: [
      { job_id: retried, attempt: 1, error: 'boom once', final: false },
      { job_id: dead, attempt: 1, error: 'e1', final: true, reason: 'max_attempts: e1' },
    ],
  });
  await assertMirrored('a retryable failure and a death', { [retried]: 'failed', [dead]: 'dead' });

  await callInternal(t, 'start', { jobs: [{ job_id: retried, attempt: 2 }] });
  await assertMirrored('a start of a job with an error moves its row', { [retried]: 'processing', [dead]: 'dead' });
  await callInternal(t, 'fail', { jobs: [{ job_id: retried, attempt: 2, error: 'boom twice', final: false }] });
  await assertMirrored('a changed error', { [retried]: 'failed', [dead]: 'dead' });
  await callInternal(t, 'start', { jobs: [{ job_id: retried, attempt: 3 }] });
  await callInternal(t, 'complete', { jobs: [{ job_id: retried, attempt: 3, result: RESULT }] });
  await assertMirrored('a success clears the error: the row leaves', { [dead]: 'dead' });

  assert.equal((await call(t, user, 'DELETE', `/api/notes/${notes[3]!.id}`)).statusCode, 204);
  const start = await callInternal(t, 'start', { jobs: [{ job_id: skipped, attempt: 1 }] });
  assert.equal(start.body.results[0].proceed, false);
  await assertMirrored('a skipped job carries why', { [dead]: 'dead', [skipped]: 'skipped' });
});

test("an operator's retry, the failure inbox's promote (by the promoter or by the copy's start) and discard, the DLQ's discard, retention", async () => {
  const { writer } = t.deps.database;
  const user = await newUser(t, 'je2');
  const notes = await Promise.all(Array.from({ length: 6 }, () => createNote(t, user, { body: 'words' })));
  const ids = await Promise.all(notes.map(async (n) => (await jobsOf(t, n.id, 'note.process'))[0]!.id));
  const [retried, promoted, takenOver, inboxDiscarded, dlqDiscarded, kept] = ids as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  await callInternal(t, 'start', { jobs: ids.map((job_id) => ({ job_id, attempt: 1 })) });
  await callInternal(t, 'fail', {
    jobs: [
      { job_id: retried, attempt: 1, error: 'boom', final: false },
      ...[promoted, takenOver, inboxDiscarded, dlqDiscarded, kept].map((job_id) => ({
        job_id,
        attempt: 1,
        error: 'e1',
        final: true,
        reason: 'max_attempts: e1',
      })),
    ],
  });
  await assertMirrored('after the callbacks');

  await markRetried(writer, retried, new Date());
  await assertMirrored('a retry-now: its row follows the job to queued', { [retried]: 'queued' });

  const run = 'run-je';
  const [promotedLetter, discardedLetter] = await fileLetters(writer, [
    { ...letter(promoted, user.id), promoteRun: run },
    letter(inboxDiscarded, user.id),
    { ...letter(takenOver, user.id), promoteRun: 'run-je-2' },
  ]);
  assert.equal(await finishPromotion(writer, [promotedLetter!], run, new Date()), 1);
  await assertMirrored('a promote clears the dead reason; the last error stays', { [promoted]: 'queued' });
  const start = await callInternal(t, 'start', { jobs: [{ job_id: takenOver, attempt: 1, run: 'run-je-2' }] });
  assert.equal(start.body.results[0].proceed, true);
  await assertMirrored("a promote taken over by the copy's start", { [takenOver]: 'processing' });

  assert.equal(await discardLetters(writer, [discardedLetter!], 'not needed', new Date()), 1);
  assert.equal(await discardJob(writer, dlqDiscarded, 'by an operator', new Date()), true);
  await assertMirrored('two discards', { [inboxDiscarded]: 'discarded', [dlqDiscarded]: 'discarded', [kept]: 'dead' });

  // Retention deletes finished jobs (a cutoff in the future makes these old enough).
  const conn = await t.deps.database.pool.getConnection();
  try {
    const deleted = await pruneJobs(conn, writer, ['discarded', 'dead'], new Date(Date.now() + 3_600_000));
    assert.ok(deleted >= 3, `retention deleted ${deleted}`);
  } finally {
    conn.release();
  }
  await assertMirrored('retention: deleted jobs leave', {});
});

test('a job inserted with error text has its row; a rebuild sets the table after SQL run by hand', async () => {
  const user = await newUser(t, 'je3');
  const note = await createNote(t, user, { body: 'words' });
  const seeded = await seedJob(t.deps.database, { id: note.id, userId: user.id }, { status: 'dead', deadReason: 'x' });
  await assertMirrored('an insert', { [seeded]: 'dead' });

  await query(t, "UPDATE jobs SET last_error = 'by hand' WHERE id = ?", [(await jobsOf(t, note.id))[0]!.id]);
  await query(t, 'DELETE FROM jobs WHERE id = ?', [seeded]);
  assert.notDeepEqual(await mirrored(), await withText(), 'SQL run by hand is not mirrored');
  await rebuildJobErrors(t.deps.database.writer);
  await assertMirrored('after a rebuild');
});

function letter(jobId: string, userId: string): DeadLetterRow {
  return {
    id: uuidv7(),
    jobId,
    kind: 'note.process',
    priority: 'normal',
    userId,
    groupId: 'g-je',
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
