import type { JobKind, Priority } from '@notes/contracts';
import type { Tx } from '../db/client.ts';
import { jobs, notes } from '../db/schema.ts';
import {
  existingMessageKeys,
  insertMessageKeys,
  type JobRow,
  lockJobs,
  lockNotes,
  type NoteRow,
  updateRows,
} from '../repositories/callbacks-repository.ts';
import type { Note } from '../schemas/notes.ts';
import type { NoteEventType } from './events.ts';
import { enqueueJob, type JobToEnqueue } from './job-enqueue.ts';

/** Work to do once the transaction has committed: never before, so nobody sees a rolled-back state. */
export class AfterCommit {
  readonly enqueued = new Map<Priority, number>();
  readonly events: { userId: string; type: NoteEventType; data: Note }[] = [];
  readonly invalidate = new Set<string>();
  readonly recorded: { job: JobRow; outcome: string }[] = [];
}

/**
 * Some other transaction wrote a processed-message key of a job this one holds locked: that must
 * not happen (keys are written under the job's lock), so rather than guess, roll back and retry.
 */
export class MessageKeyRaceError extends Error {
  override name = 'MessageKeyRaceError';
}

/**
 * One batch of callbacks inside its transaction. Loads everything the rules need with one
 * statement per table (jobs and notes locked, in that order), lets the service apply each item
 * in request order against the in-memory rows, then writes what changed in a few statements.
 * Applying items to the rows in memory makes a batch behave exactly like its items sent one by one:
 * a job that appears twice sees its first item's effect (its key is claimed, its status moved on).
 */
export class CallbackBatch {
  readonly after = new AfterCommit();
  readonly #newKeys: string[] = [];
  readonly #jobPatches = new Map<string, Partial<JobRow>>();
  readonly #notePatches = new Map<string, Partial<NoteRow>>();
  readonly #enqueues: JobToEnqueue[] = [];

  readonly #claimed: Set<string>;

  private constructor(
    readonly now: Date,
    readonly jobs: Map<string, JobRow>,
    readonly notes: Map<string, NoteRow>,
    claimed: Set<string>,
  ) {
    this.#claimed = claimed;
  }

  /**
   * Locks the batch's jobs, reads which of `keys` were recorded before, and locks the notes of
   * the jobs `needsNote` picks.
   */
  static async load(
    tx: Tx,
    now: Date,
    jobIds: readonly string[],
    keys: readonly { jobId: string; key: string }[],
    needsNote: (job: JobRow) => boolean,
  ): Promise<CallbackBatch> {
    const jobRows = await lockJobs(tx, jobIds);
    // Keys of unknown jobs are never claimed: read only those of jobs that exist (all locked now).
    const known = keys.filter((k) => jobRows.has(k.jobId)).map((k) => k.key);
    const claimed = await existingMessageKeys(tx, known);
    const noteIds = [...jobRows.values()].filter(needsNote).map((job) => job.noteId);
    const noteRows = await lockNotes(tx, noteIds);
    return new CallbackBatch(now, jobRows, noteRows, claimed);
  }

  /** Claims a processed-message key: false when the callback was applied before (a duplicate). */
  claim(key: string): boolean {
    if (this.#claimed.has(key)) return false;
    this.#claimed.add(key);
    this.#newKeys.push(key);
    return true;
  }

  /** Changes a job (in memory now, in the database at write()); returns the job as it now is. */
  patchJob(job: JobRow, patch: Partial<JobRow>): JobRow {
    const next = { ...job, ...patch };
    this.jobs.set(job.id, next);
    this.#jobPatches.set(job.id, { ...this.#jobPatches.get(job.id), ...patch });
    return next;
  }

  patchNote(note: NoteRow, patch: Partial<NoteRow>): NoteRow {
    const next = { ...note, ...patch };
    this.notes.set(note.id, next);
    this.#notePatches.set(note.id, { ...this.#notePatches.get(note.id), ...patch });
    return next;
  }

  /** The job can never apply (its note changed or is gone): settle it without touching the note. */
  skip(job: JobRow, why: string): void {
    this.patchJob(job, { status: 'skipped', lastError: why, finishedAt: this.now, updatedAt: this.now });
  }

  enqueue(job: JobToEnqueue & { kind: JobKind }): void {
    this.#enqueues.push(job);
    this.after.enqueued.set(job.priority, (this.after.enqueued.get(job.priority) ?? 0) + 1);
  }

  /** Writes the keys, then every changed row, then the enqueued jobs (with their outbox rows). */
  async write(tx: Tx): Promise<void> {
    const inserted = await insertMessageKeys(tx, this.#newKeys, this.now);
    if (inserted !== this.#newKeys.length) {
      throw new MessageKeyRaceError(`${this.#newKeys.length - inserted} processed-message keys existed already`);
    }
    await updateRows(tx, jobs, this.#jobPatches);
    await updateRows(tx, notes, this.#notePatches);
    for (const job of this.#enqueues) await enqueueJob(tx, job, this.now);
  }
}

/** The processed-message key of one callback: job, run (a promoted job starts a new one) and operation. */
export function messageKey(jobId: string, run: string | undefined, op: string): string {
  return `job:${jobId}:${run ?? '0'}:${op}`;
}
