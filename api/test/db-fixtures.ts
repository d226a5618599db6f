import type { MySqlTable } from 'drizzle-orm/mysql-core';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../src/platform/db/client.ts';
import { users } from '../src/platform/db/schema.ts';
import { namesOf, rowDelete, rowInsert, rowUpdate, type Where } from '../src/platform/db/sql-writer.ts';
import type { TestApp } from './helpers.ts';

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

/** A user row written directly and a token for it, for tests whose subject is not the auth routes. */
export async function seedUserRow(t: TestApp, name: string): Promise<{ id: string; token: string }> {
  const id = uuidv7();
  const now = new Date();
  await insertRows(t.deps.database, users, {
    id,
    email: `${name}-${id}@example.test`,
    name,
    passwordHash: 'x',
    createdAt: now,
    updatedAt: now,
  });
  return { id, token: t.app.signToken({ id, role: 'user' }) };
}
