import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import { inArray } from 'drizzle-orm';
import type { MySqlTable } from 'drizzle-orm/mysql-core';
import pino from 'pino';
import { uuidv7 } from 'uuidv7';
import { countsByStatus } from '../src/modules/admin/status-counts-repository.ts';
import { createDatabase, type Database, migrateDatabase } from '../src/platform/db/client.ts';
import { deadLetters, type JobStatus, jobAttempts, jobs } from '../src/platform/db/schema.ts';
import { rowInsert } from '../src/platform/db/sql-writer.ts';
import { type MaintenanceDeps, RETENTION_BATCH, runMaintenanceOnce } from '../src/workers/maintenance.ts';

/**
 * Job retention (docs/jobs.md): finished jobs and their attempts go after JOB_RETENTION_HOURS,
 * dead jobs (with their dead letters) after DEAD_RETENTION_DAYS; queued, failed and recent jobs stay.
 */
let ns: TestNamespace;
let database: Database;
let deps: MaintenanceDeps;
const HOUR = 3_600_000;
const now = new Date('2030-06-01T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

before(async () => {
  ns = await createTestNamespace('retention');
  const config = ns.config({ JOB_RETENTION_HOURS: '24', DEAD_RETENTION_DAYS: '3' });
  await migrateDatabase(config);
  database = createDatabase(config);
  deps = { config, database, logger: pino({ level: 'silent' }) };
});
after(async () => {
  await database?.close();
  await ns?.cleanup();
});

/** Rows through the writer, which counts them (docs/data.md, "Stats"). */
function insertRows<T extends MySqlTable>(table: T, ...rows: T['$inferInsert'][]): Promise<void> {
  return database.writer.insert(rows.map((row) => rowInsert(table, row)));
}

async function job(status: JobStatus, finishedAgo: number | null, attempts = 1): Promise<string> {
  const id = uuidv7();
  const finished = finishedAgo === null ? null : ago(finishedAgo);
  await insertRows(jobs, {
    id,
    noteId: uuidv7(),
    userId: 'u1',
    kind: 'note.process',
    priority: 'normal',
    status,
    noteVersion: 1,
    attempts,
    createdAt: ago((finishedAgo ?? 0) + HOUR),
    updatedAt: finished ?? now,
    finishedAt: finished,
  });
  for (let n = 1; n <= attempts; n++) {
    await insertRows(jobAttempts, {
      jobId: id,
      number: n,
      finishedAt: finished ?? now,
      outcome: n < attempts ? 'failed' : 'processed',
    });
  }
  return id;
}

test('finished jobs and their attempts go after JOB_RETENTION_HOURS, dead ones after DEAD_RETENTION_DAYS', async () => {
  const oldProcessed = await job('processed', 25 * HOUR, 2);
  const oldSkipped = await job('skipped', 30 * HOUR);
  const oldDiscarded = await job('discarded', 48 * HOUR);
  const recentProcessed = await job('processed', 23 * HOUR);
  const oldFailed = await job('failed', null); // waiting for a retry: never pruned
  const oldQueued = await job('queued', null);
  const deadRecent = await job('dead', 2 * 24 * HOUR);
  const deadOld = await job('dead', 4 * 24 * HOUR);
  // A batch and a half of old finished jobs: pruning goes on past one batch.
  const many: string[] = [];
  for (let i = 0; i < RETENTION_BATCH * 1.5; i += 250) {
    const rows = Array.from({ length: 250 }, () => {
      const id = uuidv7();
      many.push(id);
      return {
        id,
        noteId: uuidv7(),
        userId: 'u1',
        kind: 'note.process' as const,
        priority: 'normal' as const,
        status: 'processed' as const,
        noteVersion: 1,
        createdAt: ago(100 * HOUR),
        updatedAt: ago(99 * HOUR),
        finishedAt: ago(99 * HOUR),
      };
    });
    await insertRows(jobs, ...rows);
  }
  const letter = (jobId: string | null, deadAgo: number) => ({
    id: uuidv7(),
    jobId,
    kind: 'note.process',
    priority: 'normal' as const,
    groupId: 'g',
    errorClass: 'Error',
    message: 'boom',
    reason: 'max_attempts: Error: boom',
    body: '',
    headers: {},
    deadAt: ago(deadAgo),
  });
  await insertRows(
    deadLetters,
    letter(deadRecent, 2 * 24 * HOUR),
    letter(deadOld, 4 * 24 * HOUR),
    letter(null, 5 * 24 * HOUR),
  );

  const result = await runMaintenanceOnce(deps, now);
  assert.equal(result.finishedJobs, 3 + many.length);
  assert.equal(result.deadJobs, 1);
  assert.equal(result.deadLetters, 1, 'the malformed letter with no job');

  const left = await database.db.select({ id: jobs.id }).from(jobs);
  assert.deepEqual(new Set(left.map((r) => r.id)), new Set([recentProcessed, oldFailed, oldQueued, deadRecent]));
  const attemptsLeft = await database.db
    .select({ jobId: jobAttempts.jobId })
    .from(jobAttempts)
    .where(inArray(jobAttempts.jobId, [oldProcessed, oldSkipped, oldDiscarded, deadOld]));
  assert.deepEqual(attemptsLeft, [], 'attempts go with their jobs');
  const lettersLeft = await database.db.select({ jobId: deadLetters.jobId }).from(deadLetters);
  assert.deepEqual(
    lettersLeft.map((l) => l.jobId),
    [deadRecent],
  );
  assert.equal((await runMaintenanceOnce(deps, now)).finishedJobs, 0, 'a second pass finds nothing');

  // The counters still equal the rows, with no trigger behind them (migration 0008): the writer
  // counted the deletes in the retention's own shard, never in a shard a writer's connection
  // uses (api/drizzle/0006_retention_counter_shard.sql).
  const [counted] = await database.pool.query('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status');
  const byCounter = Object.entries(await countsByStatus(database.db, 'jobs')).filter(([, n]) => n !== 0);
  assert.deepEqual(
    Object.fromEntries(byCounter),
    Object.fromEntries((counted as { status: string; n: number }[]).map((r) => [r.status, Number(r.n)])),
  );
  const [shard] = await database.pool.query(
    "SELECT status, n FROM status_counts WHERE tbl = 'jobs' AND shard = 64 AND n <> 0 ORDER BY status",
  );
  assert.deepEqual(
    (shard as { status: string; n: number }[]).map((r) => [r.status, Number(r.n)]),
    [
      ['dead', -1],
      ['discarded', -1],
      ['processed', -(1 + many.length)],
      ['skipped', -1],
    ],
  );
});
