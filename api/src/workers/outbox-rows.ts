import type { MySqlTable } from 'drizzle-orm/mysql-core';
import { namesOf, type Statement } from '../platform/db/sql-writer.ts';

/**
 * A published row (the job outbox's or a live event's) is deleted in the transaction that locked
 * it, one statement for the batch (both relays). Deleting costs InnoDB about a third less than
 * marking the row sent and pruning it later (README, "Performance"): marking rewrote the whole
 * row (its payload included) and moved its entry in the pending index, and maintenance deleted
 * it again hours later. A crash after the publish and before the COMMIT leaves the row, which is
 * published again: duplicates are expected and absorbed downstream (docs/guarantees.md).
 */
export const deletePublished = (table: MySqlTable, ids: readonly number[]): Statement => ({
  sql: `DELETE FROM \`${namesOf(table).table}\` WHERE \`id\` IN (?)`,
  values: [ids],
});
