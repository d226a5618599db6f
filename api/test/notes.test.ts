import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, count, createNote, isProblem, newUser, query, type TestUser, tableCounts } from './notes-fixtures.ts';

/** Notes CRUD, ETag/If-Match, ownership and job history (docs/api.md) on the real services. */

let t: TestApp;
let alice: TestUser;
let bob: TestUser;

before(async () => {
  t = await startTestApp('notes');
  await t.deps.outbox.stop(); // the job relay deletes what it publishes; these tests read the outbox rows
  [alice, bob] = await Promise.all([newUser(t, 'alice'), newUser(t, 'bob')]);
});
after(() => t?.close());

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function jobsOf(noteId: string) {
  return query<{ id: string; kind: string; note_version: number; priority: string; status: string }>(
    t,
    'SELECT id, kind, note_version, priority, status FROM jobs WHERE note_id = ? ORDER BY note_version',
    [noteId],
  );
}

/** Every job has exactly one outbox row, whose payload is the job's message. */
async function assertOneOutboxRowPerJob(noteId: string) {
  const rows = await query<{ job_id: string; n: number; payload: string }>(
    t,
    `SELECT j.id AS job_id, COUNT(o.id) AS n, MAX(o.payload) AS payload
       FROM jobs j LEFT JOIN outbox o ON o.job_id = j.id WHERE j.note_id = ? GROUP BY j.id`,
    [noteId],
  );
  for (const row of rows) {
    assert.equal(Number(row.n), 1, `job ${row.job_id} has ${row.n} outbox rows`);
    const message = JSON.parse(row.payload);
    assert.equal(message.job_id, row.job_id);
    assert.equal(message.note_id, noteId);
    assert.equal(message.kind, 'note.process');
  }
}

describe('create and read', () => {
  test('POST answers 201 with the note, Location and ETag, and queues one job with one outbox row', async () => {
    const before = await tableCounts(t);
    const res = await call(t, alice, 'POST', '/api/notes', {
      title: '  Hello  ',
      body: 'World #tag',
      priority: 'high',
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const note = res.json();
    assert.equal(res.headers.location, `/api/notes/${note.id}`);
    assert.equal(res.headers.etag, '"1"');
    assert.equal(note.title, 'Hello', 'the title is stored trimmed');
    assert.equal(note.body, 'World #tag');
    assert.equal(note.priority, 'high');
    assert.equal(note.status, 'queued');
    assert.equal(note.version, 1);
    assert.equal(note.result, null);
    assert.equal(note.attempts, 0);
    assert.equal(note.last_error, null);
    assert.equal(note.processed_at, null);
    assert.match(note.created_at, ISO);
    assert.match(note.updated_at, ISO);
    assert.deepEqual(Object.keys(note).sort(), [
      'attempts',
      'body',
      'created_at',
      'id',
      'last_error',
      'priority',
      'processed_at',
      'result',
      'status',
      'title',
      'updated_at',
      'version',
    ]);

    const jobs = await jobsOf(note.id);
    assert.equal(jobs.length, 1);
    assert.deepEqual(
      { kind: jobs[0]?.kind, v: jobs[0]?.note_version, p: jobs[0]?.priority, s: jobs[0]?.status },
      { kind: 'note.process', v: 1, p: 'high', s: 'queued' },
    );
    await assertOneOutboxRowPerJob(note.id);
    const after = await tableCounts(t);
    assert.equal(after.notes, before.notes + 1);
    assert.equal(after.jobs, before.jobs + 1);
    assert.equal(after.outbox, before.outbox + 1);

    const got = await call(t, alice, 'GET', `/api/notes/${note.id}`);
    assert.equal(got.statusCode, 200);
    assert.equal(got.headers.etag, '"1"');
    assert.deepEqual(got.json(), note);
  });

  test('defaults: body is empty and priority normal', async () => {
    const note = await createNote(t, alice, { title: 'defaults' });
    assert.equal(note.body, '');
    assert.equal(note.priority, 'normal');
  });

  test('a result stored by the pipeline comes back parsed (MariaDB returns JSON as a string)', async () => {
    const note = await createNote(t, alice);
    const result = {
      word_count: 1,
      char_count: 2,
      reading_time_seconds: 1,
      tags: ['a'],
      links: [],
      checksum: 'a'.repeat(64),
    };
    await query(t, 'UPDATE notes SET result = ?, status = ?, processed_at = NOW(3) WHERE id = ?', [
      JSON.stringify(result),
      'processed',
      note.id,
    ]);
    await t.deps.noteCache.invalidate(alice.id);
    const got = (await call(t, alice, 'GET', `/api/notes/${note.id}`)).json();
    assert.deepEqual(got.result, result);
    assert.equal(got.status, 'processed');
    assert.match(got.processed_at, ISO);
  });

  test('an unknown id is a 404 problem', async () => {
    assert.ok(isProblem(await call(t, alice, 'GET', '/api/notes/0190b1c2-0000-7000-8000-000000000000'), 404));
  });

  test('every notes route needs a token', async () => {
    const note = await createNote(t, alice);
    const before = await tableCounts(t);
    for (const [method, url, body] of [
      ['GET', '/api/notes'],
      ['POST', '/api/notes', { title: 'x' }],
      ['GET', `/api/notes/${note.id}`],
      ['PATCH', `/api/notes/${note.id}`, { title: 'y' }],
      ['DELETE', `/api/notes/${note.id}`],
      ['GET', `/api/notes/${note.id}/jobs`],
    ] as const) {
      assert.ok(isProblem(await call(t, null, method, url, body), 401), `${method} ${url}`);
    }
    assert.deepEqual(await tableCounts(t), before);
  });

  test('a known path with another method is a 405 with Allow', async () => {
    const res = await call(t, alice, 'PUT', '/api/notes/abc', { title: 'x' });
    assert.equal(res.statusCode, 405);
    assert.match(String(res.headers.allow), /PATCH/);
  });
});

describe('change and delete', () => {
  test('PATCH bumps the version, answers the ETag, and queues a job for the new version', async () => {
    const note = await createNote(t, alice, { title: 'v1', body: 'one' });
    const res = await call(t, alice, 'PATCH', `/api/notes/${note.id}`, { body: 'two' }, { 'if-match': '"1"' });
    assert.equal(res.statusCode, 200, res.body);
    const changed = res.json();
    assert.equal(changed.version, 2);
    assert.equal(changed.body, 'two');
    assert.equal(changed.title, 'v1');
    assert.equal(changed.created_at, note.created_at);
    assert.equal(res.headers.etag, '"2"');
    assert.equal(res.headers.location, undefined);
    assert.deepEqual(
      (await jobsOf(note.id)).map((j) => j.note_version),
      [1, 2],
    );
    await assertOneOutboxRowPerJob(note.id);
    const got = await call(t, alice, 'GET', `/api/notes/${note.id}`);
    assert.equal(got.headers.etag, '"2"');
    assert.deepEqual(got.json(), changed);
  });

  test('a PATCH that only changes the priority is a change: new version, new job at that priority', async () => {
    const note = await createNote(t, alice);
    const res = await call(t, alice, 'PATCH', `/api/notes/${note.id}`, { priority: 'max' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().version, 2);
    const jobs = await jobsOf(note.id);
    assert.deepEqual(
      jobs.map((j) => [j.note_version, j.priority]),
      [
        [1, 'normal'],
        [2, 'max'],
      ],
    );
  });

  test('a stale If-Match is a 412 and changes nothing; * and a list with the current tag match', async () => {
    const note = await createNote(t, alice);
    await call(t, alice, 'PATCH', `/api/notes/${note.id}`, { title: 'second' });
    const before = await tableCounts(t);
    for (const ifMatch of ['"1"', 'W/"2"', '"3"', '2']) {
      const res = await call(t, alice, 'PATCH', `/api/notes/${note.id}`, { title: 'lost' }, { 'if-match': ifMatch });
      assert.ok(isProblem(res, 412), `${ifMatch}: ${res.statusCode}`);
    }
    assert.ok(
      isProblem(await call(t, alice, 'DELETE', `/api/notes/${note.id}`, undefined, { 'if-match': '"1"' }), 412),
    );
    assert.deepEqual(await tableCounts(t), before);
    assert.equal((await call(t, alice, 'GET', `/api/notes/${note.id}`)).json().title, 'second');

    const star = await call(t, alice, 'PATCH', `/api/notes/${note.id}`, { title: 'third' }, { 'if-match': '*' });
    assert.equal(star.statusCode, 200);
    const list = await call(
      t,
      alice,
      'PATCH',
      `/api/notes/${note.id}`,
      { title: 'fourth' },
      { 'if-match': '"9", "3"' },
    );
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().version, 4);
  });

  test('PATCH {} is a 400 and changes nothing', async () => {
    const note = await createNote(t, alice);
    const before = await tableCounts(t);
    assert.ok(isProblem(await call(t, alice, 'PATCH', `/api/notes/${note.id}`, {}), 400));
    assert.deepEqual(await tableCounts(t), before);
  });

  test('DELETE answers 204 without a body; the note is gone, its jobs stay as history', async () => {
    const note = await createNote(t, alice);
    const res = await call(t, alice, 'DELETE', `/api/notes/${note.id}`, undefined, { 'if-match': '"1"' });
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, '');
    assert.ok(isProblem(await call(t, alice, 'GET', `/api/notes/${note.id}`), 404));
    assert.ok(isProblem(await call(t, alice, 'GET', `/api/notes/${note.id}/jobs`), 404));
    assert.ok(isProblem(await call(t, alice, 'PATCH', `/api/notes/${note.id}`, { title: 'x' }), 404));
    assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM notes WHERE id = ?', [note.id]), 0);
    assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM jobs WHERE note_id = ?', [note.id]), 1);
  });
});

describe('ownership', () => {
  test("another user's note is a 404 for GET, PATCH, DELETE and jobs, and stays untouched", async () => {
    const note = await createNote(t, alice, { title: 'private' });
    const before = await tableCounts(t);
    const url = `/api/notes/${note.id}`;
    assert.ok(isProblem(await call(t, bob, 'GET', url), 404));
    assert.ok(isProblem(await call(t, bob, 'PATCH', url, { title: 'mine now' }), 404));
    assert.ok(isProblem(await call(t, bob, 'PATCH', url, { title: 'mine now' }, { 'if-match': '"1"' }), 404));
    assert.ok(isProblem(await call(t, bob, 'DELETE', url), 404));
    assert.ok(isProblem(await call(t, bob, 'GET', `${url}/jobs`), 404));
    assert.deepEqual(await tableCounts(t), before);
    const got = await call(t, alice, 'GET', url);
    assert.equal(got.statusCode, 200);
    assert.equal(got.json().title, 'private');
    assert.equal(got.json().version, 1);
    const bobsList = (await call(t, bob, 'GET', '/api/notes?q=private')).json();
    assert.equal(bobsList.total, 0);
  });
});

describe('job history', () => {
  test("GET /api/notes/:id/jobs lists the note's jobs, newest first", async () => {
    const note = await createNote(t, alice);
    await call(t, alice, 'PATCH', `/api/notes/${note.id}`, { title: 'b' });
    await call(t, alice, 'PATCH', `/api/notes/${note.id}`, { priority: 'low' });
    const res = await call(t, alice, 'GET', `/api/notes/${note.id}/jobs`);
    assert.equal(res.statusCode, 200);
    const { data, total } = res.json();
    assert.equal(total, 3);
    assert.deepEqual(
      data.map((j: { note_version: number }) => j.note_version),
      [3, 2, 1],
    );
    const [newest] = data;
    assert.equal(newest.note_id, note.id);
    assert.equal(newest.kind, 'note.process');
    assert.equal(newest.priority, 'low');
    assert.equal(newest.status, 'queued');
    assert.equal(newest.attempts, 0);
    assert.match(newest.created_at, ISO);
    const page = (await call(t, alice, 'GET', `/api/notes/${note.id}/jobs?limit=1&offset=1`)).json();
    assert.equal(page.total, 3);
    assert.deepEqual(
      page.data.map((j: { note_version: number }) => j.note_version),
      [2],
    );
  });
});

describe('OpenAPI', () => {
  test('the note schema is in the document', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    const schemas = Object.values(doc.components.schemas) as { title?: string; properties?: object }[];
    const note = schemas.find((s) => s.title === 'Note');
    assert.ok(note, 'components.schemas has Note');
    assert.ok(note.properties && 'version' in note.properties);
    assert.ok(doc.paths['/api/notes'].post);
    assert.ok(doc.paths['/api/notes/{id}'].patch);
  });
});
