import { jobErrors, jobs } from './schema.ts';
import { namesOf, type RowInsert, type Statement } from './sql-statements.ts';

/**
 * `job_errors`, the jobs that carry error text (docs/data.md, "Search"), kept by the one writer
 * in the transaction that writes the job (migration 0011 dropped the triggers that kept it): a
 * transaction names the jobs whose error text, or whose columns `job_errors` mirrors, it may have
 * changed while they have or had text, and the jobs it deleted; just before its COMMIT, after its
 * writes, their rows are copied from `jobs` (or leave). A job that never has error text, nearly
 * every job, costs nothing: no statement, no trigger.
 */

const JOBS = namesOf(jobs);
const ERRORS = namesOf(jobErrors);
/** The columns job_errors mirrors, by property (its key, job_id, is the job's id). */
const MIRRORED = [
  'noteId',
  'kind',
  'priority',
  'status',
  'lastError',
  'deadReason',
  'createdAt',
  'updatedAt',
  'finishedAt',
] as const;
const q = (name: string | undefined) => `\`${name}\``;
const mirrorColumns = MIRRORED.map((p) => q(ERRORS.columns.get(p)));
const sourceColumns = MIRRORED.map((p) => q(JOBS.columns.get(p)));
const hasText = `(${q(JOBS.columns.get('lastError'))} IS NOT NULL OR ${q(JOBS.columns.get('deadReason'))} IS NOT NULL)`;
const errorsTable = q(ERRORS.table);
const errorsKey = q(ERRORS.columns.get('id'));
const jobsTable = q(JOBS.table);

/** Whether a job, as a row, carries error text (and so has a row in job_errors). */
export function carriesError(job: { lastError?: string | null; deadReason?: string | null }): boolean {
  return job.lastError != null || job.deadReason != null;
}

/**
 * These jobs' rows of job_errors made equal to what `jobs` holds for them: each that carries
 * error text upserted whole, each that does not (or is gone) deleted. Two statements, whatever
 * the number of jobs.
 */
export function syncJobErrors(ids: readonly string[]): Statement[] {
  if (ids.length === 0) return [];
  const updates = mirrorColumns.map((c) => `${c} = VALUE(${c})`).join(', ');
  return [
    {
      sql: `INSERT INTO ${errorsTable} (${errorsKey}, ${mirrorColumns.join(', ')}) SELECT \`id\`, ${sourceColumns.join(', ')} FROM ${jobsTable} WHERE \`id\` IN (?) AND ${hasText} ON DUPLICATE KEY UPDATE ${updates}`,
      values: [ids],
    },
    {
      sql: `DELETE FROM ${errorsTable} WHERE ${errorsKey} IN (?) AND NOT EXISTS (SELECT 1 FROM ${jobsTable} WHERE \`id\` = ${errorsTable}.${errorsKey} AND ${hasText})`,
      values: [ids],
    },
  ];
}

/** job_errors made equal to the jobs with error text, whole (docs/operations.md, after SQL run by hand). */
export function jobErrorsFromJobs(): Statement[] {
  return [
    { sql: `DELETE FROM ${errorsTable}`, values: [] },
    {
      sql: `INSERT INTO ${errorsTable} (${errorsKey}, ${mirrorColumns.join(', ')}) SELECT \`id\`, ${sourceColumns.join(', ')} FROM ${jobsTable} WHERE ${hasText}`,
      values: [],
    },
  ];
}

/** The jobs one transaction of the writer changed or deleted, whose job_errors rows follow at its commit. */
export class JobErrorSync {
  readonly #changed = new Set<string>();
  readonly #deleted = new Set<string>();

  /**
   * Jobs whose error text, or a mirrored column while they carry text, this transaction may
   * have changed (naming a job that has none is harmless: it costs a read of its row).
   */
  changed(ids: Iterable<string>): void {
    for (const id of ids) this.#changed.add(id);
  }

  /** Inserted rows: jobs inserted with error text (by hand-made fixtures and tools) get their row too. */
  inserted(rows: readonly RowInsert[]): void {
    for (const row of rows) {
      if (row.table !== JOBS.table) continue;
      const value = (column: string | undefined) => {
        const i = row.columns.indexOf(column ?? '');
        return i < 0 ? null : row.values[i];
      };
      if (value(JOBS.columns.get('lastError')) != null || value(JOBS.columns.get('deadReason')) != null) {
        this.#changed.add(String(value(JOBS.columns.get('id'))));
      }
    }
  }

  /** Jobs this transaction deleted. */
  deleted(ids: Iterable<string>): void {
    for (const id of ids) this.#deleted.add(id);
  }

  /** The statements that bring job_errors along, to run after the transaction's writes; none for most transactions. */
  statements(): Statement[] {
    const out: Statement[] = [];
    const deleted = [...this.#deleted];
    if (deleted.length > 0)
      out.push({ sql: `DELETE FROM ${errorsTable} WHERE ${errorsKey} IN (?)`, values: [deleted] });
    out.push(...syncJobErrors([...this.#changed].filter((id) => !this.#deleted.has(id))));
    return out;
  }
}
