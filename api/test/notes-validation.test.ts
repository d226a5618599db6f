import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, createNote, isProblem, newUser, type TestUser, tableCounts } from './notes-fixtures.ts';

/**
 * Bad input (docs/api.md): every rejection is problem+json, names the field where
 * there is one, and changes nothing (no note, job, outbox row or idempotency fence).
 */

let t: TestApp;
let alice: TestUser;
let noteId: string;

before(async () => {
  t = await startTestApp('notesval');
  await t.deps.outbox.stop(); // its rows stay, for tableCounts
  alice = await newUser(t, 'alice');
  noteId = (await createNote(t, alice, { title: 'target' })).id;
});
after(() => t?.close());

const READ_ONLY = [
  'id',
  'status',
  'version',
  'result',
  'attempts',
  'last_error',
  'created_at',
  'updated_at',
  'processed_at',
];
const tooManyBytes = 'é'.repeat(32_769); // 32,769 code points, 65,538 UTF-8 bytes

const cases: { name: string; body: unknown; field?: string; patch?: boolean }[] = [
  { name: 'missing title', body: { body: 'x' }, field: 'title' },
  { name: 'empty title', body: { title: '' }, field: 'title' },
  { name: 'blank title', body: { title: ' \t\n ' }, field: 'title' },
  { name: '201-code-point title', body: { title: 'a'.repeat(201) }, field: 'title' },
  { name: '201 emoji title', body: { title: '😀'.repeat(201) }, field: 'title' },
  { name: 'numeric title', body: { title: 123 }, field: 'title' },
  { name: 'null title', body: { title: null }, field: 'title' },
  { name: 'body over 65,536 bytes', body: { title: 'x', body: tooManyBytes }, field: 'body' },
  { name: 'body as an object', body: { title: 'x', body: { a: 1 } }, field: 'body' },
  { name: 'unknown priority', body: { title: 'x', priority: 'urgent' }, field: 'priority' },
  { name: 'numeric priority', body: { title: 'x', priority: 5 }, field: 'priority' },
  { name: 'unknown field', body: { title: 'x', colour: 'red' }, field: 'colour' },
  { name: 'lone surrogate', body: { title: 'bad \ud800 title' }, field: 'title' },
  { name: 'array body', body: [{ title: 'x' }] },
  { name: 'string body', body: '"just a string"' },
  ...READ_ONLY.map((field) => ({ name: `read-only ${field}`, body: { title: 'x', [field]: 1 }, field })),
  { name: 'PATCH {}', body: {}, patch: true },
  { name: 'PATCH empty title', body: { title: '   ' }, field: 'title', patch: true },
  { name: 'PATCH read-only version', body: { version: 7 }, field: 'version', patch: true },
  { name: 'PATCH read-only status', body: { title: 'x', status: 'processed' }, field: 'status', patch: true },
  { name: 'PATCH body over 65,536 bytes', body: { body: tooManyBytes }, field: 'body', patch: true },
  { name: 'PATCH unknown field', body: { colour: 'red' }, field: 'colour', patch: true },
];

for (const c of cases) {
  test(`${c.name} → 400 naming the field, nothing changes`, async () => {
    const before = await tableCounts(t);
    const headers = { 'content-type': 'application/json', 'idempotency-key': `k-${c.name}` };
    const payload = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
    const res = c.patch
      ? await call(t, alice, 'PATCH', `/api/notes/${noteId}`, payload, headers)
      : await call(t, alice, 'POST', '/api/notes', payload, headers);
    assert.ok(isProblem(res, 400), `${res.statusCode} ${res.body}`);
    const problem = res.json();
    for (const member of ['type', 'title', 'status', 'detail']) assert.ok(problem[member], member);
    if (c.field) {
      assert.equal(problem.field, c.field, problem.detail);
      assert.match(problem.detail, new RegExp(c.field));
    }
    assert.deepEqual(await tableCounts(t), before);
  });
}

test('an Idempotency-Key over 255 characters is a 400 and changes nothing', async () => {
  const before = await tableCounts(t);
  const res = await call(t, alice, 'POST', '/api/notes', { title: 'x' }, { 'idempotency-key': 'k'.repeat(256) });
  assert.ok(isProblem(res, 400), res.body);
  assert.match(res.json().detail, /idempotency-key/i);
  assert.deepEqual(await tableCounts(t), before);
  const ok = await call(t, alice, 'POST', '/api/notes', { title: 'x' }, { 'idempotency-key': 'k'.repeat(255) });
  assert.equal(ok.statusCode, 201);
});

test('malformed JSON, wrong content type and an oversized body are 400, 415 and 413', async () => {
  const before = await tableCounts(t);
  const bad = await call(t, alice, 'POST', '/api/notes', '{"title": "x",', { 'content-type': 'application/json' });
  assert.ok(isProblem(bad, 400), bad.body);
  for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
    const wrongType = await call(t, alice, 'POST', '/api/notes', 'title=x', { 'content-type': type });
    assert.ok(isProblem(wrongType, 415), `${type}: ${wrongType.statusCode} ${wrongType.body}`);
  }
  const huge = JSON.stringify({ title: 'x', body: 'a'.repeat(1024 * 1024 + 10) });
  const tooLarge = await call(t, alice, 'POST', '/api/notes', huge, { 'content-type': 'application/json' });
  assert.ok(isProblem(tooLarge, 413), tooLarge.body);
  const patchBad = await call(t, alice, 'PATCH', `/api/notes/${noteId}`, '{', { 'content-type': 'application/json' });
  assert.ok(isProblem(patchBad, 400));
  assert.deepEqual(await tableCounts(t), before);
});

test('the limits are inclusive: 200 code points of title, 65,536 bytes of body', async () => {
  const res = await call(t, alice, 'POST', '/api/notes', {
    title: `  ${'😀'.repeat(200)}  `,
    body: 'é'.repeat(32_768),
  });
  assert.equal(res.statusCode, 201, res.body);
  const note = res.json();
  assert.equal([...note.title].length, 200);
  assert.equal(Buffer.byteLength(note.body), 65_536);
  const got = (await call(t, alice, 'GET', `/api/notes/${note.id}`)).json();
  assert.equal(got.title, note.title);
  assert.equal(got.body, note.body);
});

test('bad list queries are 400s', async () => {
  for (const q of ['limit=101', 'limit=0', 'limit=abc', 'offset=-1', 'sort=bogus', 'sort=-id', 'status=done', 'x=1']) {
    const res = await call(t, alice, 'GET', `/api/notes?${q}`);
    assert.ok(isProblem(res, 400), `${q}: ${res.statusCode}`);
  }
  assert.ok(isProblem(await call(t, alice, 'GET', `/api/notes/${noteId}/jobs?limit=101`), 400));
});
