import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import { drizzle } from 'drizzle-orm/mysql2';
import * as admin from '../src/modules/admin/admin-repository.ts';
import { rebuildJobErrors } from '../src/modules/admin/status-counts-repository.ts';
import { listNotes } from '../src/modules/notes/notes-repository.ts';
import type { SortField } from '../src/modules/notes/schemas.ts';
import { createDatabase, type Database, type Db, migrateDatabase } from '../src/platform/db/client.ts';
import * as schema from '../src/platform/db/schema.ts';
import { SEARCH_WINDOW, startsWords } from '../src/platform/db/search-walk.ts';

/**
 * Search walks the list's index first and falls back to the FULLTEXT index (docs/data.md,
 * "Search"). Whichever way a page is found, it must be the page the FULLTEXT index alone gives:
 * every query here is paged to the end through cursors and compared with that ground truth.
 */

let ns: TestNamespace;
let database: Database;
let db: Db;
let statements: string[] = [];
const USER = '00000000-0000-7000-a000-000000000001';
const OTHER = '00000000-0000-7000-a000-000000000002';
/** More of the user's notes than one window, so rare words leave the walk. */
const NOTES = SEARCH_WINDOW + 700;

before(async () => {
  ns = await createTestNamespace('search');
  const config = ns.config();
  await migrateDatabase(config);
  database = createDatabase(config);
  db = drizzle(database.pool, { schema, mode: 'default', logger: { logQuery: (sql) => statements.push(sql) } });
  // Newest first: `seq` 1 is the newest. "often" is in 1 note of 3, "sometimes" in 1 of 50,
  // "seldom" only in the 3 oldest (beyond the first window). Titles repeat, so sorts have ties.
  await database.pool.query(
    `INSERT INTO notes (id, user_id, title, body, priority, status, created_at, updated_at)
     SELECT CONCAT('00000000-0000-7000-8000-', LPAD(HEX(100000 - seq), 12, '0')), IF(seq % 7 = 3, ?, ?),
            CONCAT('Title ', seq % 40), CONCAT_WS(' ', 'every', IF(seq % 3 = 0, 'Often.', NULL),
            IF(seq % 50 = 1, '(sometimes)', NULL), IF(seq > ? - 3, 'seldom', NULL), IF(seq % 97 = 5, 'Crème brûlée', NULL),
            IF(seq % 89 = 4, 'pineapple', NULL), IF(seq % 83 = 2, 'snake_case 50%', NULL)),
            ELT(1 + seq % 5, 'low', 'normal', 'high', 'critical', 'max'),
            ELT(1 + seq % 3, 'queued', 'processed', 'dead'),
            NOW(3) - INTERVAL seq SECOND, NOW(3) - INTERVAL (seq * 7) % 1000 SECOND
     FROM seq_1_to_${NOTES}`,
    [OTHER, USER, NOTES],
  );
  // Jobs: every other one failed or dead with an error; "refused" in 1 of 60, "kaput" in the oldest.
  await database.pool.query(
    `INSERT INTO jobs (id, note_id, user_id, kind, priority, status, note_version, last_error, dead_reason,
                       created_at, updated_at, finished_at)
     SELECT CONCAT('00000000-0000-7000-9000-', LPAD(HEX(100000 - seq), 12, '0')), '00000000-0000-7000-8000-000000000001', ?,
            IF(seq % 10 = 0, 'webhook.deliver', 'note.process'), ELT(1 + seq % 5, 'low', 'normal', 'high', 'critical', 'max'),
            IF(seq % 2 = 0, 'processed', IF(seq % 4 = 1, 'dead', 'failed')), 1,
            IF(seq % 2 = 1, CONCAT_WS(' ', 'upstream timeout', IF(seq % 60 = 1, 'connection refused', NULL),
                                       IF(seq > ? - 3, 'kaput', NULL)), NULL),
            IF(seq % 4 = 1, 'attempts exhausted', NULL),
            NOW(3) - INTERVAL seq SECOND, NOW(3) - INTERVAL (seq * 7) % 1000 SECOND, NOW(3) - INTERVAL seq SECOND
     FROM seq_1_to_${NOTES}`,
    [USER, NOTES],
  );
  // Jobs loaded by hand: their error texts reach job_errors by a rebuild (docs/operations.md).
  await rebuildJobErrors(database.writer);
  await database.pool.query('ANALYZE TABLE notes, jobs, job_errors');
});

after(async () => {
  await database?.close();
  await ns?.cleanup();
});

type Row = { id: string };

/** The whole result, page by page through the cursor, and whether any page used FULLTEXT. */
async function pages(page: (cursor?: string) => Promise<{ ids: string[]; next: string | null }>) {
  statements = [];
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 200; i++) {
    const p = await page(cursor);
    ids.push(...p.ids);
    if (!p.next) break;
    cursor = p.next;
  }
  return { ids, fulltext: statements.some((s) => /match\s*\(/i.test(s)) };
}

/** The ground truth: the FULLTEXT index alone, in the list's order. */
async function truth(q: string, sort: string, owner: string | null): Promise<string[]> {
  const field = sort.replace(/^-/, '');
  const dir = sort.startsWith('-') ? 'DESC' : 'ASC';
  const keys = ['priority', 'status'].includes(field) ? [field, 'created_at', 'id'] : [field, 'id'];
  const words = q
    .split(/[^\p{L}\p{N}_]+/u)
    .filter((w) => w.length >= 3)
    .map((w) => `+${w}*`)
    .join(' ');
  const [rows] = await database.pool.query(
    `SELECT id FROM notes WHERE ${owner ? 'user_id = ? AND' : ''} MATCH (title, body) AGAINST (? IN BOOLEAN MODE)
     ORDER BY ${keys.map((k) => `${k} ${dir}`).join(', ')}`,
    owner ? [owner, words] : [words],
  );
  return (rows as Row[]).map((r) => r.id);
}

const QUERIES = [
  'every',
  'often',
  'SOMETIMES',
  'some',
  'seldom',
  'creme',
  'BRÛLÉE',
  'apple',
  'snake_case',
  'often every',
];

describe('search: a walk of the list’s index, else the FULLTEXT index, gives the same pages', () => {
  for (const sort of ['-created_at', 'created_at', 'title', '-updated_at', '-priority']) {
    test(`a user’s search, sort ${sort}`, async () => {
      for (const q of QUERIES) {
        const got = await pages(async (cursor) => {
          const r = await listNotes(db, USER, { q, sort, limit: 25, offset: 0, cursor } as never);
          return { ids: r.rows.map((n) => n.id), next: r.nextCursor };
        });
        assert.deepEqual(got.ids, await truth(q, sort, USER), `q=${q} sort=${sort}`);
      }
    });
  }

  test('the console’s search, with and without an owner', async () => {
    for (const owner of [null, OTHER])
      for (const q of QUERIES) {
        const got = await pages(async (cursor) => {
          const r = await admin.listNotes(db, {
            q,
            sort: '-created_at' as SortField,
            limit: 25,
            offset: 0,
            cursor,
            ...(owner ? { user: OTHER } : {}),
          } as never);
          return { ids: r.data.map((n) => n.id), next: r.next_cursor };
        });
        assert.deepEqual(got.ids, await truth(q, '-created_at', owner), `q=${q} owner=${owner}`);
      }
  });

  test('common words are found by the walk alone; a word beyond the window by FULLTEXT', async () => {
    const first = async (q: string) => {
      statements = [];
      const r = await listNotes(db, USER, { q, sort: '-created_at', limit: 20, offset: 0 } as never);
      return { n: r.rows.length, fulltext: statements.some((s) => /match\s*\(/i.test(s)) };
    };
    assert.deepEqual(await first('every'), { n: 20, fulltext: false });
    assert.deepEqual(await first('sometimes'), { n: 20, fulltext: false });
    const seldom = await first('seldom');
    assert.equal(seldom.fulltext, true);
    assert.ok(seldom.n > 0);
  });

  test('an offset page is the same page either way', async () => {
    for (const q of ['every', 'sometimes', 'seldom']) {
      const r = await listNotes(db, USER, { q, sort: '-created_at', limit: 10, offset: 30 } as never);
      assert.deepEqual(
        r.rows.map((n) => n.id),
        (await truth(q, '-created_at', USER)).slice(30, 40),
        q,
      );
    }
  });
});

/**
 * The jobs a search should find, from the jobs table itself (not from `job_errors`, which the
 * search reads): every job with error text whose text holds every word, in the list's order.
 */
async function jobTruth(q: string, sort: string, dead: boolean): Promise<string[]> {
  const field = sort.replace(/^-/, '');
  const dir = sort.startsWith('-') ? 'DESC' : 'ASC';
  const tie = ['status', 'priority', 'kind'].includes(field) ? `created_at ${dir}, ` : '';
  const then = field === 'finished_at' ? `status ${dir}, ` : '';
  const [rows] = await database.pool.query(
    `SELECT id, last_error, dead_reason FROM jobs
     WHERE ${dead ? "status = 'dead' AND" : ''} (last_error IS NOT NULL OR dead_reason IS NOT NULL)
     ORDER BY ${field} ${dir}, ${dead ? '' : then}${tie}id ${dir}`,
  );
  type ErrorRow = { id: string; last_error: string | null; dead_reason: string | null };
  return (rows as ErrorRow[])
    .filter((r) => startsWords([q], `${r.last_error ?? ''} ${r.dead_reason ?? ''}`))
    .map((r) => r.id);
}

test('job and DLQ searches give the pages of the jobs with those words', async () => {
  for (const sort of ['-created_at', 'created_at', '-updated_at', '-finished_at', 'status', '-priority', 'kind'])
    for (const q of ['upstream', 'refused', 'kaput', 'exhausted']) {
      const jobsGot = await pages(async (cursor) => {
        const r = await admin.listJobs(db, { q, sort, limit: 25, offset: 0, cursor } as never);
        return { ids: r.data.map((j) => j.id), next: r.next_cursor };
      });
      assert.deepEqual(jobsGot.ids, await jobTruth(q, sort, false), `jobs q=${q} sort=${sort}`);
      if (!['-created_at', 'created_at', '-updated_at', '-finished_at'].includes(sort)) continue;
      const dlqGot = await pages(async (cursor) => {
        const r = await admin.listDeadJobs(db, { q, sort, limit: 25, offset: 0, cursor } as never);
        return { ids: r.data.map((j) => j.id), next: r.next_cursor };
      });
      assert.deepEqual(dlqGot.ids, await jobTruth(q, sort, true), `dlq q=${q} sort=${sort}`);
    }
});

describe('the word check of the walk', () => {
  test('each word starts a word of the text, case and accents aside', () => {
    assert.equal(startsWords(['appl', 'pie'], 'Apple pie'), true);
    assert.equal(startsWords(['apple'], 'pineapple'), false);
    assert.equal(startsWords(['creme'], '(Crème) brûlée'), true);
    assert.equal(startsWords(['crème'], 'CREME'), true);
    assert.equal(startsWords(['snake_case'], 'a snake_case word'), true);
    assert.equal(startsWords(['case'], 'a snake_case word'), false);
    assert.equal(startsWords(['often', 'every'], 'every day'), false);
  });
});
