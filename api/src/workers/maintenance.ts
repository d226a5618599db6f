import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '@notes/contracts';
import type { PoolConnection } from 'mysql2/promise';
import type { Logger } from 'pino';
import type { Database } from '../platform/db/client.ts';
import type { SqlWriter } from '../platform/db/sql-writer.ts';
import {
  FINISHED_STATUSES,
  pruneDeadLetters,
  pruneFences,
  pruneJobsBatch,
  pruneOutbox,
  pruneProcessedMessages,
} from './retention-repository.ts';

/**
 * Housekeeping on a timer: deletes processed-message keys (and outbox rows marked sent by versions
 * before migration 0010: relays now delete what they publish, outbox-rows.ts) older than
 * RETENTION_HOURS, idempotency fences past their expiry, finished jobs past JOB_RETENTION_HOURS
 * and dead ones past DEAD_RETENTION_DAYS (docs/jobs.md, "Retention"). Deletes run in batches of
 * `MAINTENANCE_BATCH` rows (short transactions, no long locks next to the outbox relay) and
 * each run takes a MariaDB named lock, so with several API instances one cleans while the others
 * skip that round. The deletes are idempotent anyway: the lock only saves wasted work and
 * avoids lock waits between instances.
 */

export const MAINTENANCE_INTERVAL_MS = 60_000;
export const MAINTENANCE_BATCH = 1000;
/** Batches per table per run; what is left waits for the next run rather than hogging the pool. */
const MAX_BATCHES_PER_RUN = 200;
/** Jobs per retention batch (each is three short statements by primary key). */
export const RETENTION_BATCH = 500;
/**
 * A breath between retention batches: the deletes never hold the connection pool or InnoDB's
 * purge for long stretches, so writes keep their latency while a backlog is pruned.
 */
export const RETENTION_PAUSE_MS = 20;
/**
 * The share of the time job retention may spend deleting: after a batch it rests three times as
 * long as the batch took. Deleting as fast as it could (~4,100 jobs/s on 2 cores) took the CPU
 * and the redo log from the writes (docs/jobs.md, "Retention").
 */
const RETENTION_DUTY = 0.25;

export interface MaintenanceDeps {
  config: Config;
  database: Database;
  logger: Logger;
}

export interface MaintenanceResult {
  /** False when another instance held the lock. */
  ran: boolean;
  outbox: number;
  fences: number;
  processedMessages: number;
  /** Finished jobs deleted (with their attempts), past JOB_RETENTION_HOURS. */
  finishedJobs: number;
  /** Dead jobs deleted (with attempts and dead letters), past DEAD_RETENTION_DAYS. */
  deadJobs: number;
  deadLetters: number;
}

/** Named locks are server-wide in MariaDB: scope ours to the database. */
function lockName(config: Config): string {
  return `notes_maintenance:${config.database.name}`.slice(0, 64);
}

/** One maintenance pass; `now` is injectable so a test decides what is old. */
export async function runMaintenanceOnce(deps: MaintenanceDeps, now = new Date()): Promise<MaintenanceResult> {
  const result: MaintenanceResult = {
    ran: false,
    outbox: 0,
    fences: 0,
    processedMessages: 0,
    finishedJobs: 0,
    deadJobs: 0,
    deadLetters: 0,
  };
  const cutoff = new Date(now.getTime() - deps.config.retentionHours * 3_600_000);
  // GET_LOCK belongs to a connection: hold one for the whole pass.
  const conn = await deps.database.pool.getConnection();
  const lock = lockName(deps.config);
  try {
    const [rows] = await conn.query('SELECT GET_LOCK(?, 0) AS got', [lock]);
    if ((rows as { got: number | null }[])[0]?.got !== 1) return result;
    result.ran = true;
    // The deletes are READ COMMITTED transactions of the writer (retention-repository.ts): under
    // REPEATABLE READ a ranged DELETE also locks the gap new outbox rows are inserted into,
    // stalling every write for the length of the batch; READ COMMITTED locks only the rows it deletes.
    const { writer } = deps.database;
    try {
      result.outbox = await deleteInBatches(() => pruneOutbox(writer, cutoff, MAINTENANCE_BATCH));
      result.fences = await deleteInBatches(() => pruneFences(writer, now, MAINTENANCE_BATCH));
      result.processedMessages = await deleteInBatches(() => pruneProcessedMessages(writer, cutoff, MAINTENANCE_BATCH));
      const jobCutoff = new Date(now.getTime() - deps.config.jobRetentionHours * 3_600_000);
      const deadCutoff = new Date(now.getTime() - deps.config.deadRetentionDays * 86_400_000);
      result.finishedJobs = await pruneJobs(conn, writer, FINISHED_STATUSES, jobCutoff);
      result.deadJobs = await pruneJobs(conn, writer, ['dead'], deadCutoff);
      result.deadLetters = await pruneInBatches(() => pruneDeadLetters(writer, deadCutoff, RETENTION_BATCH));
    } finally {
      await conn.query('SELECT RELEASE_LOCK(?)', [lock]);
    }
  } finally {
    conn.release();
  }
  return result;
}

async function deleteInBatches(batch: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const deleted = await batch();
    total += deleted;
    if (deleted < MAINTENANCE_BATCH) break;
  }
  return total;
}

/**
 * Prunes jobs of these statuses finished before `cutoff`, a batch at a time with a breath between
 * batches, at most `maxBatches` per status (what is left waits for the next pass). Read on `conn`,
 * deleted in READ COMMITTED transactions of the writer (no gap locks) whose counter changes go to
 * the retention's own shard, a batch locks only the rows it deletes: nothing a write touches. `stop` ends it between batches
 * (the retention benchmark); `onBatch` hears each batch's count.
 */
export async function pruneJobs(
  conn: PoolConnection,
  writer: SqlWriter,
  statuses: readonly string[],
  cutoff: Date,
  opts: { maxBatches?: number; stop?: () => boolean; onBatch?: (deleted: number) => void } = {},
): Promise<number> {
  let total = 0;
  for (const status of statuses) {
    let after: Date | null = null;
    for (let i = 0; i < (opts.maxBatches ?? MAX_BATCHES_PER_RUN) && !opts.stop?.(); i++) {
      const started = performance.now();
      const batch = await pruneJobsBatch(conn, writer, status, cutoff, RETENTION_BATCH, after);
      total += batch.deleted;
      opts.onBatch?.(batch.deleted);
      if (batch.next === null) break;
      after = batch.next;
      const took = performance.now() - started;
      await sleep(Math.max(RETENTION_PAUSE_MS, (took * (1 - RETENTION_DUTY)) / RETENTION_DUTY));
    }
  }
  return total;
}

async function pruneInBatches(batch: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const n = await batch();
    total += n;
    if (n < RETENTION_BATCH) break;
    await sleep(RETENTION_PAUSE_MS);
  }
  return total;
}

/** ±20 %, so instances started together drift apart. */
const jittered = (ms: number) => Math.round(ms * (0.8 + Math.random() * 0.4));

/**
 * Runs maintenance every minute (jittered) until stopped; the first pass comes after a random
 * part of an interval. A failed pass is logged and retried next time. `stop()` is idempotent
 * and waits for a pass in progress.
 */
export function startMaintenance(deps: MaintenanceDeps, opts: { intervalMs?: number } = {}): { stop(): Promise<void> } {
  const interval = opts.intervalMs ?? MAINTENANCE_INTERVAL_MS;
  let stopped = false;
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;

  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(tick, delay);
    timer.unref();
  };
  const tick = () => {
    running = runMaintenanceOnce(deps)
      .then((r) => {
        if (r.outbox || r.fences || r.processedMessages || r.finishedJobs || r.deadJobs || r.deadLetters)
          deps.logger.info({ maintenance: r }, 'maintenance deleted rows');
      })
      .catch((err) => deps.logger.warn({ err }, 'maintenance pass failed; will retry'))
      .finally(() => {
        running = null;
        schedule(jittered(interval));
      });
  };
  schedule(Math.round(Math.random() * interval));

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
