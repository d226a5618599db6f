import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2';
import type { Pool, PoolConnection } from 'mysql2';
import { JobErrorSync } from './job-errors.ts';
import * as schema from './schema.ts';
import { insertStatements, type RowInsert, type Statement } from './sql-statements.ts';
import { type CountedTable, StatusTally } from './status-tally.ts';

export * from './sql-statements.ts';

/**
 * The one way the API writes the database (docs/architecture.md, "The write path"): every
 * INSERT, UPDATE and DELETE runs in a transaction of this writer, cut to the fewest round trips
 * (issue 6: round trips dominate the CPU). The pool behind it allows several statements per
 * query, so a transaction's statements travel together: `START TRANSACTION; INSERT …; INSERT …;
 * COMMIT` is one packet and one answer. Values are always `?` placeholders escaped by mysql2; no
 * value is ever concatenated into SQL, which is what keeps multi-statement queries safe. Drizzle
 * serves the reads (on its own pool, or inside a transaction through `WriteTx.read`) and the
 * migrations; its write builders are not used (scripts/test/api-structure.test.ts).
 */

/** Drizzle over the schema: the API's reads. */
export type ReadDb = MySql2Database<typeof schema>;

const BEGIN: Statement = { sql: 'START TRANSACTION', values: [] };
/** Applies to the next transaction only (a session's default stays REPEATABLE READ). */
const READ_COMMITTED: Statement = { sql: 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED', values: [] };
const COMMIT: Statement = { sql: 'COMMIT', values: [] };
const ROLLBACK: Statement = { sql: 'ROLLBACK', values: [] };

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
  /** The jobs whose `job_errors` rows follow at the commit (job-errors.ts). Inserts name themselves. */
  readonly jobErrors = new JobErrorSync();
  #reader: ReadDb | null = null;

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
    this.jobErrors.inserted(rows);
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

  /** Sends what is queued and this statement; answers the rows it changed (or matched: FOUND_ROWS). */
  async execute(statement: Statement): Promise<number> {
    const [result] = await this.queryAll([statement]);
    return (result as unknown as { affectedRows: number }).affectedRows;
  }

  /**
   * Moves rows of a counted table out of status `from` (to `to`, or out of the table when null)
   * and counts them: `statement` is the UPDATE or DELETE and must match only rows in `from`
   * (a `status` condition, or rows this transaction holds locked in it), so the rows it changed
   * are the rows that moved. Answers how many.
   */
  async moveStatus(table: CountedTable, from: string, to: string | null, statement: Statement): Promise<number> {
    const moved = await this.execute(statement);
    this.counts.move(table, from, to, moved);
    return moved;
  }

  /**
   * Reads inside this transaction: drizzle on its connection, after what is queued (BEGIN
   * with it), so a `FOR UPDATE` read locks for this transaction and every read sees its writes.
   */
  async read<T>(fn: (db: ReadDb) => Promise<T>): Promise<T> {
    if (this.#done) throw new Error('read after the transaction ended');
    if (this.#pending.length > 0) await this.#flush();
    this.#reader ??= readerOf(this.conn);
    return fn(this.#reader);
  }

  /** Sends the rest with COMMIT and gives the connection back. If it throws, roll back. */
  async commit(): Promise<void> {
    for (const s of this.jobErrors.statements()) this.#pending.push(s);
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

const readers = new WeakMap<PoolConnection, ReadDb>();
/** One drizzle per connection (a pool's connections live long; building drizzle is not free). */
function readerOf(conn: PoolConnection): ReadDb {
  let db = readers.get(conn);
  if (!db) {
    db = drizzle(conn, { schema, mode: 'default' });
    readers.set(conn, db);
  }
  return db;
}

/**
 * Runs write transactions on a multi-statement pool. Every transaction counts its own status
 * changes (status-tally.ts): no trigger counts behind it (migration 0008).
 */
export class SqlWriter {
  constructor(readonly pool: Pool) {}

  /** A transaction on a connection of its own: the caller commits it, or rolls it back. */
  async begin(isolation?: TxIsolation): Promise<WriteTx> {
    return new WriteTx(await this.#connection(), isolation);
  }

  /**
   * `fn` in one transaction on one connection; rolled back if it throws. `fn` reads through
   * `tx.read` and writes through `tx`'s statements.
   */
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

  /** One statement in a transaction of its own; answers the rows it changed. */
  execute(statement: Statement): Promise<number> {
    return this.transaction((tx) => tx.execute(statement));
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

/** Where a repository writes: a transaction the caller opened, or the writer (a transaction of its own). */
export type Writer = SqlWriter | WriteTx;

/** `fn` in the caller's transaction, or in one of its own on the writer. */
export function within<T>(w: Writer, fn: (tx: WriteTx) => Promise<T>): Promise<T> {
  return w instanceof WriteTx ? fn(w) : w.transaction(fn);
}
