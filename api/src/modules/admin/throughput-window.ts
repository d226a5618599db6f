import type { JobStatus } from '../../platform/db/schema.ts';

/** Jobs that finished in one minute, by status, as the finished-at index groups them. */
export interface FinishedRow {
  minute: string;
  status: JobStatus;
  n: number;
}

/** One minute of the dashboard's throughput chart. */
export interface ThroughputMinute {
  minute: string;
  finished: number;
  processed: number;
  dead: number;
}

const MINUTE_MS = 60_000;

/**
 * The dashboard's finished-per-minute window (docs/data.md, "Stats"), read from the finished-at
 * index. A busy pipeline finishes hundreds of jobs a second, so the whole window is hundreds of
 * thousands of index entries: a second of database time on every poll. A minute that ended more
 * than `settleMs` ago no longer changes (a job's finished-at is stamped just before its commit),
 * so it is read once and remembered; a poll reads only the minutes still settling, at most the
 * current one and the one before.
 */
export class ThroughputWindow {
  /** Settled minutes (epoch ms of their start) and their rows. */
  readonly #settled = new Map<number, FinishedRow[]>();

  constructor(
    private readonly read: (since: Date) => Promise<FinishedRow[]>,
    readonly minutes: number,
    /** How long after a minute's end a late commit may still land in it (clock skew between instances included). */
    private readonly settleMs = 15_000,
  ) {}

  async perMinute(now: Date): Promise<ThroughputMinute[]> {
    const nowMs = now.getTime();
    const start = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS - (this.minutes - 1) * MINUTE_MS;
    for (const minute of this.#settled.keys()) if (minute < start) this.#settled.delete(minute);
    let since = start;
    while (this.#settled.has(since)) since += MINUTE_MS;
    const fresh = await this.read(new Date(since));

    const byMinute = new Map<number, FinishedRow[]>();
    for (const row of fresh) {
      const minute = Date.parse(row.minute);
      const rows = byMinute.get(minute) ?? [];
      if (rows.length === 0) byMinute.set(minute, rows);
      rows.push(row);
    }
    for (let minute = since; minute + MINUTE_MS + this.settleMs <= nowMs; minute += MINUTE_MS) {
      this.#settled.set(minute, byMinute.get(minute) ?? []);
    }

    return Array.from({ length: this.minutes }, (_, i) => {
      const minute = start + i * MINUTE_MS;
      const bucket = { minute: new Date(minute).toISOString(), finished: 0, processed: 0, dead: 0 };
      // A job finished "in the future" by clock skew between API instances falls outside every bucket.
      for (const row of (minute < since ? this.#settled.get(minute) : byMinute.get(minute)) ?? []) {
        bucket.finished += row.n;
        if (row.status === 'processed') bucket.processed += row.n;
        if (row.status === 'dead') bucket.dead += row.n;
      }
      return bucket;
    });
  }
}
