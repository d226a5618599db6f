import { fileURLToPath } from 'node:url';
import type { Config } from '@notes/contracts';
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import mysql from 'mysql2/promise';
import * as schema from './schema.ts';

export type Db = MySql2Database<typeof schema>;
/** A transaction handle; services open it and hand it down to repositories. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface Database {
  db: Db;
  pool: mysql.Pool;
  close(): Promise<void>;
}

/** Creates the pool. Dates are UTC; JSON columns come back as strings on MariaDB, see schema. */
export function createDatabase(config: Config): Database {
  const pool = mysql.createPool({
    uri: config.database.url,
    connectionLimit: config.database.poolSize,
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    enableKeepAlive: true,
    connectTimeout: 2000,
  });
  const db = drizzle(pool, { schema, mode: 'default' });
  let closed = false;
  return {
    db,
    pool,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * Creates the database if missing and applies the committed migrations on one connection.
 * Running it twice (or from two processes at once: drizzle takes no lock, so we take one) is
 * harmless.
 */
export async function migrateDatabase(config: Config): Promise<void> {
  const server = await mysql.createConnection({ uri: config.database.serverUrl, connectTimeout: 2000 });
  try {
    await server.query(
      `CREATE DATABASE IF NOT EXISTS \`${config.database.name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await server.end();
  }
  const conn = await mysql.createConnection({ uri: config.database.url, timezone: 'Z', connectTimeout: 2000 });
  try {
    const [rows] = await conn.query("SELECT GET_LOCK('notes_migrate', 30) AS got");
    if ((rows as { got: number }[])[0]?.got !== 1) throw new Error('could not take the migration lock');
    try {
      await migrate(drizzle(conn, { schema, mode: 'default' }), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await conn.query("SELECT RELEASE_LOCK('notes_migrate')");
    }
  } finally {
    await conn.end();
  }
}

/** MariaDB returns JSON columns as strings; this reads either form. */
export function parseJsonColumn<T>(value: unknown): T | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return JSON.parse(value) as T;
  return value as T;
}
