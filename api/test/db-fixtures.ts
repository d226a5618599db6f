import type { MySqlTable } from 'drizzle-orm/mysql-core';
import type { Database } from '../src/platform/db/client.ts';
import { namesOf, rowDelete, rowInsert, rowUpdate, type Where } from '../src/platform/db/sql-writer.ts';

/**
 * Fixtures write the way the API does: through the one writer (platform/db/sql-writer.ts), which
 * counts the notes' and jobs' statuses it inserts (docs/data.md, "Stats"). Drizzle only reads.
 */

/** Rows of one table in one transaction. */
export function insertRows<T extends MySqlTable>(database: Database, table: T, ...rows: T['$inferInsert'][]) {
  return database.writer.insert(rows.map((row) => rowInsert(table, row)));
}

/** Deletes rows of a table that holds no counted status (notes and jobs go through their repositories). */
export function deleteRows<T extends MySqlTable>(database: Database, table: T, where: Where<T>): Promise<number> {
  return database.writer.execute(rowDelete(table, where));
}

export { rowUpdate };

/** Empties a table that holds no counted status. */
export function clearTable(database: Database, table: MySqlTable): Promise<number> {
  return database.writer.execute({ sql: `DELETE FROM \`${namesOf(table).table}\``, values: [] });
}
