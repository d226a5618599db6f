import type { Connection } from 'mysql2/promise';
import { bulkLoad } from './bulk-load.ts';

/**
 * Seeds the data benchmark's volumes straight into the product's tables with INSERT … SELECT from
 * MariaDB's sequence engine, in batches so no transaction grows huge. Rows are what the pipeline
 * would leave: mostly processed, a few queued, failed and dead; two jobs per note. Priority and
 * status do not follow the owner, so the heavy user has every value.
 *
 * Bulk loading the way a restore does: the secondary indexes (FULLTEXT included) and the counter
 * triggers are taken off first, the rows go in in primary-key order, then the same indexes are
 * built back by sorting (one ALTER per table) and the status counters are set from the rows. The
 * schema afterwards is exactly the migrated one (`seed` checks it); only the way there is faster
 * than row-by-row index maintenance into a small buffer pool.
 *
 * Ids are time-ordered like UUIDv7 (a fixed prefix and the sequence number in hex), so
 * "newest first" and the id tie-break agree as they do for real rows.
 */
export interface SeedPlan {
  notes: number;
  jobs: number;
  /** The user who owns one note in `heavyEvery` (a large share, like a busy account). */
  heavyUserId: string;
  heavyEvery: number;
  /** Other owners, spread evenly. */
  otherUsers: number;
  batch: number;
}

/** A word in one note in 50, the heavy user's too (runs of heavyEvery notes): what the benchmark searches for. */
export const RARE_WORD = 'zephyr';
/** Words in 1 note of 3 and in every note: searches with more matches. */
export const COMMON_WORD = 'harbor';
export const EVERY_WORD = 'memo';

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'su', 'ta', 'ri', 'vo', 'pe', 'da', 'go', 'hu', 'zi', 'ba', 'fe', 'wo'];
const syl = (expr: string) => `ELT(1 + (${expr}) % 16, ${SYLLABLES.map((s) => `'${s}'`).join(', ')})`;
/** A pseudo-word of three syllables from a number: 4,096 distinct words. */
const word = (x: string) => `CONCAT(${syl(x)}, ${syl(`(${x}) DIV 16`)}, ${syl(`(${x}) DIV 256`)})`;

const noteId = (s: string) => `CONCAT('00000000-0000-7000-8000-', LPAD(LOWER(HEX(${s})), 12, '0'))`;
const jobId = (s: string) => `CONCAT('00000000-0000-7000-9000-', LPAD(LOWER(HEX(${s})), 12, '0'))`;
const otherUserId = (k: string) => `CONCAT('00000000-0000-7000-a000-', LPAD(LOWER(HEX(${k})), 12, '0'))`;

export type Progress = (what: string, done: number, total: number) => void;

export async function seed(
  db: Connection,
  plan: SeedPlan,
  progress: Progress,
  step: (line: string) => void,
): Promise<void> {
  await bulkLoad(db, ['notes', 'jobs'], () => insertRows(db, plan, progress), step);
  await db.query('ANALYZE TABLE notes, jobs, users');
}

async function insertRows(db: Connection, plan: SeedPlan, progress: Progress): Promise<void> {
  // Spread over the last 200 days, oldest first.
  const spanMs = 200 * 24 * 3600 * 1000;
  const t0 = new Date(Date.now() - spanMs);
  const stepUs = Math.max(1, Math.floor((spanMs * 1000) / Math.max(plan.notes, 1)));
  await db.query(
    `INSERT INTO users (id, email, name, password_hash, role, disabled, created_at, updated_at)
     SELECT ${otherUserId('seq')}, CONCAT('seed-', seq, '@example.test'), CONCAT('Seed user ', seq),
            'not-a-real-hash', 'user', 0, ?, ?
     FROM seq_1_to_${plan.otherUsers}`,
    [t0, t0],
  );
  const owner = (s: string) =>
    `IF((${s}) % ${plan.heavyEvery} = 0, ?, ${otherUserId(`1 + (${s}) % ${plan.otherUsers}`)})`;
  const created = (s: string) => `DATE_ADD(?, INTERVAL (${s}) * ${stepUs} MICROSECOND)`;

  for (let from = 0; from < plan.notes; from += plan.batch) {
    const n = Math.min(plan.batch, plan.notes - from);
    await db.query(
      `INSERT INTO notes (id, user_id, title, body, priority, status, version, attempts, created_at, updated_at, processed_at)
       SELECT ${noteId('s')}, ${owner('s')},
              CONCAT('${EVERY_WORD} ', s, ' ', ${word('s * 7')}),
              CONCAT_WS(' ', ${word('s * 13')}, ${word('s * 31 + 5')}, ${word('s * 101 + 9')}, ${word('s * 211 + 3')},
                        IF((s DIV ${plan.heavyEvery}) % 50 = 7, '${RARE_WORD}', NULL), IF(s % 3 = 1, '${COMMON_WORD}', NULL)),
              ELT(1 + (s DIV 5) % 5, 'low', 'normal', 'high', 'critical', 'max'),
              CASE WHEN (s DIV 3) % 1000 = 0 THEN 'dead' WHEN (s DIV 3) % 1000 = 1 THEN 'failed'
                   WHEN (s DIV 3) % 500 = 2 THEN 'queued' ELSE 'processed' END,
              1, 1, ${created('s')}, ${created('s')}, ${created('s')}
       FROM (SELECT seq + ? AS s FROM seq_1_to_${n}) q`,
      [plan.heavyUserId, t0, t0, t0, from],
    );
    progress('notes', from + n, plan.notes);
  }

  const noteOf = `(1 + (j - 1) % ${plan.notes})`;
  for (let from = 0; from < plan.jobs; from += plan.batch) {
    const n = Math.min(plan.batch, plan.jobs - from);
    await db.query(
      `INSERT INTO jobs (id, note_id, user_id, kind, priority, status, note_version, attempts, last_error, dead_reason,
                         created_at, updated_at, started_at, finished_at)
       SELECT ${jobId('j')}, ${noteId(noteOf)}, ${owner(noteOf)},
              IF(j % 10 = 0, 'webhook.deliver', 'note.process'),
              ELT(1 + j % 5, 'low', 'normal', 'high', 'critical', 'max'),
              st, 1, IF(st IN ('dead', 'failed'), 3, 1),
              IF(st IN ('dead', 'failed'), 'upstream timeout after 30000 ms', NULL),
              IF(st = 'dead', 'upstream timeout after 30000 ms', NULL),
              ${created(noteOf)}, ${created(noteOf)}, ${created(noteOf)},
              IF(st IN ('processed', 'dead'), ${created(noteOf)}, NULL)
       FROM (SELECT j, CASE WHEN j % 1000 = 0 THEN 'dead' WHEN j % 1000 = 1 THEN 'failed'
                            WHEN j % 500 = 2 THEN 'queued' ELSE 'processed' END AS st
             FROM (SELECT seq + ? AS j FROM seq_1_to_${n}) a) q`,
      [plan.heavyUserId, t0, t0, t0, t0, from],
    );
    progress('jobs', from + n, plan.jobs);
  }
}

/** Bytes of data and indexes of the seeded tables, for the report. */
export async function tableSizes(db: Connection, schema: string): Promise<Record<string, number>> {
  const [rows] = await db.query(
    `SELECT table_name AS t, data_length + index_length AS bytes FROM information_schema.tables
     WHERE table_schema = ? AND table_name IN ('notes', 'jobs', 'job_errors')`,
    [schema],
  );
  return Object.fromEntries((rows as { t: string; bytes: number }[]).map((r) => [r.t, Number(r.bytes)]));
}
