import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DLQ_SORTS, JOB_SORTS } from '@notes/contracts/admin-api';
import { USER_SORT_FIELDS } from '@notes/contracts/auth-api';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import { drizzle } from 'drizzle-orm/mysql2';
import * as admin from '../src/modules/admin/admin-repository.ts';
import { countsByStatus, rebuildJobErrors, recountStatuses } from '../src/modules/admin/status-counts-repository.ts';
import { listUsers } from '../src/modules/auth/users-repository.ts';
import { SMALL_SORT } from '../src/modules/notes/list-orders.ts';
import { listNotes } from '../src/modules/notes/notes-repository.ts';
import { SORT_FIELDS } from '../src/modules/notes/schemas.ts';
import { createDatabase, type Database, type Db, migrateDatabase } from '../src/platform/db/client.ts';
import * as schema from '../src/platform/db/schema.ts';
import { pruneJobsBatch } from '../src/workers/retention-repository.ts';

/**
 * Every list query the API runs, EXPLAINed (docs/data.md, "Indexes"). The real repository
 * functions run against a seeded database through a drizzle instance that records each
 * statement; each recorded SELECT is then EXPLAINed with its parameters. A plan fails on a
 * full scan that filters rows, or a filesort, except where docs/data.md says why it is bounded
 * (and a filesort of at most SMALL_SORT rows that the list counted first).
 */

let ns: TestNamespace;
let database: Database;
let recorded: { sql: string; params: unknown[] }[] = [];
let db: Db;
const HEAVY = '00000000-0000-7000-a000-00000000000a';
const NOTE = '00000000-0000-7000-8000-000000000005';

before(async () => {
  ns = await createTestNamespace('plans');
  const config = ns.config();
  await migrateDatabase(config);
  database = createDatabase(config);
  db = drizzle(database.pool, {
    schema,
    mode: 'default',
    logger: { logQuery: (sql, params) => recorded.push({ sql, params }) },
  });
  // Enough rows that the optimizer's estimates mean something; a tenth of them one user's.
  const q = (sql: string) => database.pool.query(sql);
  await q(`INSERT INTO users (id, email, name, password_hash, role, disabled, created_at, updated_at)
    SELECT CONCAT('00000000-0000-7000-a000-', LPAD(HEX(seq), 12, '0')), CONCAT('u', seq, '@example.test'),
           CONCAT('User ', seq), 'x', IF(seq % 50 = 0, 'admin', 'user'), seq % 20 = 0,
           NOW(3) - INTERVAL seq MINUTE, NOW(3) FROM seq_1_to_400`);
  await q(`INSERT INTO notes (id, user_id, title, body, priority, status, created_at, updated_at)
    SELECT CONCAT('00000000-0000-7000-8000-', LPAD(HEX(seq), 12, '0')),
           IF(seq % 10 = 0, '${HEAVY}', CONCAT('00000000-0000-7000-a000-', LPAD(HEX(1 + seq % 400), 12, '0'))),
           CONCAT('title ', seq), CONCAT('body words ', IF(seq % 50 = 7, 'zephyr', 'plain'), IF(seq % 1000 = 500, ' quokka', '')),
           ELT(1 + seq % 5, 'low', 'normal', 'high', 'critical', 'max'),
           ELT(1 + seq % 5, 'queued', 'processing', 'processed', 'failed', 'dead'),
           NOW(3) - INTERVAL seq SECOND, NOW(3) - INTERVAL seq SECOND FROM seq_1_to_6000`);
  await q(`INSERT INTO jobs (id, note_id, user_id, kind, priority, status, note_version, last_error, dead_reason,
                             created_at, updated_at, finished_at)
    SELECT CONCAT('00000000-0000-7000-9000-', LPAD(HEX(seq), 12, '0')),
           CONCAT('00000000-0000-7000-8000-', LPAD(HEX(1 + seq % 6000), 12, '0')), '${HEAVY}',
           IF(seq % 10 = 0, 'webhook.deliver', 'note.process'), ELT(1 + seq % 5, 'low', 'normal', 'high', 'critical', 'max'),
           ELT(1 + seq % 7, 'queued', 'processing', 'processed', 'failed', 'dead', 'discarded', 'skipped'), 1,
           IF(seq % 7 IN (3, 4, 6), 'upstream timeout', NULL), IF(seq % 7 IN (4, 5), 'upstream timeout', NULL),
           NOW(3) - INTERVAL seq SECOND, NOW(3), IF(seq % 7 IN (2, 4), NOW(3) - INTERVAL seq SECOND, NULL)
    FROM seq_1_to_40000`);
  await q(`INSERT INTO audit_log (actor_id, action, target, count, created_at)
    SELECT '${HEAVY}', ELT(1 + seq % 3, 'dlq.promote', 'dlq.discard', 'user.update'), CONCAT('t', seq % 100), 1,
           NOW(3) - INTERVAL seq SECOND FROM seq_1_to_3000`);
  // Rows loaded by hand are counted by a recount, and their error texts copied to job_errors by a
  // rebuild (docs/operations.md).
  await recountStatuses(database.writer);
  await rebuildJobErrors(database.writer);
  await q('ANALYZE TABLE users, notes, jobs, job_errors, audit_log');
});

after(async () => {
  await database?.close();
  await ns?.cleanup();
});

interface PlanRow {
  table: string | null;
  type: string | null;
  key: string | null;
  Extra: string | null;
}

/** Why a plan that would otherwise fail is bounded (each one is in docs/data.md). */
const BOUNDED: { why: string; when: (row: PlanRow, sql: string) => boolean }[] = [
  // FULLTEXT finds the matching rows, which are then sorted: the cost follows the matches. Not
  // on jobs: a job search matches `job_errors`, the jobs with error text (searchesOnlyJobErrors).
  { why: 'search results are sorted', when: (r) => r.type === 'fulltext' && r.table !== 'jobs' },
  // A job search's page: its jobs read by primary key, at most a page of them, put in order.
  { why: "a search page's jobs by id", when: (r) => r.table === 'jobs' && r.key === 'PRIMARY' && r.type === 'range' },
  { why: "one note's jobs are sorted", when: (r) => r.key === 'jobs_note_idx' },
  // GROUP BY minute over the covering (finished_at, status) range of the last 15 minutes.
  { why: 'throughput window', when: (r) => r.key === 'jobs_finished_idx' && r.type === 'range' },
  // The console's user search (a substring of name or email) and its disabled filter scan the
  // users table: users are few next to notes and jobs.
  { why: 'user filters', when: (r, sql) => r.table === 'users' && r.type === 'ALL' && /like|disabled/i.test(sql) },
];

/**
 * A filesort the code chose after counting at most SMALL_SORT matches (list-orders.ts,
 * accessIndex): count what this statement sorts (its rows without ORDER BY and LIMIT).
 */
async function sortsFewRows(sql: string, params: unknown[]): Promise<boolean> {
  const m = /^select .*? from (.*) order by .* limit \?( offset \?)?$/is.exec(sql);
  if (!m) return false;
  const bound = params.slice(0, params.length - (m[2] ? 2 : 1));
  const [rows] = await database.pool.query(`SELECT COUNT(*) AS n FROM ${m[1]}`, bound);
  return Number((rows as { n: number }[])[0]?.n) <= SMALL_SORT;
}

/**
 * A job search reads `job_errors` (docs/data.md, "Search"): the big jobs table only by primary
 * key for the page's rows (a list of ids), never through one of its list indexes, a scan, or a
 * join from each match (eq_ref: one random read of jobs per matching job).
 */
function searchesOnlyJobErrors(label: string, row: PlanRow, sql: string) {
  if (row.table !== 'jobs' || !/match/i.test(sql)) return;
  assert.ok(
    row.key === 'PRIMARY' && ['const', 'range'].includes(row.type ?? ''),
    `${label}: a job search reads jobs (key ${row.key ?? 'none'}, type ${row.type}), not job_errors\n${sql}`,
  );
}

async function explainRecorded(label: string): Promise<void> {
  const statements = recorded.filter((r) => /^\s*select/i.test(r.sql));
  recorded = [];
  assert.ok(statements.length > 0, `${label}: no query ran`);
  for (const { sql, params } of statements) {
    const [rows] = await database.pool.query(`EXPLAIN ${sql}`, params);
    for (const row of rows as PlanRow[]) {
      searchesOnlyJobErrors(label, row, sql);
      const extra = row.Extra ?? '';
      const problem =
        row.type === 'ALL' && extra.includes('Using where')
          ? 'a full scan that filters rows'
          : extra.includes('Using filesort')
            ? 'a filesort'
            : null;
      if (!problem || BOUNDED.some((b) => b.when(row, sql))) continue;
      if (problem === 'a filesort' && (await sortsFewRows(sql, params))) continue;
      assert.fail(`${label}: ${problem} on ${row.table} (key ${row.key ?? 'none'}, ${extra})\n${sql}`);
    }
  }
}

/** Runs a list, EXPLAINs it, then its next page through the cursor, and EXPLAINs that. */
async function checkList(
  label: string,
  list: (cursor?: string) => Promise<{ next_cursor?: string | null; nextCursor?: string | null }>,
) {
  recorded = [];
  const first = await list();
  await explainRecorded(label);
  const cursor = first.next_cursor ?? first.nextCursor;
  if (cursor) {
    await list(cursor);
    await explainRecorded(`${label} (next page)`);
  }
}

const bothWays = (fields: readonly string[]) => fields.flatMap((f) => [f, `-${f}`]);

describe('every list query uses an index for its filter and its order', () => {
  test('a user’s notes: each sort with each filter, and search', async () => {
    const filters = [
      {},
      { status: 'dead' },
      { priority: 'high' },
      { status: 'failed', priority: 'low' },
      { q: 'zephyr' },
      // Search walks the order's index (a word in every note), else the FULLTEXT index.
      { q: 'words' },
      { q: 'quokka' },
      { q: 'words', status: 'dead' },
    ];
    for (const sort of bothWays(SORT_FIELDS))
      for (const f of filters) {
        const query = { limit: 5, offset: 0, sort, ...f } as Parameters<typeof listNotes>[2];
        await checkList(`notes ${JSON.stringify(query)}`, (cursor) => listNotes(db, HEAVY, { ...query, cursor }));
      }
  });

  test('the console’s notes', async () => {
    const filters = [
      {},
      { status: 'dead' },
      { priority: 'max' },
      { user: HEAVY },
      { user: 'u7@example.test' },
      { q: 'zephyr' },
      { q: 'words' },
      { q: 'quokka' },
      { q: 'words', user: 'u10@example.test' },
    ];
    for (const sort of bothWays(SORT_FIELDS))
      for (const f of filters) {
        const query = { limit: 5, offset: 0, sort, ...f } as Parameters<typeof admin.listNotes>[1];
        await checkList(`admin notes ${JSON.stringify(query)}`, (cursor) => admin.listNotes(db, { ...query, cursor }));
      }
  });

  test('the console’s jobs and DLQ', async () => {
    const filters = [
      {},
      { status: 'failed' },
      { kind: 'webhook.deliver' },
      { priority: 'high' },
      { note_id: NOTE },
      // Search across every status (error text on failed, dead, discarded and skipped jobs),
      // with each filter, and a word no job has.
      { q: 'timeout' },
      { q: 'timeout', status: 'failed' },
      { q: 'timeout', kind: 'webhook.deliver' },
      { q: 'timeout', priority: 'high' },
      { q: 'timeout', note_id: NOTE },
      { q: 'nowhere' },
    ];
    for (const sort of bothWays(JOB_SORTS))
      for (const f of filters) {
        const query = { limit: 5, offset: 0, sort, ...f } as Parameters<typeof admin.listJobs>[1];
        await checkList(`jobs ${JSON.stringify(query)}`, (cursor) => admin.listJobs(db, { ...query, cursor }));
      }
    for (const sort of bothWays(DLQ_SORTS))
      for (const f of [{}, { kind: 'note.process' }, { q: 'upstream' }]) {
        const query = { limit: 5, offset: 0, sort, ...f } as Parameters<typeof admin.listDeadJobs>[1];
        await checkList(`dlq ${JSON.stringify(query)}`, (cursor) => admin.listDeadJobs(db, { ...query, cursor }));
      }
    recorded = [];
    await admin.jobsOfNote(db, NOTE);
    await admin.deadJobIds(db, { kind: 'note.process' });
    await admin.deadJobIds(db, { q: 'upstream' });
    await explainRecorded('job history and DLQ selection');
  });

  test('the console’s users and audit log', async () => {
    for (const sort of bothWays(USER_SORT_FIELDS))
      for (const f of [{}, { role: 'admin' as const }, { disabled: true }, { q: 'User 1' }]) {
        const query = { limit: 5, offset: 0, sort, ...f } as Parameters<typeof listUsers>[1];
        await checkList(`users ${JSON.stringify(query)}`, (cursor) => listUsers(db, { ...query, cursor }));
      }
    for (const sort of bothWays(['created_at', 'action']))
      for (const f of [{}, { action: 'dlq.promote' }, { actor_id: HEAVY }, { target: 't7' }]) {
        const query = { limit: 5, offset: 0, sort, ...f } as Parameters<typeof admin.listAudit>[1];
        await checkList(`audit ${JSON.stringify(query)}`, (cursor) => admin.listAudit(db, { ...query, cursor }));
      }
  });

  test('the dashboard’s stats read counters and one covering range', async () => {
    recorded = [];
    await countsByStatus(db, 'notes');
    await countsByStatus(db, 'jobs');
    await admin.finishedPerMinute(db, new Date(Date.now() - 15 * 60_000));
    await explainRecorded('stats');
  });
});

test('retention reads its batches of expired jobs along an index', async () => {
  const conn = await database.pool.getConnection();
  try {
    // The real pruning functions, on a connection that records what they send.
    const recording = new Proxy(conn, {
      get(target, prop) {
        if (prop !== 'query') return Reflect.get(target, prop);
        return (sql: string, params: unknown[]) => {
          recorded.push({ sql, params });
          return target.query(sql, params);
        };
      },
    });
    recorded = [];
    const cutoff = new Date(Date.now() - 30 * 60_000);
    await pruneJobsBatch(recording, database.writer, 'processed', cutoff, 100);
    await pruneJobsBatch(recording, database.writer, 'dead', cutoff, 100, new Date(cutoff.getTime() - 3_600_000));
    await explainRecorded('retention');
  } finally {
    conn.release();
  }
});

async function assertCountersMatchRows(label: string): Promise<void> {
  for (const table of ['notes', 'jobs'] as const) {
    const [rows] = await database.pool.query(`SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status`);
    const counted = Object.fromEntries((rows as { status: string; n: number }[]).map((r) => [r.status, Number(r.n)]));
    const kept = Object.fromEntries(Object.entries(await countsByStatus(db, table)).filter(([, n]) => n !== 0));
    assert.deepEqual(kept, counted, `${label}: ${table}`);
  }
}

test('the status counters equal a COUNT of the rows after retention, and after a recount of hand-run SQL', async () => {
  // The seed was recounted; retention's deletes (the test above) went through the writer.
  await assertCountersMatchRows('after retention');
  const q = (sql: string) => database.pool.query(sql);
  await q(`UPDATE notes SET status = 'processed' WHERE status = 'queued' AND id LIKE '%0'`);
  await q(`DELETE FROM jobs WHERE status = 'discarded' AND id LIKE '%1'`);
  await q(`UPDATE jobs SET status = 'dead' WHERE status = 'failed' AND id LIKE '%2'`);
  await recountStatuses(database.writer);
  await assertCountersMatchRows('after hand-run SQL and a recount');
});

test('job_errors holds exactly the jobs with error text after a rebuild of hand-run inserts, changes and deletes', async () => {
  const q = (sql: string) => database.pool.query(sql);
  const columns = 'note_id, kind, priority, status, last_error, dead_reason, created_at, updated_at, finished_at';
  const rows = async (sql: string) => JSON.stringify((await database.pool.query(sql))[0]);
  const mirrored = () => rows(`SELECT job_id, ${columns} FROM job_errors ORDER BY job_id`);
  const withText = () =>
    rows(
      `SELECT id AS job_id, ${columns} FROM jobs WHERE last_error IS NOT NULL OR dead_reason IS NOT NULL ORDER BY id`,
    );
  // An error set, changed, cleared; a status change of a job with an error; deletes; by hand,
  // around the writer (which keeps job_errors itself: job-errors.test.ts).
  await q(`UPDATE jobs SET last_error = 'refused', updated_at = NOW(3) WHERE status = 'processed' AND id LIKE '%3'`);
  await q(`UPDATE jobs SET last_error = 'refused again' WHERE status = 'failed' AND id LIKE '%4'`);
  await q(`UPDATE jobs SET status = 'processed', last_error = NULL WHERE status = 'failed' AND id LIKE '%5'`);
  await q(
    `UPDATE jobs SET status = 'queued', dead_reason = NULL, finished_at = NULL WHERE status = 'dead' AND id LIKE '%6'`,
  );
  await q(`DELETE FROM jobs WHERE status = 'dead' AND id LIKE '%7'`);
  await q(`INSERT INTO jobs (id, note_id, user_id, kind, priority, status, note_version, last_error, created_at, updated_at)
    VALUES ('00000000-0000-7000-9000-ffffffffffff', '${NOTE}', '${HEAVY}', 'note.process', 'low', 'failed', 1, 'new', NOW(3), NOW(3))`);
  await rebuildJobErrors(database.writer);
  assert.equal(await mirrored(), await withText());
});
