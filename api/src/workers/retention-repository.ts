import type { PoolConnection } from 'mysql2/promise';

/**
 * SQL of job retention (docs/jobs.md, "Retention"), on the maintenance connection (READ
 * COMMITTED, autocommit): each statement is its own short transaction touching one batch of rows
 * by primary key, so a write never waits on it for long.
 */

const FINISHED = ['processed', 'skipped', 'discarded'] as const;

/**
 * Ids of jobs finished before `cutoff` in one of `statuses`, at most `limit`. Read along
 * jobs_status_idx (status, created_at): a job is created before it finishes, so every candidate
 * has created_at < cutoff too.
 */
async function expiredJobIds(conn: PoolConnection, statuses: readonly string[], cutoff: Date, limit: number) {
  const [rows] = await conn.query(
    'SELECT `id` FROM `jobs` WHERE `status` IN (?) AND `created_at` < ? AND `finished_at` < ? LIMIT ?',
    [statuses, cutoff, cutoff, limit],
  );
  return (rows as { id: string }[]).map((r) => r.id);
}

/** Deletes one batch of expired jobs with their attempts (and dead letters); answers how many jobs. */
async function deleteJobs(conn: PoolConnection, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  await conn.query('DELETE FROM `job_attempts` WHERE `job_id` IN (?)', [ids]);
  await conn.query('DELETE FROM `dead_letters` WHERE `job_id` IN (?)', [ids]);
  const [res] = await conn.query('DELETE FROM `jobs` WHERE `id` IN (?)', [ids]);
  return (res as { affectedRows: number }).affectedRows;
}

export async function pruneFinishedJobs(conn: PoolConnection, cutoff: Date, limit: number) {
  return deleteJobs(conn, await expiredJobIds(conn, FINISHED, cutoff, limit));
}

export async function pruneDeadJobs(conn: PoolConnection, cutoff: Date, limit: number) {
  return deleteJobs(conn, await expiredJobIds(conn, ['dead'], cutoff, limit));
}

/** Dead letters older than the dead retention whose job is gone or never existed (malformed). */
export async function pruneDeadLetters(conn: PoolConnection, cutoff: Date, limit: number) {
  const [res] = await conn.query('DELETE FROM `dead_letters` WHERE `dead_at` < ? LIMIT ?', [cutoff, limit]);
  return (res as { affectedRows: number }).affectedRows;
}
