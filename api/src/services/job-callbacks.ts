import type { JobKind, Priority } from '@notes/contracts';
import type { Logger } from 'pino';
import type { Database, Tx } from '../db/client.ts';
import type { JobStatus, NoteResult } from '../db/schema.ts';
import { BadRequestError } from '../errors/index.ts';
import {
  claimMessageKey,
  findWebhook,
  type JobRow,
  listWebhooksForEvent,
  lockJob,
  lockNote,
  type NoteRow,
  updateJob,
  updateNote,
  type WebhookRow,
} from '../repositories/callbacks-repository.ts';
import { toNote } from '../repositories/notes-repository.ts';
import type {
  CompleteBody,
  FailBody,
  InternalJob,
  InternalNote,
  InternalWebhook,
  RecordResponse,
  RecordResult,
  StartBody,
  StartResponse,
} from '../schemas/internal.ts';
import type { Note } from '../schemas/notes.ts';
import type { EventPublisher, NoteEventType } from './events.ts';
import { enqueueJob, type OutboxNotifier } from './job-enqueue.ts';

/** A job in one of these states is settled: no callback changes it again (promote-dlq re-queues first). */
const SETTLED: ReadonlySet<JobStatus> = new Set(['processed', 'dead', 'skipped', 'discarded']);

export interface JobCallbackDeps {
  database: Database;
  logger: Logger;
  events: Pick<EventPublisher, 'publish'>;
  outbox: OutboxNotifier;
  /** Drops the owner's cached note reads after a note changed (notes read cache). */
  invalidateNotes?: (userId: string) => Promise<unknown>;
  /** Told what each callback did (metrics). */
  onRecorded?: (job: { kind: string; priority: string }, outcome: RecordResult) => void;
  /** Told how many jobs a committed callback enqueued (metrics). */
  onEnqueued?: (job: { kind: JobKind; priority: Priority }, count: number) => void;
}

/** Work to do once the transaction has committed: never before, so nobody sees a rolled-back state. */
class AfterCommit {
  nudge = false;
  enqueued: { job: { kind: JobKind; priority: Priority }; count: number } | null = null;
  readonly events: { userId: string; type: NoteEventType; data: Note }[] = [];
  readonly invalidate = new Set<string>();
}

/**
 * The consumers' callbacks: the only way a job's outcome reaches the database. Each runs in one
 * transaction that locks the job row, records a processed-message key (a repeat of the same
 * callback finds it and changes nothing) and compares the note's version with the job's, so a
 * redelivered or stale job never overwrites a newer state (contract section 6).
 */
export class JobCallbacks {
  constructor(private readonly deps: JobCallbackDeps) {}

  /** May the consumer run this job? Marks it (and, for note.process, its note) processing. */
  async start(jobId: string, body: StartBody): Promise<StartResponse> {
    const now = new Date();
    const after = new AfterCommit();
    const answer = await this.deps.database.db.transaction(async (tx): Promise<StartResponse> => {
      const job = await lockJob(tx, jobId);
      if (!job) return { proceed: false, reason: 'unknown' };
      if (SETTLED.has(job.status)) return { proceed: false, reason: 'finished' };
      // A repeated start (a redelivery after a crash) may run the job again but records nothing new.
      const fresh = await claimMessageKey(tx, messageKey(job.id, body.run, `start:${body.attempt}`), now);
      const note = await lockNote(tx, job.noteId);
      if (!note) {
        await skip(tx, job, 'the note was deleted', now);
        return { proceed: false, reason: 'deleted' };
      }
      if (note.version !== job.noteVersion) {
        await skip(tx, job, `stale: the note is at version ${note.version}`, now);
        return { proceed: false, reason: 'stale' };
      }
      let webhook: WebhookRow | undefined;
      if (job.kind === 'webhook.deliver') {
        webhook = job.webhookId ? await findWebhook(tx, job.webhookId) : undefined;
        if (!webhook) {
          await skip(tx, job, 'the webhook endpoint was deleted', now);
          return { proceed: false, reason: 'deleted' };
        }
      }
      let current = { job, note };
      if (fresh) {
        const jobPatch = { status: 'processing' as const, attempts: body.attempt, startedAt: now, updatedAt: now };
        await updateJob(tx, job.id, jobPatch);
        current = { ...current, job: { ...job, ...jobPatch } };
        if (job.kind === 'note.process' && note.status !== 'processed') {
          const notePatch = { status: 'processing' as const, attempts: body.attempt };
          await updateNote(tx, note.id, notePatch);
          current = { ...current, note: { ...note, ...notePatch } };
          after.invalidate.add(note.userId);
        }
      }
      return {
        proceed: true,
        job: toJobView(current.job),
        note: toNoteView(current.note),
        ...(webhook ? { webhook: toWebhookView(webhook) } : {}),
      };
    });
    await this.#afterCommit(after);
    return answer;
  }

  /** Records a success: the note's result (if the note is still at the job's version) and the job. */
  async complete(jobId: string, body: CompleteBody): Promise<RecordResponse> {
    const now = new Date();
    const after = new AfterCommit();
    const { job, outcome } = await this.deps.database.db.transaction(async (tx) => {
      const job = await lockJob(tx, jobId);
      if (!job) return { job, outcome: 'unknown' as const };
      // One success per run, whatever the attempt: a redelivered complete is a no-op.
      if (!(await claimMessageKey(tx, messageKey(job.id, body.run, 'complete'), now))) {
        return { job, outcome: 'duplicate' as const };
      }
      if (SETTLED.has(job.status)) return { job, outcome: 'finished' as const };
      const finished = { status: 'processed' as const, attempts: body.attempt, lastError: null, finishedAt: now };
      if (job.kind === 'webhook.deliver') {
        await updateJob(tx, job.id, { ...finished, updatedAt: now });
        return { job, outcome: 'processed' as const };
      }

      if (!body.result)
        throw new BadRequestError('result is required to complete a note.process job.', { result: 'missing' });
      const note = await lockNote(tx, job.noteId);
      if (!note) {
        await skip(tx, job, 'the note was deleted', now);
        return { job, outcome: 'deleted' as const };
      }
      if (note.version !== job.noteVersion) {
        await skip(tx, job, `stale: the note is at version ${note.version}`, now);
        return { job, outcome: 'stale' as const };
      }
      // Recording a result is not a user's change: version and updated_at stay as they are.
      const notePatch = {
        status: 'processed' as const,
        result: body.result as NoteResult,
        processedAt: now,
        attempts: body.attempt,
        lastError: null,
      };
      await updateNote(tx, note.id, notePatch);
      await updateJob(tx, job.id, { ...finished, updatedAt: now });

      const endpoints = await listWebhooksForEvent(tx, note.userId, 'note.processed');
      for (const endpoint of endpoints) {
        await enqueueJob(
          tx,
          {
            kind: 'webhook.deliver',
            noteId: note.id,
            noteVersion: note.version,
            userId: note.userId,
            priority: note.priority,
            webhookId: endpoint.id,
          },
          now,
        );
      }
      after.nudge = endpoints.length > 0;
      after.enqueued = { job: { kind: 'webhook.deliver', priority: note.priority }, count: endpoints.length };
      after.events.push({ userId: note.userId, type: 'note.processed', data: toNote({ ...note, ...notePatch }) });
      after.invalidate.add(note.userId);
      return { job, outcome: 'processed' as const };
    });
    await this.#afterCommit(after);
    return this.#recorded(job, outcome);
  }

  /**
   * Records a failed attempt. Not final: the job (and its note, at the same version) is
   * `failed` while a retry waits. Final: the message is in the DLQ and the job is `dead`; a
   * note.process job takes its note with it, a dead webhook delivery leaves the note processed.
   */
  async fail(jobId: string, body: FailBody): Promise<RecordResponse> {
    const now = new Date();
    const after = new AfterCommit();
    const { job, outcome } = await this.deps.database.db.transaction(async (tx) => {
      const job = await lockJob(tx, jobId);
      if (!job) return { job, outcome: 'unknown' as const };
      const op = body.final ? 'fail:final' : `fail:retry:${body.attempt}`;
      if (!(await claimMessageKey(tx, messageKey(job.id, body.run, op), now))) {
        return { job, outcome: 'duplicate' as const };
      }
      if (SETTLED.has(job.status)) return { job, outcome: 'finished' as const };
      // A late report from an older attempt must not turn a newer attempt's state back.
      if (!body.final && body.attempt < job.attempts) return { job, outcome: 'stale' as const };

      const attempts = Math.max(job.attempts, body.attempt);
      const note = job.kind === 'note.process' ? await lockNote(tx, job.noteId) : undefined;
      // The note follows its job only while it is at the job's version and has no result yet.
      const owned = note && note.version === job.noteVersion && note.status !== 'processed' ? note : undefined;
      if (!body.final) {
        await updateJob(tx, job.id, { status: 'failed', lastError: body.error, attempts, updatedAt: now });
        if (owned) {
          await updateNote(tx, owned.id, { status: 'failed', lastError: body.error, attempts: body.attempt });
          after.invalidate.add(owned.userId);
        }
        return { job, outcome: 'failed' as const };
      }
      await updateJob(tx, job.id, {
        status: 'dead',
        lastError: body.error,
        deadReason: body.reason ?? body.error,
        attempts,
        finishedAt: now,
        updatedAt: now,
      });
      if (owned) {
        const notePatch = { status: 'dead' as const, lastError: body.error, attempts: body.attempt };
        await updateNote(tx, owned.id, notePatch);
        after.events.push({ userId: owned.userId, type: 'note.dead', data: toNote({ ...owned, ...notePatch }) });
        after.invalidate.add(owned.userId);
      }
      return { job, outcome: 'dead' as const };
    });
    await this.#afterCommit(after);
    return this.#recorded(job, outcome);
  }

  #recorded(job: JobRow | undefined, outcome: RecordResult): RecordResponse {
    if (job) this.deps.onRecorded?.(job, outcome);
    return { recorded: outcome === 'processed' || outcome === 'failed' || outcome === 'dead', outcome };
  }

  /** Side effects after the commit never fail the callback: the outcome is already durable. */
  async #afterCommit(after: AfterCommit): Promise<void> {
    if (after.nudge) this.deps.outbox.nudge();
    if (after.enqueued?.count) this.deps.onEnqueued?.(after.enqueued.job, after.enqueued.count);
    for (const userId of after.invalidate) {
      await this.deps.invalidateNotes?.(userId).catch((err: unknown) => {
        this.deps.logger.warn({ err, user_id: userId }, 'note cache not invalidated');
      });
    }
    for (const e of after.events) await this.deps.events.publish(e.userId, e.type, e.data);
  }
}

/** The processed-message key of one callback: job, run (a promoted job starts a new one) and operation. */
function messageKey(jobId: string, run: string | undefined, op: string): string {
  return `job:${jobId}:${run ?? '0'}:${op}`;
}

/** The job can never apply (its note changed or is gone): settle it without touching the note. */
async function skip(tx: Tx, job: JobRow, why: string, now: Date): Promise<void> {
  await updateJob(tx, job.id, { status: 'skipped', lastError: why, finishedAt: now, updatedAt: now });
}

function toJobView(job: JobRow): InternalJob {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    note_id: job.noteId,
    note_version: job.noteVersion,
    user_id: job.userId,
    priority: job.priority,
    attempts: job.attempts,
    webhook_id: job.webhookId,
  };
}

/** The public note (as GET /api/notes/:id shows it) plus its owner, which the consumers need. */
function toNoteView(note: NoteRow): InternalNote {
  return { ...toNote(note), user_id: note.userId };
}

function toWebhookView(webhook: WebhookRow): InternalWebhook {
  return { id: webhook.id, url: webhook.url, secret: webhook.secret, events: webhook.events };
}
