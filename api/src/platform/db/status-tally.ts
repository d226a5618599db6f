/**
 * The status changes of one transaction of the writer, written to the status counters in one
 * statement just before its COMMIT (docs/data.md, "Stats"). Every write of notes and jobs goes
 * through the writer, so this is the only count (migration 0008 dropped the counter triggers): a
 * batch of N notes costs one counter statement instead of N (or 2N) from triggers, and holds the
 * counter rows only for the commit.
 */
export type CountedTable = 'notes' | 'jobs';

/** An inserted row and a statement, as the write path has them (sql-writer.ts, which uses this file). */
interface Row {
  table: string;
  columns: readonly string[];
  values: readonly unknown[];
}
interface Statement {
  sql: string;
  values: readonly unknown[];
}

const COUNTED: ReadonlySet<string> = new Set<CountedTable>(['notes', 'jobs']);
/** Both tables' status column defaults to `queued`. */
const DEFAULT_STATUS = 'queued';
/** The counters' shards (migration 0003): each connection adds to its own. */
const SHARDS = 64;

export class StatusTally {
  readonly #deltas = new Map<string, number>();
  /** A fixed shard instead of the connection's (retention's, migration 0006). */
  #shard: number | null = null;

  /** Counts in `shard` instead of CONNECTION_ID() % 64. */
  inShard(shard: number): void {
    this.#shard = shard;
  }

  /** A row went from one status to another; null is "no row" (an insert or a delete). */
  move(table: CountedTable, from: string | null, to: string | null, rows = 1): void {
    if (from === to) return;
    if (from !== null) this.#add(table, from, -rows);
    if (to !== null) this.#add(table, to, rows);
  }

  /** Counts the inserted rows of the counted tables. */
  inserted(rows: readonly Row[]): void {
    for (const row of rows) {
      if (!COUNTED.has(row.table)) continue;
      const i = row.columns.indexOf('status');
      this.move(row.table as CountedTable, null, i < 0 ? DEFAULT_STATUS : String(row.values[i]));
    }
  }

  #add(table: CountedTable, status: string, n: number): void {
    const key = `${table}\u0000${status}`;
    this.#deltas.set(key, (this.#deltas.get(key) ?? 0) + n);
  }

  /**
   * One upsert of every non-zero change (the rows exist from migration 0003, so it only updates),
   * in a fixed order so two transactions that share a shard lock its rows in the same order.
   */
  statement(): Statement | null {
    const changes = [...this.#deltas].filter(([, n]) => n !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (changes.length === 0) return null;
    const values: unknown[] = [];
    for (const [key, n] of changes) values.push(...key.split('\u0000'), n);
    const shard = this.#shard === null ? `CONNECTION_ID() % ${SHARDS}` : String(Math.trunc(this.#shard));
    return {
      sql: `INSERT INTO status_counts (tbl, status, shard, n) VALUES ${changes.map(() => `(?, ?, ${shard}, ?)`).join(', ')} ON DUPLICATE KEY UPDATE n = n + VALUE(n)`,
      values,
    };
  }
}
