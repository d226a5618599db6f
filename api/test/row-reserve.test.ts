import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RESULT_RESERVE } from '../src/platform/db/schema.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { callInternal, jobsOf, RESULT } from './internal-fixtures.ts';
import { call, createNote, newUser, query } from './notes-fixtures.ts';

/**
 * Rows that keep their size (docs/data.md, "Write cost"): a note holds room for its result while
 * it waits for one, and the completion that writes the result empties it; an edit, which clears
 * the result, makes the room again. Jobs keep a NULL time's width (the REDUNDANT row format).
 */
let t: TestApp;
before(async () => {
  t = await startTestApp('reserve');
});
after(() => t?.close());

const reserveOf = async (id: string) =>
  (await query<{ n: number | null }>(t, 'SELECT LENGTH(reserve) AS n FROM notes WHERE id = ?', [id]))[0]?.n ?? null;

test('a note keeps room for its result until the result comes, and again after an edit', async () => {
  const user = await newUser(t, 'rs');
  const note = await createNote(t, user, { body: 'words' });
  assert.equal(await reserveOf(note.id), RESULT_RESERVE.length, 'a created note');
  const job = async () => (await jobsOf(t, note.id, 'note.process')).at(-1)!.id;
  const first = await job();
  await callInternal(t, 'start', { jobs: [{ job_id: first, attempt: 1 }] });
  assert.equal(await reserveOf(note.id), RESULT_RESERVE.length, 'a started note');
  await callInternal(t, 'complete', { jobs: [{ job_id: first, attempt: 1, result: RESULT }] });
  assert.equal(await reserveOf(note.id), null, 'the result took its place');

  const edited = await call(t, user, 'PATCH', `/api/notes/${note.id}`, { body: 'other words' });
  assert.equal(edited.statusCode, 200);
  assert.equal(edited.json().result, null);
  assert.equal('reserve' in edited.json(), false, 'never shown');
  assert.equal(await reserveOf(note.id), RESULT_RESERVE.length, 'an edit, which clears the result, makes room again');
});

test('jobs are stored in the REDUNDANT row format (a NULL time keeps its width)', async () => {
  const [row] = await query<{ f: string }>(
    t,
    "SELECT ROW_FORMAT AS f FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'jobs'",
  );
  assert.equal(row?.f, 'Redundant');
});
