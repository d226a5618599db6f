import { type Context, context } from '@opentelemetry/api';
import type { RowInsert, SqlWriter } from './sql-writer.ts';

/**
 * Group commit for writes whose rows are all known up front (a new note: its fence, note, job
 * and outbox rows). Concurrent writes share one transaction and one multi-row INSERT per table,
 * so under load a commit (and its log flush) and a round trip serve many writes instead of one.
 *
 * No timer: a write is sent at once when fewer than `maxInFlight` batches are running, and
 * otherwise waits for the next free slot with everything that arrived meanwhile, so a batch
 * grows exactly as much as the database is behind and an idle system adds no latency.
 *
 * All or nothing per batch, each write on its own on failure: when a batch fails (one write's
 * duplicate fence, a deadlock, a failing trigger), it is rolled back and every write in it runs
 * again in a transaction of its own, so each write gets its own outcome and one write's failure
 * never fails or commits another. Two writes with the same fence key never share a batch (the
 * second would fail the first), they go in consecutive ones.
 */
export interface GroupCommitLimits {
  /** Writes per batch. */
  maxWrites: number;
  /**
   * Bytes of values per batch (roughly the query's size), well below MariaDB's max_allowed_packet
   * (16 MiB by default): a note of 64 KiB is in a batch twice, as a row and in its fence's response.
   */
  maxBytes: number;
  /** Batches running at once (each holds one connection). */
  maxInFlight: number;
}

export const DEFAULT_GROUP_COMMIT_LIMITS: GroupCommitLimits = {
  maxWrites: 64,
  maxBytes: 4 * 1024 * 1024,
  maxInFlight: 3,
};

interface Pending {
  inserts: readonly RowInsert[];
  key: string;
  bytes: number;
  /** The submitter's trace context: a batch's SQL runs in its first write's trace. */
  ctx: Context;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitStats {
  batches: number;
  writes: number;
  /** Batches that failed as a whole and were split into single writes. */
  split: number;
}

export class GroupCommitter {
  #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;
  readonly stats: GroupCommitStats = { batches: 0, writes: 0, split: 0 };

  constructor(
    private readonly writer: SqlWriter,
    private readonly limits: GroupCommitLimits = DEFAULT_GROUP_COMMIT_LIMITS,
  ) {}

  /**
   * Resolves once the rows are committed; rejects with this write's own error (after it ran
   * alone). `key` identifies the write's unique fence: equal keys never share a batch.
   */
  submit(inserts: readonly RowInsert[], key: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ inserts, key, bytes: bytesOf(inserts), ctx: context.active(), resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#queue.length === 0 || this.#inFlight >= this.limits.maxInFlight) return;
    this.#scheduled = true;
    // One turn of the event loop: requests parsed in the same I/O phase join one batch.
    setImmediate(() => {
      this.#scheduled = false;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#inFlight < this.limits.maxInFlight && this.#queue.length > 0) {
      const batch = this.#take();
      this.#inFlight++;
      context
        .with(batch[0]!.ctx, () => this.#commit(batch))
        .finally(() => {
          this.#inFlight--;
          this.#schedule();
        });
    }
  }

  /** Writes in arrival order up to the limits (always at least one), keeping repeated keys for later. */
  #take(): Pending[] {
    const batch: Pending[] = [];
    const keys = new Set<string>();
    const rest: Pending[] = [];
    let bytes = 0;
    for (const p of this.#queue) {
      const fits =
        batch.length === 0 || (batch.length < this.limits.maxWrites && bytes + p.bytes <= this.limits.maxBytes);
      if (fits && !keys.has(p.key)) {
        batch.push(p);
        keys.add(p.key);
        bytes += p.bytes;
      } else rest.push(p);
    }
    this.#queue = rest;
    return batch;
  }

  async #commit(batch: Pending[]): Promise<void> {
    this.stats.batches++;
    this.stats.writes += batch.length;
    try {
      await this.writer.insert(batch.flatMap((p) => p.inserts));
      for (const p of batch) p.resolve();
      return;
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
    }
    this.stats.split++;
    await Promise.all(batch.map((p) => this.#alone(p)));
  }

  async #alone(p: Pending): Promise<void> {
    try {
      await this.writer.insert(p.inserts);
      p.resolve();
    } catch (err) {
      p.reject(err);
    }
  }
}

/** What a write's values weigh in the query: string lengths (UTF-16 units; close enough), 8 for others. */
function bytesOf(inserts: readonly RowInsert[]): number {
  let n = 0;
  for (const ins of inserts) for (const v of ins.values) n += typeof v === 'string' ? v.length : 8;
  return n;
}
