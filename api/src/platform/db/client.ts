import { fileURLToPath } from 'node:url';
import type { Config } from '@notes/contracts';
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import mysqlCore from 'mysql2';
import mysql from 'mysql2/promise';
import { normaliseStoredEmails } from './email-normalisation.ts';
import { GroupCommitter } from './group-commit.ts';
import * as schema from './schema.ts';
import { SqlWriter } from './sql-writer.ts';

/** Drizzle: the reads (and the migrations). Writes go through `writer` (sql-writer.ts). */
export type Db = MySql2Database<typeof schema>;
/** Reads take drizzle on the pool, or on a write transaction's connection (`WriteTx.read`). */
export type DbOrTx = Db;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../drizzle', import.meta.url));

export interface Database {
  db: Db;
  pool: mysql.Pool;
  /** The one writer: every write's transaction, a round trip each (sql-writer.ts); its own multi-statement pool. */
  writer: SqlWriter;
  /** Group commit for writes known up front (group-commit.ts), on the writer's pool. */
  commits: GroupCommitter;
  /**
   * The consumers' callbacks' transactions, on a small multi-statement pool of their own
   * (DB_CALLBACK_POOL_SIZE): recording finished work never waits behind writes for a connection.
   */
  callbacks: SqlWriter;
  close(): Promise<void>;
}

/** Creates the pools. Dates are UTC; JSON columns come back as strings on MariaDB, see schema. */
export function createDatabase(config: Config): Database {
  const options = {
    uri: config.database.url,
    connectionLimit: config.database.poolSize,
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    enableKeepAlive: true,
    connectTimeout: 2000,
    // mysql2's promise API captures a stack trace on every query so an error can show its
    // caller; under load that was ~6% of the API's CPU (issue 6 profile). Errors keep their
    // message, code and SQL.
    trace: false,
    // We run no prepared statements (queries use client-side placeholders), but mysql2 sizes a
    // per-connection statement cache for 16,000 up front: ~16 MB of heap across both pools.
    maxPreparedStatements: 100,
  } as const;
  const pool = mysql.createPool(options);
  const db = drizzle(pool, { schema, mode: 'default' });
  // Multi-statement queries only here, where every statement is a constant with placeholders;
  // drizzle's pool (the reads) keeps the default (one statement per query).
  const writePool = mysqlCore.createPool({ ...options, multipleStatements: true });
  const writer = new SqlWriter(writePool);
  const callbackPool = mysqlCore.createPool({
    ...options,
    connectionLimit: config.database.callbackPoolSize,
    multipleStatements: true,
  });
  let closed = false;
  return {
    db,
    pool,
    writer,
    commits: new GroupCommitter(writer),
    callbacks: new SqlWriter(callbackPool),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([
        pool.end(),
        new Promise<void>((resolve) => writePool.end(() => resolve())),
        new Promise<void>((resolve) => callbackPool.end(() => resolve())),
      ]);
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
    // Named locks are server-wide: scope it to the database, so migrating one database never
    // waits for another's (parallel test suites, several deployments on one server).
    const lock = `notes_migrate:${config.database.name}`.slice(0, 64);
    const [rows] = await conn.query('SELECT GET_LOCK(?, 30) AS got', [lock]);
    if ((rows as { got: number }[])[0]?.got !== 1) throw new Error('could not take the migration lock');
    try {
      await normaliseStoredEmails(conn);
      await migrate(drizzle(conn, { schema, mode: 'default' }), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await conn.query('SELECT RELEASE_LOCK(?)', [lock]);
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

/** mysql2 error codes that mean "the database cannot be reached", not "this query is wrong". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'POOL_CLOSED',
]);

/**
 * True when an error (or what it wraps: drizzle wraps the driver's error in `cause`) says the
 * database is unreachable. Such a request gets 503 with Retry-After, not a 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, fatal } = e as { code?: unknown; fatal?: unknown };
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    // mysql2 marks errors that broke the connection itself as fatal.
    if (fatal === true) return true;
  }
  return false;
}
