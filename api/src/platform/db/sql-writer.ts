import { getTableColumns, getTableName } from 'drizzle-orm';
import type { MySqlTable } from 'drizzle-orm/mysql-core';
import type { Pool, PoolConnection } from 'mysql2';
import { MARK_WRITE_PATH_SESSION, StatusTally } from './status-tally.ts';

/**
 * The write path's SQL, cut to the fewest round trips (issue 6: round trips dominate the CPU).
 * The pool behind it allows several statements per query, so a transaction's statements travel
 * together: `START TRANSACTION; INSERT …; INSERT …; COMMIT` is one packet and one answer. Values
 * are always `?` placeholders escaped by mysql2; no value is ever concatenated into SQL, which
 * is what keeps multi-statement queries safe. Reads and everything else stay on drizzle's pool.
 */

/** One statement with `?` placeholders. */
export interface Statement {
  sql: string;
  values: readonly unknown[];
}

/** One row of one table, by column name. Rows of a table with the same columns merge into one INSERT. */
export interface RowInsert {
  table: string;
  columns: readonly string[];
  values: readonly unknown[];
}

const BEGIN: Statement = { sql: 'START TRANSACTION', values: [] };
/** Applies to the next transaction only (a session's default stays REPEATABLE READ). */
const READ_COMMITTED: Statement = { sql: 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED', values: [] };
const COMMIT: Statement = { sql: 'COMMIT', values: [] };
const ROLLBACK: Statement = { sql: 'ROLLBACK', values: [] };

const columnNames = new WeakMap<MySqlTable, { table: string; columns: Map<string, string> }>();

/** A drizzle table's SQL name and its columns' names by property. */
export function namesOf(table: MySqlTable): { table: string; columns: ReadonlyMap<string, string> } {
  let names = columnNames.get(table);
  if (!names) {
    const columns = new Map(Object.entries(getTableColumns(table)).map(([key, column]) => [key, column.name]));
    names = { table: getTableName(table), columns };
    columnNames.set(table, names);
  }
  return names;
}

/**
 * A row of a drizzle table as an insert: property names become the schema's column names, so
 * the drizzle schema stays the one definition of the tables. Undefined properties are left to
 * their column defaults.
 */
export function rowInsert<T extends MySqlTable>(table: T, row: T['$inferInsert']): RowInsert {
  const names = namesOf(table);
  const columns: string[] = [];
  const values: unknown[] = [];
  for (const [key, value] of Object.entries(row as Record<string, unknown>)) {
    if (value === undefined) continue;
    const column = names.columns.get(key);
    if (!column) throw new Error(`${names.table} has no column for ${key}`);
    columns.push(column);
    values.push(sqlValue(value));
  }
  return { table: names.table, columns, values };
}

/** A value as a placeholder takes it: JSON columns serialised (mysql2 would expand an object into `k = v`). */
export function sqlValue(value: unknown): unknown {
  return value !== null && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)
    ? JSON.stringify(value)
    : value;
}

const placeholders = new Map<number, string>();
function rowPlaceholders(n: number): string {
  let p = placeholders.get(n);
  if (!p) {
    p = `(${new Array(n).fill('?').join(',')})`;
    placeholders.set(n, p);
  }
  return p;
}

/**
 * One multi-row INSERT per table and column list, in the order each first appears (so a write's
 * fence row, which comes first, is inserted before the rows it guards).
 */
export function insertStatements(inserts: readonly RowInsert[]): Statement[] {
  const groups = new Map<string, { table: string; columns: readonly string[]; rows: number; values: unknown[] }>();
  for (const ins of inserts) {
    const key = `${ins.table}\u0000${ins.columns.join(',')}`;
    let group = groups.get(key);
    if (!group) {
      group = { table: ins.table, columns: ins.columns, rows: 0, values: [] };
      groups.set(key, group);
    }
    group.rows++;
    for (const v of ins.values) group.values.push(v);
  }
  return [...groups.values()].map((g) => {
    const row = rowPlaceholders(g.columns.length);
    return {
      sql: `INSERT INTO \`${g.table}\` (${g.columns.map((c) => `\`${c}\``).join(',')}) VALUES ${new Array(g.rows).fill(row).join(',')}`,
      values: g.values,
    };
  });
}

type Results = unknown[];

/**
 * REPEATABLE READ (InnoDB's default) makes a locking range read lock the gaps too, which blocks
 * inserts into the range until the transaction ends; READ COMMITTED locks only the rows read.
 */
export type TxIsolation = 'REPEATABLE READ' | 'READ COMMITTED';

function send(conn: PoolConnection, statements: readonly Statement[]): Promise<Results> {
  const sql = statements.length === 1 ? statements[0]!.sql : statements.map((s) => s.sql).join(';\n');
  const values: unknown[] = [];
  for (const s of statements) for (const v of s.values) values.push(v);
  // The callback API: mysql2's promise wrapper captures a stack trace per query (measurable here).
  return new Promise((resolve, reject) => {
    conn.query({ sql, values }, (err, results) => {
      if (err) reject(err);
      // One statement answers its result; several answer one result per statement.
      else resolve(statements.length === 1 ? [results] : (results as Results));
    });
  });
}

/**
 * A transaction that holds its statements back until it must talk to the server: `defer`
 * queues, `query` sends everything queued plus the query (BEGIN rides along with the first),
 * `commit` sends the rest plus COMMIT. A write that reads once costs two round trips in all.
 * It holds its connection until `commit` succeeds or `rollback` runs (which never throws): a
 * caller that does not commit must roll back.
 */
export class WriteTx {
  #pending: Statement[];
  #begun = false;
  #done = false;
  /** The notes' and jobs' status changes, counted at the commit (status-tally.ts). Inserts count themselves. */
  readonly counts = new StatusTally();

  constructor(
    private readonly conn: PoolConnection,
    isolation: TxIsolation = 'REPEATABLE READ',
  ) {
    this.#pending = isolation === 'READ COMMITTED' ? [READ_COMMITTED, BEGIN] : [BEGIN];
  }

  defer(statement: Statement): void {
    this.#pending.push(statement);
  }

  insert(...rows: RowInsert[]): void {
    for (const s of insertStatements(rows)) this.#pending.push(s);
    this.counts.inserted(rows);
  }

  /** Sends what is queued and this statement; answers this statement's rows. */
  async query<T>(statement: Statement): Promise<T[]> {
    const [rows] = await this.queryAll([statement]);
    return rows as T[];
  }

  /**
   * Sends what is queued and these statements in one round trip; answers each statement's rows,
   * in order. A null (a statement with nothing to ask) is not sent and answers no rows.
   */
  async queryAll(statements: readonly (Statement | null)[]): Promise<unknown[][]> {
    const sent = statements.filter((s): s is Statement => s !== null);
    if (sent.length === 0) return statements.map(() => []);
    for (const s of sent) this.#pending.push(s);
    const results = await this.#flush();
    const answers = results.slice(results.length - sent.length) as unknown[][];
    return statements.map((s) => (s === null ? [] : (answers.shift() as unknown[])));
  }

  /** Sends the rest with COMMIT and gives the connection back. If it throws, roll back. */
  async commit(): Promise<void> {
    const counted = this.counts.statement();
    if (counted) this.#pending.push(counted);
    this.#pending.push(COMMIT);
    await this.#flush();
    this.#finish(true);
  }

  /**
   * Nothing to undo when BEGIN never left; otherwise rolls back what the server holds. Never
   * throws: a connection whose rollback failed may still hold a transaction, so it is closed
   * instead of reused. Idempotent, and a no-op after a commit.
   */
  async rollback(): Promise<void> {
    if (this.#done) return;
    const begun = this.#begun;
    this.#pending = [];
    try {
      if (begun) await send(this.conn, [ROLLBACK]);
      this.#finish(true);
    } catch {
      this.#finish(false);
    }
  }

  #finish(healthy: boolean): void {
    if (this.#done) return;
    this.#done = true;
    if (healthy) this.conn.release();
    else this.conn.destroy();
  }

  #flush(): Promise<Results> {
    const statements = this.#pending;
    this.#pending = [];
    this.#begun = true;
    return send(this.conn, statements);
  }
}

/**
 * Runs write transactions on a multi-statement pool. Every transaction counts its own status
 * changes (status-tally.ts), so the pool's sessions are marked for the counter triggers to skip.
 */
export class SqlWriter {
  constructor(readonly pool: Pool) {
    pool.on('connection', (conn) => conn.query(MARK_WRITE_PATH_SESSION));
  }

  /** A transaction on a connection of its own: the caller commits it, or rolls it back. */
  async begin(isolation?: TxIsolation): Promise<WriteTx> {
    return new WriteTx(await this.#connection(), isolation);
  }

  /** `fn` in one transaction on one connection; rolled back if it throws. */
  async transaction<T>(fn: (tx: WriteTx) => Promise<T>, isolation?: TxIsolation): Promise<T> {
    const tx = await this.begin(isolation);
    try {
      const out = await fn(tx);
      await tx.commit();
      return out;
    } catch (err) {
      await tx.rollback();
      throw err;
    }
  }

  /** Rows in one transaction and one round trip (one multi-row INSERT per table). */
  insert(rows: readonly RowInsert[]): Promise<void> {
    return this.transaction(async (tx) => tx.insert(...rows));
  }

  /** Statements that need no answer, in one transaction and one round trip. */
  run(statements: readonly Statement[]): Promise<void> {
    return this.transaction(async (tx) => {
      for (const s of statements) tx.defer(s);
    });
  }

  #connection(): Promise<PoolConnection> {
    return new Promise((resolve, reject) => {
      this.pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn)));
    });
  }
}
