import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { recountStatuses } from '../src/modules/admin/status-counts-repository.ts';
import { MAX_OFFSET } from '../src/platform/db/keyset.ts';
import { COUNT_CAP } from '../src/platform/db/totals.ts';
import { bearer, type SeededUser, seedUser } from './admin-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, createNote, newUser, query, type TestUser } from './notes-fixtures.ts';

/** Keyset paging, bounded offset, capped totals and search edge cases (docs/data.md). */

let t: TestApp;
let owner: TestUser;
let admin: SeededUser;
type Page = { data: { id: string; title: string }[]; total: number; total_exact: boolean; next_cursor: string | null };

before(async () => {
  t = await startTestApp('paging');
  owner = await newUser(t, 'pager');
  admin = await seedUser(t.app, t.deps.database, { role: 'admin' });
  const titles = ['Crème brûlée', 'apple', 'Apple', 'banana', 'cherry', 'apple', 'date', 'elder', 'fig'];
  for (const [i, title] of titles.entries())
    await createNote(t, owner, { title, priority: ['low', 'high', 'max'][i % 3] as string });
  await query(t, "UPDATE notes SET status = 'processed' WHERE user_id = ? AND title LIKE '%e%'", [owner.id]);
  // Some jobs finished (two in the same millisecond), the rest not: NULLs and ties in one order.
  await query(t, "UPDATE jobs SET status = 'processed', finished_at = '2026-01-01 00:00:00.000' ORDER BY id LIMIT 2");
  await query(t, "UPDATE jobs SET status = 'dead', finished_at = NOW(3) WHERE finished_at IS NULL ORDER BY id LIMIT 3");
});
after(() => t?.close());

async function get(url: string, as: { token: string } = owner) {
  const res = await t.app.inject({ method: 'GET', url, headers: bearer(as.token) });
  return res;
}

async function walk(base: string, as: { token: string } = owner): Promise<string[]> {
  const seen: string[] = [];
  let url: string | null = `${base}&limit=2`;
  for (let pages = 0; url && pages < 50; pages++) {
    const res = await get(url, as);
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    const page = res.json() as Page;
    seen.push(...page.data.map((n) => n.id));
    const link = res.headers.link as string | undefined;
    if (page.next_cursor) {
      assert.equal(link, `<${new URL(`http://x${url}`).pathname}?${linkQuery(url, page.next_cursor)}>; rel="next"`);
      url = link.slice(1, link.indexOf('>'));
    } else {
      assert.equal(link, undefined, 'the last page has no next link');
      url = null;
    }
  }
  return seen;
}

function linkQuery(url: string, cursor: string): string {
  const params = new URL(`http://x${url}`).searchParams;
  params.delete('offset');
  params.set('cursor', cursor);
  return params.toString();
}

describe('the cursor pages through every order exactly like one big page', () => {
  test('a user’s notes, every sort both ways, with and without filters', async () => {
    for (const sort of ['created_at', 'updated_at', 'title', 'priority', 'status']) {
      for (const s of [sort, `-${sort}`]) {
        for (const filter of ['', '&status=processed', '&priority=high', '&q=apple']) {
          const all = (await get(`/api/notes?limit=100&sort=${s}${filter}`)).json() as Page;
          assert.deepEqual(
            await walk(`/api/notes?sort=${s}${filter}`),
            all.data.map((n) => n.id),
            `${s}${filter}`,
          );
        }
      }
    }
  });

  test('the console’s lists', async () => {
    for (const path of [
      '/api/admin/notes?sort=-title',
      '/api/admin/notes?sort=status',
      '/api/admin/jobs?sort=-created_at',
    ]) {
      const all = (await get(`${path}&limit=100`, admin)).json() as Page;
      assert.ok(all.data.length > 2);
      assert.deepEqual(
        await walk(path, admin),
        all.data.map((n) => n.id),
        path,
      );
    }
    const jobs = (await get('/api/admin/jobs?limit=100&sort=-finished_at', admin)).json() as Page;
    assert.deepEqual(
      await walk('/api/admin/jobs?sort=-finished_at', admin),
      jobs.data.map((j) => j.id),
      'NULLs last',
    );
    const asc = (await get('/api/admin/jobs?limit=100&sort=finished_at', admin)).json() as Page;
    assert.deepEqual(
      await walk('/api/admin/jobs?sort=finished_at', admin),
      asc.data.map((j) => j.id),
      'NULLs first',
    );
  });
});

describe('bad paging is a clear 400 that names the parameter', () => {
  test('offset past the limit, a forged cursor, a cursor of another sort, cursor with offset', async () => {
    const over = await get(`/api/notes?offset=${MAX_OFFSET + 1}`);
    assert.equal(over.statusCode, 400);
    assert.match(over.headers['content-type'] as string, /problem\+json/);
    assert.match(over.body, /offset/);
    assert.equal((await get(`/api/notes?offset=${MAX_OFFSET}`)).statusCode, 200);
    const { next_cursor } = (await get('/api/notes?limit=1&sort=title')).json() as Page;
    for (const [url, name] of [
      ['/api/notes?cursor=not-a-cursor', 'cursor'],
      [
        `/api/notes?cursor=${Buffer.from('{"s":"title","v":[{"x":1},"a"]}').toString('base64url')}&sort=title`,
        'cursor',
      ],
      [
        `/api/notes?cursor=${Buffer.from('{"s":"priority","v":["nope","2020-01-01T00:00:00Z","a"]}').toString('base64url')}&sort=priority`,
        'cursor',
      ],
      [`/api/notes?cursor=${next_cursor}`, 'cursor'],
      [`/api/notes?cursor=${next_cursor}&sort=title&offset=1`, 'offset'],
      [`/api/admin/jobs?cursor=${next_cursor}`, 'cursor'],
    ] as const) {
      const res = await get(url, url.includes('admin') ? admin : owner);
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.match(res.body, new RegExp(name));
    }
  });
});

describe('search', () => {
  test('accents and case do not matter; operators and short words do not break it', async () => {
    const titles = async (q: string) =>
      ((await get(`/api/notes?limit=100&sort=title&q=${encodeURIComponent(q)}`)).json() as Page).data.map(
        (n) => n.title,
      );
    assert.deepEqual(await titles('creme BRULEE'), ['Crème brûlée']);
    assert.deepEqual(await titles('crè'), ['Crème brûlée']);
    for (const q of ['"', "'", '+', '-', '*', '()', '<>', '~', '@8', 'a', 'é', 'AND OR NOT', ')(*&^%$#@!']) {
      const res = await get(`/api/notes?q=${encodeURIComponent(q)}`);
      assert.equal(res.statusCode, 200, `${q}: ${res.body}`);
    }
    for (const path of ['/api/admin/notes?q=', '/api/admin/jobs?q=', '/api/admin/dlq?q=']) {
      for (const q of ['"unterminated', '+-~*', 'x']) {
        const res = await get(`${path}${encodeURIComponent(q)}`, admin);
        assert.equal(res.statusCode, 200, `${path}${q}: ${res.body}`);
      }
    }
  });
});

test('totals are exact up to the cap, then a lower bound the response says is one', async () => {
  const many = await newUser(t, 'many');
  await query(
    t,
    `INSERT INTO notes (id, user_id, title, body, created_at, updated_at)
     SELECT CONCAT('00000000-0000-7000-8000-', LPAD(HEX(seq), 12, '0')), ?, CONCAT('bulk ', seq), '', NOW(3), NOW(3)
     FROM seq_1_to_${COUNT_CAP + 5}`,
    [many.id],
  );
  // Rows loaded by hand are not counted by the writer: recount, as operators do after hand-run SQL.
  await recountStatuses(t.deps.database.writer);
  const big = (await call(t, many, 'GET', '/api/notes?limit=1')).json() as Page;
  assert.deepEqual([big.total, big.total_exact], [COUNT_CAP, false]);
  const small = (await call(t, owner, 'GET', '/api/notes?limit=1')).json() as Page;
  assert.deepEqual([small.total, small.total_exact], [9, true]);
  // The console's unfiltered totals come from the status counters, exact at any size.
  const all = (await get('/api/admin/notes?limit=1', admin)).json() as Page;
  assert.deepEqual([all.total, all.total_exact], [COUNT_CAP + 5 + 9, true]);
  const processed = (await get('/api/admin/notes?limit=1&status=processed', admin)).json() as Page;
  const [row] = await query<{ n: number }>(t, "SELECT COUNT(*) AS n FROM notes WHERE status = 'processed'");
  assert.deepEqual([processed.total, processed.total_exact], [Number(row?.n), true]);
});
