import { count, type SQL, sql } from 'drizzle-orm';
import type { MySqlTable } from 'drizzle-orm/mysql-core';
import type { DbOrTx } from './client.ts';

/**
 * Totals that do not count the world (docs/data.md, "Totals"): a list counts at most this many
 * matches; past it, `total` is this number and `total_exact` false ("more than 10,000").
 */
export const COUNT_CAP = 10_000;

export interface Total {
  total: number;
  total_exact: boolean;
}

/**
 * Counts the rows of `table` matching `where`, stopping after COUNT_CAP + 1 of them, along
 * `index` (the one whose prefix is the filter: the optimizer, left alone, sometimes walked a
 * one-column index and read every row to check the rest of the filter).
 */
export async function cappedCount(
  db: DbOrTx,
  table: MySqlTable,
  where: SQL | undefined,
  index?: string,
): Promise<Total> {
  const matches = db
    .select({ one: sql`1`.as('one') })
    .from(table, index ? { forceIndex: index } : undefined)
    .where(where)
    .limit(COUNT_CAP + 1)
    .as('capped');
  const [row] = await db.select({ n: count() }).from(matches);
  const n = Number(row?.n ?? 0);
  return n > COUNT_CAP ? { total: COUNT_CAP, total_exact: false } : { total: n, total_exact: true };
}

export const exactTotal = (total: number): Total => ({ total, total_exact: true });

/**
 * A search's total without a second search: the rows up to the end of this page, exact when
 * there is no next page, else a lower bound (one more than what has been shown). Counting the
 * matches would run the FULLTEXT query twice, and its cost follows the number of matches.
 */
export const pageTotal = (offset: number, shown: number, hasNext: boolean): Total => ({
  total: offset + shown + (hasNext ? 1 : 0),
  total_exact: !hasNext,
});
