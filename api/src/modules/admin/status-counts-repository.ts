import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db/client.ts';
import { jobErrorsFromJobs } from '../../platform/db/job-errors.ts';
import { statusCounts } from '../../platform/db/schema.ts';
import type { SqlWriter } from '../../platform/db/sql-writer.ts';

/**
 * Rows per status, from the counters the writer keeps (platform/db/schema.ts, `status_counts`): a
 * sum over at most 65 shards per status instead of a COUNT over millions of rows.
 */
export async function countsByStatus(db: DbOrTx, table: 'notes' | 'jobs'): Promise<Record<string, number>> {
  const rows = await db
    .select({ status: statusCounts.status, n: sql<string>`SUM(${statusCounts.n})` })
    .from(statusCounts)
    .where(eq(statusCounts.tableName, table))
    .groupBy(statusCounts.status);
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** Exact rows of a table, or of one status of it, from the counters. */
export async function countedRows(db: DbOrTx, table: 'notes' | 'jobs', status?: string): Promise<number> {
  const counts = await countsByStatus(db, table);
  if (status) return counts[status] ?? 0;
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * Sets the counters to a COUNT of the rows (docs/operations.md, "Recounting the stats"): for rows
 * written outside the API, by hand or by a bulk load. One transaction whose reads lock both
 * tables until it commits, so writes wait for it: run it when the system is quiet.
 */
export async function recountStatuses(writer: SqlWriter): Promise<void> {
  const recount = (table: 'notes' | 'jobs') => ({
    sql: `INSERT INTO status_counts (tbl, status, shard, n) SELECT ?, status, 0, COUNT(*) FROM \`${table}\` GROUP BY status ON DUPLICATE KEY UPDATE n = VALUES(n)`,
    values: [table],
  });
  await writer.run([{ sql: 'UPDATE status_counts SET n = 0', values: [] }, recount('notes'), recount('jobs')]);
}

/**
 * Sets `job_errors` from the jobs that carry error text (docs/operations.md, "Recounting the
 * stats"): for jobs written outside the API, which its writer did not bring along. One
 * transaction; run it when the system is quiet.
 */
export async function rebuildJobErrors(writer: SqlWriter): Promise<void> {
  await writer.run(jobErrorsFromJobs());
}
