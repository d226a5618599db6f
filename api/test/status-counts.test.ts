import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { countsByStatus } from '../src/modules/admin/status-counts-repository.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { callInternal, jobsOf, RESULT } from './internal-fixtures.ts';
import { call, createNote, newUser, query } from './notes-fixtures.ts';

/**
 * The status counters (docs/data.md, "Stats") through the write path, which counts its own
 * changes in one statement per transaction while the triggers skip its sessions: every status a
 * create, an edit, a delete and the callbacks move a row through is counted exactly once.
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

test('a write outside the write path is still counted by the triggers', async () => {
  const user = await newUser(t, 'counts2');
  const note = await createNote(t, user);
  await t.deps.database.pool.query(`UPDATE notes SET status = 'dead' WHERE id = ?`, [note.id]);
  await t.deps.database.pool.query(`UPDATE jobs SET status = 'discarded' WHERE note_id = ?`, [note.id]);
  await assertCountersMatchRows('after writes on the read pool');
  await t.deps.database.pool.query('DELETE FROM jobs WHERE note_id = ?', [note.id]);
  await assertCountersMatchRows('after a delete on the read pool');
});
