import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@notes/contracts/testing';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, createNote, newUser, query, type TestUser } from './notes-fixtures.ts';

/** Listing (docs/api.md) and the read cache, which must never serve a stale note. */

let t: TestApp;
let lister: TestUser;
type N = { id: string; title: string; body: string; priority: string; status: string; created_at: string };
let all: N[];

const PRIORITY_ORDER = ['low', 'normal', 'high', 'critical', 'max'];
const STATUS_ORDER = ['queued', 'processing', 'processed', 'failed', 'dead'];

before(async () => {
  t = await startTestApp('noteslist');
  lister = await newUser(t, 'lister');
  const specs = [
    { title: 'Banana split', body: 'ice cream', priority: 'low' },
    { title: 'apple pie', body: 'Cinnamon and APPLES', priority: 'max' },
    { title: '100% done', body: 'percent', priority: 'high' },
    { title: '1000 done', body: 'no percent here', priority: 'normal' },
    { title: 'snake_case', body: 'underscore', priority: 'critical' },
    { title: 'snakeXcase', body: 'no underscore', priority: 'normal' },
    { title: 'Cherry', body: 'a body with 50% off', priority: 'high' },
  ];
  all = [];
  // One at a time, so created_at (and the UUIDv7 tie-break) follows this order.
  for (const s of specs) all.push((await createNote(t, lister, s)) as unknown as N);
  // Give two notes other statuses, as the pipeline would.
  await query(t, "UPDATE notes SET status = 'processed' WHERE id IN (?, ?)", [all[0]?.id, all[4]?.id]);
  await query(t, "UPDATE notes SET status = 'dead' WHERE id = ?", [all[2]?.id]);
  await t.deps.noteCache.invalidate(lister.id);
  all = (await call(t, lister, 'GET', '/api/notes?limit=100')).json().data;
});
after(() => t?.close());

const ids = (notes: N[]) => notes.map((n) => n.id);
async function list(qs: string): Promise<{ data: N[]; total: number; total_exact: boolean }> {
  const res = await call(t, lister, 'GET', `/api/notes?${qs}`);
  assert.equal(res.statusCode, 200, `${qs}: ${res.body}`);
  return res.json();
}

describe('listing', () => {
  test('the default is newest first, 20 per page, with the total', async () => {
    const page = await list('');
    assert.equal(page.total, 7);
    assert.equal(page.data.length, 7);
    const created = page.data.map((n) => n.created_at);
    assert.deepEqual(created, [...created].sort().reverse());
    assert.deepEqual(ids(page.data), ids(await list('sort=-created_at&limit=20&offset=0').then((p) => p.data)));
  });

  test('every sort field, both directions', async () => {
    const cmp: Record<string, (a: N, b: N) => number> = {
      created_at: (a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id),
      updated_at: (a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id),
      title: (a, b) => a.title.toLowerCase().localeCompare(b.title.toLowerCase()) || a.id.localeCompare(b.id),
      priority: (a, b) =>
        PRIORITY_ORDER.indexOf(a.priority) - PRIORITY_ORDER.indexOf(b.priority) || a.id.localeCompare(b.id),
      status: (a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || a.id.localeCompare(b.id),
    };
    for (const [field, compare] of Object.entries(cmp)) {
      const asc = [...all].sort(compare);
      assert.deepEqual(ids((await list(`sort=${field}`)).data), ids(asc), field);
      assert.deepEqual(ids((await list(`sort=-${field}`)).data), ids(asc.reverse()), `-${field}`);
    }
  });

  test('limit and offset page through without overlap; total counts every match', async () => {
    const seen: string[] = [];
    for (let offset = 0; offset < 7; offset += 3) {
      const page = await list(`limit=3&offset=${offset}&sort=title`);
      assert.equal(page.total, 7);
      seen.push(...ids(page.data));
    }
    assert.deepEqual(seen, ids((await list('sort=title')).data));
    assert.deepEqual((await list('offset=50')).data, []);
  });

  test('status and priority filter; total follows the filter', async () => {
    const processed = await list('status=processed');
    assert.equal(processed.total, 2);
    assert.ok(processed.data.every((n) => n.status === 'processed'));
    const normal = await list('priority=normal');
    assert.deepEqual(normal.data.map((n) => n.title).sort(), ['1000 done', 'snakeXcase']);
    assert.equal((await list('priority=high&status=dead')).total, 1);
  });

  test('q finds words and word prefixes of title or body, case- and accent-insensitively', async () => {
    const titles = async (q: string) => (await list(`q=${encodeURIComponent(q)}&sort=title`)).data.map((n) => n.title);
    assert.deepEqual(await titles('APPLE'), ['apple pie']);
    assert.deepEqual(await titles('cinnamon'), ['apple pie'], 'matches the body');
    assert.deepEqual(await titles('cinn'), ['apple pie'], 'a prefix of a word');
    assert.deepEqual(await titles('apple cinnamon'), ['apple pie'], 'every word must be there, in any field');
    assert.deepEqual(await titles('apple banana'), []);
    assert.deepEqual(await titles('percent'), ['100% done', '1000 done']);
    assert.deepEqual(await titles('snake_case'), ['snake_case'], '_ is part of a word, as in the index');
    // A search counts no further than its page: a lower bound while there is a next page.
    assert.deepEqual(await list('q=done&limit=1').then((p) => [p.total, p.total_exact]), [2, false]);
    assert.deepEqual(await list('q=done').then((p) => [p.total, p.total_exact]), [2, true]);
  });

  test('operators, punctuation and too-short words never break the query', async () => {
    const titles = async (q: string) => (await list(`q=${encodeURIComponent(q)}&sort=title`)).data.map((n) => n.title);
    assert.deepEqual(await titles('+apple -pie'), ['apple pie'], 'operators are separators');
    assert.deepEqual(await titles('"apple" (pie*) ~<>@2'), ['apple pie']);
    assert.deepEqual(await titles('an apple'), ['apple pie'], 'words under 3 characters are ignored');
    for (const q of ['%', '_', '!', '\\', '0% d', 'a b', '*', '""', "'", '-', '@', '🙂']) {
      assert.deepEqual(await titles(q), [], `${q}: no word to search finds nothing`);
    }
  });
});

describe('read cache', () => {
  test('a cached note is served from Redis until a write, and never stale after one', async () => {
    const user = await newUser(t, 'cache');
    const note = await createNote(t, user, { title: 'original' });
    const url = `/api/notes/${note.id}`;
    // The live-event relay drops a user's cached reads before it publishes their event: let it
    // publish the create's event first, so it cannot empty the cache this test fills.
    await waitFor('the create event published', async () => {
      const rows = await query<{ n: number }>(t, 'SELECT COUNT(*) AS n FROM live_events');
      return Number(rows[0]?.n) === 0;
    });
    assert.equal((await call(t, user, 'GET', url)).json().title, 'original'); // fills the cache
    // Changed behind the API's back: the cache still answers, which proves it is in use.
    await query(t, "UPDATE notes SET title = 'behind the back' WHERE id = ?", [note.id]);
    assert.equal((await call(t, user, 'GET', url)).json().title, 'original');
    // The exported invalidation (the pipeline calls it after recording a result) drops it.
    await t.deps.noteCache.invalidate(user.id);
    assert.equal((await call(t, user, 'GET', url)).json().title, 'behind the back');

    const patched = await call(t, user, 'PATCH', url, { title: 'patched' });
    const got = await call(t, user, 'GET', url);
    assert.equal(got.json().title, 'patched');
    assert.equal(got.json().version, patched.json().version);
    assert.equal(got.headers.etag, `"${patched.json().version}"`);

    await call(t, user, 'DELETE', url);
    assert.equal((await call(t, user, 'GET', url)).statusCode, 404);
  });

  test('the first page of the default list is cached and invalidated by every write', async () => {
    const user = await newUser(t, 'cachelist');
    const first = await createNote(t, user, { title: 'first' });
    assert.equal((await list2(user)).total, 1); // fills the cache
    const second = await createNote(t, user, { title: 'second' });
    let page = await list2(user);
    assert.deepEqual(
      page.data.map((n) => n.id),
      [second.id, first.id],
    );
    await call(t, user, 'PATCH', `/api/notes/${first.id}`, { title: 'first, changed' });
    page = await list2(user);
    assert.equal(page.data.find((n) => n.id === first.id)?.title, 'first, changed');
    await call(t, user, 'DELETE', `/api/notes/${second.id}`);
    page = await list2(user);
    assert.deepEqual(
      page.data.map((n) => n.id),
      [first.id],
    );
    assert.equal(page.total, 1);
  });

  test('a read racing writes never leaves a stale entry behind', async () => {
    const user = await newUser(t, 'race');
    const note = await createNote(t, user, { title: 'v1' });
    const url = `/api/notes/${note.id}`;
    for (let i = 2; i <= 6; i++) {
      // Reads and a write in flight together; after the write has answered, reads must see it.
      const reads = Array.from({ length: 5 }, () => call(t, user, 'GET', url));
      const write = call(t, user, 'PATCH', url, { title: `v${i}` });
      const [written] = await Promise.all([write, ...reads]);
      assert.equal(written.statusCode, 200);
      const after = await Promise.all([call(t, user, 'GET', url), list2(user)]);
      assert.equal(after[0].json().title, `v${i}`);
      assert.equal(after[1].data[0]?.title, `v${i}`);
    }
  });
});

async function list2(user: TestUser): Promise<{ data: N[]; total: number }> {
  return (await call(t, user, 'GET', '/api/notes')).json();
}
