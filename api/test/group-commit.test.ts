import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import { fenceInsert, isDuplicateKey } from '../src/modules/idempotency/fences-repository.ts';
import { createDatabase, type Database, migrateDatabase } from '../src/platform/db/client.ts';
import { GroupCommitter } from '../src/platform/db/group-commit.ts';
import { notes } from '../src/platform/db/schema.ts';
import { rowInsert } from '../src/platform/db/sql-writer.ts';

/**
 * Group commit and the write path's transactions (platform/db/group-commit.ts, platform/db/sql-writer.ts) on the
 * real MariaDB: writes share transactions, yet each write gets its own outcome and a duplicate
 * fence never commits.
 */

let ns: TestNamespace;
let database: Database;
const userId = randomUUID();

before(async () => {
  ns = await createTestNamespace('gcommit');
  const config = ns.config();
  await migrateDatabase(config);
  database = createDatabase(config);
});
after(async () => {
  await database?.close();
  await ns?.cleanup();
});

/** A write as a create makes it: the fence (key = the title), then the note. */
function write(title: string) {
  const now = new Date();
  return [
    fenceInsert({
      userId,
      keyHash: title,
      fingerprint: 'f',
      now,
      expiresAt: new Date(now.getTime() + 60_000),
      response: { status: 201, body: '{}', location: null },
    }),
    rowInsert(notes, { id: randomUUID(), userId, title, body: '', createdAt: now, updatedAt: now }),
  ];
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const [rows] = await database.pool.query(sql, values);
  return Number((rows as { n: number }[])[0]?.n);
}
const notesTitled = (prefix: string) => count('SELECT COUNT(*) AS n FROM notes WHERE title LIKE ?', [`${prefix}%`]);

/** Submits every write in one tick (so they queue together) and reports each outcome. */
async function submitAll(committer: GroupCommitter, titles: string[]) {
  const results = await Promise.allSettled(titles.map((t) => committer.submit(write(t), t)));
  return results.map((r, i) => ({
    title: titles[i]!,
    ok: r.status === 'fulfilled',
    err: (r as { reason?: unknown }).reason,
  }));
}

describe('group commit', () => {
  test('concurrent writes share transactions and every row lands', async () => {
    const committer = new GroupCommitter(database.writer, { maxWrites: 16, maxBytes: 1 << 20, maxInFlight: 1 });
    const titles = Array.from({ length: 40 }, (_, i) => `share-${i}`);
    const results = await submitAll(committer, titles);
    assert.ok(results.every((r) => r.ok));
    assert.equal(await notesTitled('share-'), 40);
    // 40 writes queued together, 16 to a batch.
    assert.equal(committer.stats.writes, 40);
    assert.equal(committer.stats.batches, 3);
  });

  test('a batch stops at its byte budget, and a write over the budget still goes, alone', async () => {
    const committer = new GroupCommitter(database.writer, { maxWrites: 64, maxBytes: 1, maxInFlight: 1 });
    const results = await submitAll(
      committer,
      Array.from({ length: 5 }, (_, i) => `bytes-${i}`),
    );
    assert.ok(results.every((r) => r.ok));
    assert.equal(committer.stats.batches, 5);
    assert.equal(await notesTitled('bytes-'), 5);
  });

  test("one write's duplicate fence fails that write alone; the batch's others commit", async () => {
    const committer = new GroupCommitter(database.writer, { maxWrites: 64, maxBytes: 1 << 20, maxInFlight: 1 });
    await committer.submit(write('dup-taken'), 'dup-taken');
    const titles = ['dup-a', 'dup-b', 'dup-taken', 'dup-c', 'dup-d'];
    const results = await submitAll(committer, titles);
    for (const r of results) {
      if (r.title === 'dup-taken') assert.ok(!r.ok && isDuplicateKey(r.err), String(r.err));
      else assert.ok(r.ok, `${r.title}: ${r.err}`);
    }
    assert.equal(committer.stats.split, 1);
    assert.equal(await notesTitled('dup-'), 5, 'four new notes and the first dup-taken, no second one');
  });

  test('two writes with one key never share a batch: the first commits, the second meets its fence', async () => {
    const committer = new GroupCommitter(database.writer, { maxWrites: 64, maxBytes: 1 << 20, maxInFlight: 1 });
    const results = await submitAll(committer, ['same-key', 'same-key', 'same-other']);
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, false, true],
    );
    assert.ok(isDuplicateKey(results[1]!.err));
    assert.equal(committer.stats.split, 0, 'the repeat went in the next batch instead of failing this one');
    assert.equal(await notesTitled('same-'), 2);
  });

  test('a statement that fails (a trigger) fails its own write only, with its own error', async () => {
    await database.pool.query('DROP TRIGGER IF EXISTS gc_boom');
    await database.pool.query(
      `CREATE TRIGGER gc_boom BEFORE INSERT ON notes FOR EACH ROW
         BEGIN IF NEW.title = 'trig-boom' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END IF; END`,
    );
    try {
      const committer = new GroupCommitter(database.writer, { maxWrites: 64, maxBytes: 1 << 20, maxInFlight: 1 });
      const results = await submitAll(committer, ['trig-1', 'trig-boom', 'trig-2']);
      assert.deepEqual(
        results.map((r) => r.ok),
        [true, false, true],
      );
      assert.match(String((results[1]!.err as Error).message), /boom/);
      assert.equal(await notesTitled('trig-'), 2);
      // Its fence rolled back with it: the key is free.
      assert.equal(await count('SELECT COUNT(*) AS n FROM idempotency_fences WHERE key_hash = ?', ['trig-boom']), 0);
    } finally {
      await database.pool.query('DROP TRIGGER IF EXISTS gc_boom');
    }
  });

  test('a batch waits for a transaction holding one of its keys, and commits whole if that one rolls back', async () => {
    const holder = await database.pool.getConnection();
    try {
      await holder.query('START TRANSACTION');
      const [held] = write('wait-held');
      await holder.query(
        `INSERT INTO idempotency_fences (${held!.columns.join(',')}) VALUES (${held!.columns.map(() => '?').join(',')})`,
        [...held!.values],
      );
      const committer = new GroupCommitter(database.writer, { maxWrites: 64, maxBytes: 1 << 20, maxInFlight: 1 });
      const pending = submitAll(committer, ['wait-a', 'wait-held', 'wait-b']);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await notesTitled('wait-'), 0, 'nothing committed while the key is held');
      await holder.query('ROLLBACK');
      const results = await pending;
      assert.ok(results.every((r) => r.ok));
      assert.equal(committer.stats.split, 0);
      assert.equal(await notesTitled('wait-'), 3);
    } finally {
      holder.release();
    }
  });
});

describe('write transactions', () => {
  test('statements wait for the read or the commit, and a throw rolls back all of them', async () => {
    await assert.rejects(
      database.writer.transaction(async (tx) => {
        tx.insert(...write('tx-undone'));
        const rows = await tx.query<{ n: number }>({
          sql: 'SELECT COUNT(*) AS n FROM notes WHERE title = ?',
          values: ['tx-undone'],
        });
        assert.equal(Number(rows[0]?.n), 1, 'the queued insert went before the read, in its transaction');
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal(await notesTitled('tx-undone'), 0);
    assert.equal(await count('SELECT COUNT(*) AS n FROM idempotency_fences WHERE key_hash = ?', ['tx-undone']), 0);

    await database.writer.transaction(async (tx) => {
      tx.insert(...write('tx-done'));
    });
    assert.equal(await notesTitled('tx-done'), 1);
  });

  test('a failed statement rolls back the statements sent with it', async () => {
    await database.writer.run([
      {
        sql: 'INSERT INTO notes (id, user_id, title, body, created_at, updated_at) VALUES (?, ?, ?, ?, NOW(3), NOW(3))',
        values: [randomUUID(), userId, 'tx-before', ''],
      },
    ]);
    await assert.rejects(
      database.writer.transaction(async (tx) => {
        tx.insert(...write('tx-half'));
        tx.defer({ sql: 'INSERT INTO no_such_table VALUES (?)', values: [1] });
      }),
      (err: { code?: string }) => err.code === 'ER_NO_SUCH_TABLE',
    );
    assert.equal(await notesTitled('tx-half'), 0);
    assert.equal(await notesTitled('tx-before'), 1);
  });
});
