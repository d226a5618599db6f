import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db/client.ts';
import { statusCounts } from '../../platform/db/schema.ts';

/**
 * Rows per status, from the counters the triggers keep (platform/db/schema.ts, `status_counts`): a sum
 * over at most 64 shards per status instead of a COUNT over millions of rows.
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
