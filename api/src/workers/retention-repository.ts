import type { PoolConnection } from 'mysql2/promise';

/**
 * SQL of job retention (docs/jobs.md, "Retention"), on the maintenance connection (READ
 * COMMITTED, autocommit): each statement is its own short transaction touching one batch of rows
 * by primary key, so a write never waits on it for long.
 */

export const FINISHED_STATUSES = ['processed', 'skipped', 'discarded'] as const;

/**
 * The shard of the status counters the retention's deletes count in (migration 0006): no writer
 * uses it (theirs are CONNECTION_ID() % 64), so a batch's counter row is never a row a write
 * waits for.
 */
const RETENTION_COUNTER_SHARD = 64;

/** Counts this connection's job deletes in the retention's own counter shard, or stops doing so. */
export async function useRetentionCounterShard(conn: PoolConnection, on: boolean): Promise<void> {
  await conn.query('SET @notes_counter_shard = ?', [on ? RETENTION_COUNTER_SHARD : null]);
}

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

/** Deletes one batch of expired jobs with their attempts (and dead letters); answers how many jobs. */
async function deleteJobs(conn: PoolConnection, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  await conn.query('DELETE FROM `job_attempts` WHERE `job_id` IN (?)', [ids]);
  await conn.query('DELETE FROM `dead_letters` WHERE `job_id` IN (?)', [ids]);
  const [res] = await conn.query('DELETE FROM `jobs` WHERE `id` IN (?)', [ids]);
  return (res as { affectedRows: number }).affectedRows;
}

/**
 * One batch: up to `limit` jobs in `status` finished before `cutoff` (from the cursor `after`)
 * deleted with their attempts and letters. `next` is the cursor for the following batch, null
 * when this one was the last.
 */
export async function pruneJobsBatch(
  conn: PoolConnection,
  status: string,
  cutoff: Date,
  limit: number,
  after: Date | null = null,
): Promise<{ deleted: number; next: Date | null }> {
  const rows = await expiredJobs(conn, status, cutoff, after, limit);
  const deleted = await deleteJobs(
    conn,
    rows.map((r) => r.id),
  );
  return { deleted, next: rows.length < limit ? null : (rows[rows.length - 1]?.finishedAt ?? null) };
}

/** Dead letters older than the dead retention whose job is gone or never existed (malformed). */
export async function pruneDeadLetters(conn: PoolConnection, cutoff: Date, limit: number) {
  const [res] = await conn.query('DELETE FROM `dead_letters` WHERE `dead_at` < ? LIMIT ?', [cutoff, limit]);
  return (res as { affectedRows: number }).affectedRows;
}
