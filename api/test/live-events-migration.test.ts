import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import { drizzle } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import mysql from 'mysql2/promise';
import { MIGRATIONS_FOLDER, migrateDatabase } from '../src/platform/db/client.ts';

/**
 * Migration 0010 moves the live events out of the outbox (docs/isolation.md): events not yet
 * published move with their ids, and new event ids continue after every id the outbox used, so
 * a user's stream (which drops an event id it has seen) never takes a new event for a repeat.
 */
let ns: TestNamespace | undefined;
let folder: string | undefined;
after(async () => {
  await ns?.cleanup();
  if (folder) await rm(folder, { recursive: true, force: true });
});

test('unpublished events move to live_events with their ids; new ids continue after the outbox', async () => {
  ns = await createTestNamespace('evmig');
  // The migrations before 0010.
  folder = await mkdtemp(join(tmpdir(), 'migrations-'));
  await cp(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalPath = join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { entries: { tag: string }[] };
  const at = journal.entries.findIndex((e) => e.tag.startsWith('0010_'));
  assert.ok(at > 0, 'migration 0010 is in the journal');
  journal.entries = journal.entries.slice(0, at);
  await writeFile(journalPath, JSON.stringify(journal));

  const conn = await mysql.createConnection({ uri: ns.databaseUrl, timezone: 'Z' });
  try {
    await migrate(drizzle(conn), { migrationsFolder: folder });
    const insert = (jobId: string, kind: 'job' | 'event', sent: boolean) =>
      conn.query(
        'INSERT INTO outbox (job_id, payload, priority, created_at, kind, sent_at) VALUES (?, ?, ?, NOW(3), ?, ?)',
        [jobId, JSON.stringify({ jobId }), 'normal', kind, sent ? new Date() : null],
      );
    await insert('job-sent', 'job', true);
    await insert('ev-sent', 'event', true);
    await insert('job-unsent', 'job', false);
    await insert('ev-unsent', 'event', false);
    await insert('last', 'job', false);
    // The last id the outbox used is gone from the table: only its counter remembers it.
    await conn.query("DELETE FROM outbox WHERE job_id = 'last'");

    await migrateDatabase(ns.config());

    const [outboxRows] = await conn.query('SELECT id, job_id AS jobId FROM outbox ORDER BY id');
    assert.deepEqual(
      (outboxRows as { jobId: string }[]).map((r) => r.jobId),
      ['job-sent', 'ev-sent', 'job-unsent'],
      'the unpublished event left the outbox',
    );
    const [moved] = await conn.query('SELECT id, payload FROM live_events ORDER BY id');
    assert.deepEqual(moved, [{ id: 4, payload: JSON.stringify({ jobId: 'ev-unsent' }) }], 'with its id');
    await conn.query("INSERT INTO live_events (payload, created_at) VALUES ('{}', NOW(3))");
    const [[fresh]] = (await conn.query('SELECT MAX(id) AS id FROM live_events')) as unknown as [{ id: number }[]];
    assert.ok(Number(fresh?.id) > 5, `a new event id (${fresh?.id}) is above every id the outbox used (5)`);
  } finally {
    await conn.end();
  }
});
