import type { JobKind, Priority } from '@notes/contracts';
import { carriesError, type JobErrorSync } from '../../platform/db/job-errors.ts';
import { jobAttempts, jobs, notes } from '../../platform/db/schema.ts';
import { type RowInsert, rowInsert, type WriteTx } from '../../platform/db/sql-writer.ts';
import type { StatusTally } from '../../platform/db/status-tally.ts';
import type { NoteEventType } from '../events/index.ts';
import {
  deleteDeadLetters,
  disableWebhook,
  existingMessageKeys,
  findWebhooks,
  insertMessageKeys,
  type JobRow,
  lockJobs,
  lockNotes,
  type NoteRow,
  toJobRow,
  toNoteRow,
  toWebhookRow,
  updateRows,
  type WebhookRow,
  webhooksOfUsers,
} from './callbacks-repository.ts';
import { type JobToEnqueue, jobInserts } from './job-enqueue.ts';

/** Work to do once the transaction has committed: never before, so nobody sees a rolled-back state. */
export class AfterCommit {
  readonly enqueued = new Map<Priority, number>();
  readonly events: { userId: string; type: NoteEventType; noteId: string }[] = [];
  readonly invalidate = new Set<string>();
  readonly recorded: { job: JobRow; outcome: string }[] = [];
}

/** Which rows a batch loads besides its jobs (CallbackBatch.load). */
export interface LoadPlan {
  /** Jobs whose note is locked and loaded. */
  note: (job: JobRow) => boolean;
  /** webhook.deliver jobs whose endpoint is loaded (starts hand it to the consumer). */
  hooksById?: (job: JobRow) => boolean;
  /** Jobs (among those with a note) whose owner's endpoints are all loaded (completions enqueue deliveries). */
  hooksOfOwner?: (job: JobRow) => boolean;
}

/**
 * One batch of callbacks inside its transaction. Loads everything the rules need in two round
 * trips (jobs and notes locked, in that order), lets the service apply each item in request order
 * against the in-memory rows, then writes what changed in a few statements that travel with the
 * COMMIT.
 * Applying items to the rows in memory makes a batch behave exactly like its items sent one by one:
 * a job that appears twice sees its first item's effect (its key is claimed, its status moved on).
 */
export class CallbackBatch {
  readonly after = new AfterCommit();
  readonly #newKeys: string[] = [];
  readonly #jobPatches = new Map<string, Partial<JobRow>>();
  readonly #notePatches = new Map<string, Partial<NoteRow>>();
  readonly #enqueues: JobToEnqueue[] = [];
  readonly #disabled = new Map<string, string>();
  readonly #attempts: RowInsert[] = [];
  readonly #settledDeadLetters: string[] = [];

  readonly #claimed: Set<string>;

  private constructor(
    readonly now: Date,
    readonly jobs: Map<string, JobRow>,
    readonly notes: Map<string, NoteRow>,
    readonly webhooks: readonly WebhookRow[],
    claimed: Set<string>,
    private readonly counts: StatusTally,
    private readonly jobErrors: JobErrorSync,
  ) {
    this.#claimed = claimed;
  }

  /**
   * Locks the batch's jobs and reads which of `keys` were recorded before (one round trip), then
   * locks the notes of the jobs `plan.note` picks and reads the webhooks the batch needs (a
   * second): the endpoints of the webhook.deliver jobs `plan.hooksById` picks, and every
   * endpoint of the owners of the jobs `plan.hooksOfOwner` picks (those come first, oldest first).
   */
  static async load(
    tx: WriteTx,
    now: Date,
    jobIds: readonly string[],
    keys: readonly string[],
    plan: LoadPlan,
  ): Promise<CallbackBatch> {
    const [jobRaw, keyRaw] = await tx.queryAll([lockJobs(jobIds), existingMessageKeys(keys)]);
    const jobRows = new Map((jobRaw as Record<string, unknown>[]).map((raw) => toJobRow(raw)).map((j) => [j.id, j]));
    const claimed = new Set((keyRaw as { key: string }[]).map((r) => r.key));

    const loaded = [...jobRows.values()];
    const owned = loaded.filter(plan.note);
    const hookIds = loaded.flatMap((j) =>
      j.kind === 'webhook.deliver' && j.webhookId && plan.hooksById?.(j) ? [j.webhookId] : [],
    );
    const owners = plan.hooksOfOwner ? owned.filter(plan.hooksOfOwner).map((job) => job.userId) : [];
    const [noteRaw, ownerHookRaw, hookRaw] = await tx.queryAll([
      owned.length > 0 ? lockNotes(owned.map((job) => job.noteId)) : null,
      owners.length > 0 ? webhooksOfUsers(owners) : null,
      hookIds.length > 0 ? findWebhooks(hookIds) : null,
    ]);
    const noteRows = new Map((noteRaw as Record<string, unknown>[]).map((raw) => toNoteRow(raw)).map((n) => [n.id, n]));
    const webhookRows = new Map<string, WebhookRow>();
    for (const raw of [...(ownerHookRaw as Record<string, unknown>[]), ...(hookRaw as Record<string, unknown>[])]) {
      const row = toWebhookRow(raw);
      if (!webhookRows.has(row.id)) webhookRows.set(row.id, row);
    }
    return new CallbackBatch(now, jobRows, noteRows, [...webhookRows.values()], claimed, tx.counts, tx.jobErrors);
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
    const before = this.jobs.get(job.id) ?? job;
    this.counts.move('jobs', before.status, next.status);
    // Its job_errors row follows while it has or had error text (docs/data.md, "Search").
    if (carriesError(before) || carriesError(next)) this.jobErrors.changed([job.id]);
    this.jobs.set(job.id, next);
    this.#jobPatches.set(job.id, { ...this.#jobPatches.get(job.id), ...patch });
    return next;
  }

  patchNote(note: NoteRow, patch: Partial<NoteRow>): NoteRow {
    const next = { ...note, ...patch };
    this.counts.move('notes', this.notes.get(note.id)?.status ?? note.status, next.status);
    this.notes.set(note.id, next);
    this.#notePatches.set(note.id, { ...this.#notePatches.get(note.id), ...patch });
    return next;
  }

  /** The job can never apply (its note changed or is gone): settle it without touching the note. */
  skip(job: JobRow, why: string): void {
    this.patchJob(job, { status: 'skipped', lastError: why, finishedAt: this.now, updatedAt: this.now });
  }

  /** Disables a webhook endpoint (it answered 410 Gone), at write(). */
  disableWebhook(id: string, reason: string): void {
    if (!this.#disabled.has(id)) this.#disabled.set(id, reason);
  }

  /** Keeps one finished attempt (docs/jobs.md, "Attempts"); written with the batch. */
  recordAttempt(row: typeof jobAttempts.$inferInsert): void {
    this.#attempts.push(rowInsert(jobAttempts, row));
  }

  /** The job's dead letter leaves the failure inbox: its promotion took effect. */
  dropDeadLetter(jobId: string): void {
    this.#settledDeadLetters.push(jobId);
  }

  enqueue(job: JobToEnqueue & { kind: JobKind }): void {
    this.#enqueues.push(job);
    this.after.enqueued.set(job.priority, (this.after.enqueued.get(job.priority) ?? 0) + 1);
  }

  /**
   * Queues the keys, then every changed row, then the enqueued jobs (with their outbox rows), to
   * go with the COMMIT. A key that some other transaction wrote meanwhile fails the INSERT with a
   * duplicate key and nothing after it runs; the caller rolls back and runs the batch again.
   */
  write(tx: WriteTx): void {
    if (this.#newKeys.length > 0) tx.defer(insertMessageKeys(this.#newKeys, this.now));
    for (const s of updateRows(jobs, this.#jobPatches)) tx.defer(s);
    for (const s of updateRows(notes, this.#notePatches)) tx.defer(s);
    for (const [id, reason] of this.#disabled) tx.defer(disableWebhook(id, this.now, reason));
    tx.insert(...this.#attempts);
    if (this.#settledDeadLetters.length > 0) tx.defer(deleteDeadLetters(this.#settledDeadLetters));
    tx.insert(...this.#enqueues.flatMap((job) => jobInserts(job, this.now).inserts));
  }
}

/** The processed-message key of one callback: job, run (a promoted job starts a new one) and operation. */
export function messageKey(jobId: string, run: string | undefined, op: string): string {
  return `job:${jobId}:${run ?? '0'}:${op}`;
}
