import type { PoolConnection } from 'mysql2/promise';
import { deadLetters, idempotencyFences, jobAttempts, jobs, outbox, processedMessages } from '../platform/db/schema.ts';
import { below, namesOf, rowDelete, type SqlWriter, type Statement } from '../platform/db/sql-writer.ts';

/**
 * SQL of housekeeping and job retention (docs/jobs.md, "Retention"). Reads run on the
 * maintenance connection; every delete is a short READ COMMITTED transaction of the writer
 * (no gap locks) touching one batch of rows, so a write never waits on it for long.
 */

export const FINISHED_STATUSES = ['processed', 'skipped', 'discarded'] as const;

/**
 * The shard of the status counters the retention's deletes count in (migration 0006): no writer
 * uses it (theirs are CONNECTION_ID() % 64), so a batch's counter row is never a row a write
 * waits for.
 */
const RETENTION_COUNTER_SHARD = 64;

/** One batch of a table's expired rows, deleted; answers how many. */
function deleteBatch(writer: SqlWriter, statement: Statement): Promise<number> {
  return writer.transaction((tx) => tx.execute(statement), 'READ COMMITTED');
}

/** Sent outbox rows older than `cutoff` (an unsent row's sent_at is NULL, never below), up to `limit`. */
export const pruneOutbox = (writer: SqlWriter, cutoff: Date, limit: number) =>
  deleteBatch(writer, rowDelete(outbox, { sentAt: below(cutoff) }, { limit }));

/** Idempotency fences past their expiry, up to `limit`. */
export const pruneFences = (writer: SqlWriter, now: Date, limit: number) =>
  deleteBatch(writer, rowDelete(idempotencyFences, { expiresAt: below(now) }, { limit }));

/** Processed-message keys older than `cutoff`, up to `limit`. */
export const pruneProcessedMessages = (writer: SqlWriter, cutoff: Date, limit: number) =>
  deleteBatch(writer, rowDelete(processedMessages, { createdAt: below(cutoff) }, { limit }));

/**
 * The next `limit` jobs in `status` finished before `cutoff`, from `after` on (a keyset cursor:
 * each batch starts where the previous one ended instead of stepping again over the index entries
 * its deletes left for purge). Read along jobs_status_finished_idx (status, finished_at).
 */
async function expiredJobs(conn: PoolConnection, status: string, cutoff: Date, after: Date | null, limit: number) {
  const [rows] = await conn.query(
    'SELECT `id`, `finished_at` AS `finishedAt` FROM `jobs` WHERE `status` = ? AND `finished_at` < ?' +
      (after ? ' AND `finished_at` >= ?' : '') +
      ' ORDER BY `finished_at` LIMIT ?',
    after ? [status, cutoff, after, limit] : [status, cutoff, limit],
  );
  return rows as { id: string; finishedAt: Date }[];
}

const JOBS = namesOf(jobs);

/**
 * Deletes one batch of expired jobs with their attempts (and dead letters) in one transaction
 * and two round trips: the jobs are locked and counted by status as they are (a job may have
 * moved since it was read), then deleted, and the counters move in the retention's shard.
 * Answers how many jobs.
 */
async function deleteJobs(writer: SqlWriter, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return writer.transaction(async (tx) => {
    tx.counts.inShard(RETENTION_COUNTER_SHARD);
    tx.jobErrors.deleted(ids);
    const [held] = await tx.queryAll([
      {
        sql: `SELECT \`status\`, COUNT(*) AS n FROM \`${JOBS.table}\` WHERE \`id\` IN (?) GROUP BY \`status\` FOR UPDATE`,
        values: [ids],
      },
      rowDelete(jobAttempts, { jobId: ids }),
      rowDelete(deadLetters, { jobId: ids }),
      rowDelete(jobs, { id: ids }),
    ]);
    let deleted = 0;
    for (const { status, n } of held as { status: string; n: number }[]) {
      tx.counts.move('jobs', status, null, Number(n));
      deleted += Number(n);
    }
    return deleted;
  }, 'READ COMMITTED');
}

/**
 * One batch: up to `limit` jobs in `status` finished before `cutoff` (from the cursor `after`)
 * deleted with their attempts and letters. `next` is the cursor for the following batch, null
 * when this one was the last.
 */
export async function pruneJobsBatch(
  conn: PoolConnection,
  writer: SqlWriter,
  status: string,
  cutoff: Date,
  limit: number,
  after: Date | null = null,
): Promise<{ deleted: number; next: Date | null }> {
  const rows = await expiredJobs(conn, status, cutoff, after, limit);
  const deleted = await deleteJobs(
    writer,
    rows.map((r) => r.id),
  );
  return { deleted, next: rows.length < limit ? null : (rows[rows.length - 1]?.finishedAt ?? null) };
}

/** Dead letters older than the dead retention whose job is gone or never existed (malformed). */
export const pruneDeadLetters = (writer: SqlWriter, cutoff: Date, limit: number) =>
  deleteBatch(writer, rowDelete(deadLetters, { deadAt: below(cutoff) }, { limit }));
