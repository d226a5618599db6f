import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrateDatabase } from '@notes/api/platform/db/client.ts';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import mysql from 'mysql2/promise';
import { parseDataArgs } from '../bench-data.ts';
import { RARE_WORD, seed } from '../lib/data-seed.ts';

/**
 * The data benchmark's bulk load (docs/data.md, "The data benchmark"): the tables come back
 * exactly as migrated (indexes, FULLTEXT indexes, triggers), the status counters and job_errors
 * follow the rows, and the seeded shape holds (the heavy user's share, the rare word in the heavy user's notes).
 */

let ns: TestNamespace;
let db: mysql.Connection;
const HEAVY = '00000000-0000-7000-a000-00000000ffff';

const definition = async (table: string) => {
  const [rows] = await db.query(`SHOW CREATE TABLE ${table}`);
  return String((rows as Record<string, string>[])[0]?.['Create Table']);
};
const triggers = async () => {
  const [rows] = await db.query(
    'SELECT TRIGGER_NAME AS t FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()',
  );
  return (rows as { t: string }[]).map((r) => r.t).sort();
};

before(async () => {
  ns = await createTestNamespace('dataseed');
  await migrateDatabase(ns.config());
  db = await mysql.createConnection({ uri: ns.databaseUrl });
});
after(async () => {
  await db?.end();
  await ns?.cleanup();
});

describe('bench:data seeding', () => {
  it('bulk-loads through the migrated schema and leaves it as it was, counters right', async () => {
    const before = { notes: await definition('notes'), jobs: await definition('jobs'), triggers: await triggers() };
    await db.query(
      "INSERT INTO users (id, email, name, password_hash, role, disabled, created_at, updated_at) VALUES (?, 'h@example.test', 'h', 'x', 'user', 0, NOW(3), NOW(3))",
      [HEAVY],
    );
    const steps: string[] = [];
    await seed(
      db,
      { notes: 5000, jobs: 10000, heavyUserId: HEAVY, heavyEvery: 25, otherUsers: 20, batch: 1500 },
      () => {},
      (line) => steps.push(line),
    );
    // The same definitions, index for index (their order in SHOW CREATE TABLE may differ).
    const lines = (d: string) =>
      d
        .split('\n')
        .map((l) => l.replace(/,$/, ''))
        .sort();
    assert.deepEqual(lines(await definition('notes')), lines(before.notes));
    assert.deepEqual(lines(await definition('jobs')), lines(before.jobs));
    assert.deepEqual(await triggers(), before.triggers);
    assert.ok(steps.some((s) => s.includes('notes_search_ft')));
    for (const table of ['notes', 'jobs']) {
      const [counted] = await db.query(`SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status`);
      const [kept] = await db.query('SELECT status, SUM(n) AS n FROM status_counts WHERE tbl = ? GROUP BY status', [
        table,
      ]);
      const asMap = (rows: unknown) =>
        Object.fromEntries(
          (rows as { status: string; n: number }[]).filter((r) => Number(r.n) > 0).map((r) => [r.status, Number(r.n)]),
        );
      assert.deepEqual(asMap(kept), asMap(counted), table);
    }
    // job_errors (docs/data.md, "Search") holds exactly the seeded jobs that carry error text.
    const [[errors]] = (await db.query(
      'SELECT (SELECT COUNT(*) FROM job_errors) AS kept, (SELECT COUNT(*) FROM jobs WHERE last_error IS NOT NULL OR dead_reason IS NOT NULL) AS n',
    )) as unknown as [{ kept: number; n: number }[]];
    assert.ok(Number(errors?.n) > 0);
    assert.equal(Number(errors?.kept), Number(errors?.n), 'job_errors');
    const [[heavy]] = (await db.query(
      `SELECT COUNT(*) AS n, SUM(MATCH (title, body) AGAINST (? IN BOOLEAN MODE) > 0) AS rare FROM notes WHERE user_id = ?`,
      [`+${RARE_WORD}`, HEAVY],
    )) as unknown as [{ n: number; rare: number }[]];
    assert.equal(Number(heavy?.n), 200);
    assert.equal(Number(heavy?.rare), 4, 'the rare word is in 1 of 50 of the heavy user’s notes');
  });

  it('flags: --heavy, --keep and --reuse', () => {
    assert.deepEqual(
      { ...parseDataArgs(['--notes', '1000']) },
      { notes: 1000, heavy: 200, keep: null, reuse: null, jobs: 2000, runs: 3, batch: 100_000, json: false },
    );
    assert.equal(parseDataArgs([])?.heavy, 200_000);
    assert.equal(parseDataArgs(['--keep', 'np_data_5m'])?.keep, 'np_data_5m');
    assert.throws(() => parseDataArgs(['--keep', 'x', '--reuse', 'x']), /do not go together/);
    assert.throws(() => parseDataArgs(['--reuse', 'Bad-Name']), /database name/);
    assert.throws(() => parseDataArgs(['--notes', '100', '--heavy', '60']), /at most half/);
  });
});
