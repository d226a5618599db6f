import type { JobKind, Priority } from '@notes/contracts';
import type {
  CompleteBody,
  CompleteItem,
  FailBody,
  FailItem,
  InternalJob,
  InternalNote,
  InternalWebhook,
  RecordItemResponse,
  RecordResponse,
  RecordResult,
  StartBody,
  StartItem,
  StartItemResponse,
  StartResponse,
} from '@notes/contracts/callbacks';
import type { Logger } from 'pino';
import type { Database } from '../../platform/db/client.ts';
import type { AttemptOutcome, JobStatus, NoteResult } from '../../platform/db/schema.ts';
import type { WriteTx } from '../../platform/db/sql-writer.ts';
import { BadRequestError } from '../../platform/errors/index.ts';
import { eventInsert } from '../events/index.ts';
import { toNote } from '../notes/index.ts';
import { type AfterCommit, CallbackBatch, messageKey } from './callback-batch.ts';
import { type JobRow, type NoteRow, pendingPromotions, subscribedByUser } from './callbacks-repository.ts';
import type { OutboxNotifier } from './job-enqueue.ts';

/** A job in one of these states is settled: no callback changes it again (promote-dlq re-queues first). */
const SETTLED: ReadonlySet<JobStatus> = new Set(['processed', 'dead', 'skipped', 'discarded']);

/** A deadlock (or a key race) rolls the whole batch back; it is safe to run it again from the start. */
const MAX_TRIES = 3;

export interface JobCallbackDeps {
  database: Database;
  logger: Logger;
  /** Publishes the live events this batch wrote to the outbox (live-event-relay.ts). */
  liveEvents: { nudge(): void };
  outbox: OutboxNotifier;
  /** Drops the owner's cached note reads after a note changed (notes read cache). */
  invalidateNotes?: (userId: string) => Promise<unknown>;
  /** Told what each complete/fail did (metrics). */
  onRecorded?: (job: { kind: string; priority: string }, outcome: RecordResult) => void;
  /** Told how many jobs a committed batch enqueued (metrics). */
  onEnqueued?: (job: { kind: JobKind; priority: Priority }, count: number) => void;
}

/**
 * The consumers' callbacks: the only way a job's outcome reaches the database. A batch of them
 * runs in one transaction that locks the job rows, records a processed-message key per callback
 * (a repeat finds it and changes nothing) and compares each note's version with its job's, so a
 * redelivered or stale job never overwrites a newer state (docs/guarantees.md). The single-job
 * routes are batches of one.
 */
export class JobCallbacks {
  constructor(private readonly deps: JobCallbackDeps) {}

  /** May the consumer run these jobs? Marks each (and, for note.process, its note) processing. */
  async startMany(items: readonly StartItem[]): Promise<StartItemResponse[]> {
    const keyOf = (i: StartItem) => messageKey(i.job_id, i.run, `start:${i.attempt}`);
    const keys = items.map((i) => ({ jobId: i.job_id, key: keyOf(i) }));
    return this.#inTransaction(async (tx, now) => {
      const batch = await CallbackBatch.load(
        tx,
        now,
        items.map((i) => i.job_id),
        keys,
        () => true,
        'of-jobs',
      );
      const hooks = new Map(batch.webhooks.map((w) => [w.id, w]));
      const promotions = await loadPromotions(tx, batch, items);
      const answers = items.map((item): StartItemResponse => {
        const answer = (response: StartResponse) => ({ job_id: item.job_id, ...response });
        let job = batch.jobs.get(item.job_id);
        if (!job) return answer({ proceed: false, reason: 'unknown' });
        // A promoted copy that got here before its promoter marked the job: the promotion takes
        // effect now (docs/jobs.md, "Promote"), so the job is never queued while its message is dead.
        if (job.status === 'dead' && item.run && promotions.get(job.id) === item.run) {
          job = takeOverPromotion(batch, job, item.run);
        }
        if (SETTLED.has(job.status)) return answer({ proceed: false, reason: 'finished' });
        // A copy from a run the job has left (it was promoted since) must not run.
        if (job.run && job.run !== (item.run ?? null)) return answer({ proceed: false, reason: 'stale' });
        // A repeated start (a redelivery after a crash) may run the job again but records nothing
        // new; a first copy of a job that is running is a duplicate publish and does not run.
        const fresh = batch.claim(keyOf(item));
        if (!fresh && job.status === 'processing' && item.first_copy)
          return answer({ proceed: false, reason: 'running' });
        // This attempt failed already and its retry copy exists (published before the failure was
        // recorded): running it again would start a second retry chain. A "retry now" copy makes
        // the waiting retry copy such a repeat (docs/jobs.md, "Retry now").
        if (!fresh && job.status === 'failed' && job.attempts >= item.attempt)
          return answer({ proceed: false, reason: 'stale' });
        const note = batch.notes.get(job.noteId);
        if (!note) {
          batch.skip(job, 'the note was deleted');
          return answer({ proceed: false, reason: 'deleted' });
        }
        if (note.version !== job.noteVersion) {
          batch.skip(job, `stale: the note is at version ${note.version}`);
          return answer({ proceed: false, reason: 'stale' });
        }
        const webhook = job.kind === 'webhook.deliver' && job.webhookId ? hooks.get(job.webhookId) : undefined;
        if (job.kind === 'webhook.deliver' && !webhook) {
          batch.skip(job, 'the webhook endpoint was deleted');
          return answer({ proceed: false, reason: 'deleted' });
        }
        if (webhook?.disabledAt) {
          batch.skip(job, `the webhook endpoint is disabled: ${webhook.disabledReason ?? 'gone'}`);
          return answer({ proceed: false, reason: 'disabled' });
        }
        const current = { job, note };
        if (fresh) {
          const attempts = item.attempt;
          current.job = batch.patchJob(job, { status: 'processing', attempts, startedAt: now, updatedAt: now });
          if (job.kind === 'note.process' && note.status !== 'processed') {
            current.note = batch.patchNote(note, { status: 'processing', attempts });
            batch.after.invalidate.add(note.userId);
          }
        }
        return answer({
          proceed: true,
          job: toJobView(current.job),
          note: toNoteView(current.note),
          ...(webhook ? { webhook: toWebhookView(webhook) } : {}),
        });
      });
      return { batch, answers };
    });
  }

  /** Records successes: each note's result (if the note is still at its job's version) and the job. */
  async completeMany(items: readonly CompleteItem[]): Promise<RecordItemResponse[]> {
    const keyOf = (i: CompleteItem) => messageKey(i.job_id, i.run, 'complete');
    const keys = items.map((i) => ({ jobId: i.job_id, key: keyOf(i) }));
    return this.#inTransaction(async (tx, now) => {
      const batch = await CallbackBatch.load(
        tx,
        now,
        items.map((i) => i.job_id),
        keys,
        (job) => job.kind === 'note.process',
        'of-owners',
      );
      const endpoints = subscribedByUser(batch.webhooks, 'note.processed');
      const answers = items.map((item) => {
        const job = batch.jobs.get(item.job_id);
        const outcome = ((): RecordItemResponse['outcome'] => {
          if (!job) return 'unknown';
          if (job.kind === 'note.process' && !item.result) return 'rejected';
          // One success per run, whatever the attempt: a redelivered complete is a no-op.
          if (!batch.claim(keyOf(item))) return 'duplicate';
          batch.recordAttempt(attemptRow(job.id, item, 'processed', now));
          if (SETTLED.has(job.status)) return 'finished';
          const finished = { status: 'processed' as const, attempts: item.attempt, lastError: null, finishedAt: now };
          if (job.kind === 'webhook.deliver') {
            batch.patchJob(job, { ...finished, updatedAt: now });
            return 'processed';
          }
          const note = batch.notes.get(job.noteId);
          if (!note) {
            batch.skip(job, 'the note was deleted');
            return 'deleted';
          }
          if (note.version !== job.noteVersion) {
            batch.skip(job, `stale: the note is at version ${note.version}`);
            return 'stale';
          }
          // Recording a result is not a user's change: version and updated_at stay as they are.
          const processed = batch.patchNote(note, {
            status: 'processed',
            result: item.result as NoteResult,
            processedAt: now,
            attempts: item.attempt,
            lastError: null,
          });
          batch.patchJob(job, { ...finished, updatedAt: now });
          for (const endpoint of endpoints.get(note.userId) ?? []) {
            batch.enqueue({
              kind: 'webhook.deliver',
              noteId: note.id,
              noteVersion: note.version,
              userId: note.userId,
              priority: note.priority,
              webhookId: endpoint.id,
              // A batch is a request of its own: the delivery continues the trace of the job it follows.
              ...(item.traceparent ? { traceparent: item.traceparent } : {}),
            });
          }
          batch.after.events.push({ userId: note.userId, type: 'note.processed', data: toNote(processed) });
          batch.after.invalidate.add(note.userId);
          return 'processed';
        })();
        return recordAnswer(batch.after, item.job_id, job, outcome);
      });
      return { batch, answers };
    });
  }

  /**
   * Records failed attempts. Not final: the job (and its note, at the same version) is `failed`
   * while a retry waits. Final: the message is in the DLQ and the job is `dead`; a note.process
   * job takes its note with it, a dead webhook delivery leaves the note processed.
   */
  async failMany(items: readonly FailItem[]): Promise<RecordItemResponse[]> {
    const keyOf = (i: FailItem) => messageKey(i.job_id, i.run, i.final ? 'fail:final' : `fail:retry:${i.attempt}`);
    const keys = items.map((i) => ({ jobId: i.job_id, key: keyOf(i) }));
    return this.#inTransaction(async (tx, now) => {
      const batch = await CallbackBatch.load(
        tx,
        now,
        items.map((i) => i.job_id),
        keys,
        (job) => job.kind === 'note.process',
      );
      const answers = items.map((item) => {
        const job = batch.jobs.get(item.job_id);
        const outcome = ((): RecordResult => {
          if (!job) return 'unknown';
          if (!batch.claim(keyOf(item))) return 'duplicate';
          batch.recordAttempt(attemptRow(job.id, item, item.final ? 'dead' : 'failed', now, item.error));
          if (SETTLED.has(job.status)) return 'finished';
          // A late report from an older attempt must not turn a newer attempt's state back.
          if (!item.final && item.attempt < job.attempts) return 'stale';

          const attempts = Math.max(job.attempts, item.attempt);
          const note = job.kind === 'note.process' ? batch.notes.get(job.noteId) : undefined;
          // The note follows its job only while it is at the job's version and has no result yet.
          const owned = note && note.version === job.noteVersion && note.status !== 'processed' ? note : undefined;
          if (!item.final) {
            batch.patchJob(job, { status: 'failed', lastError: item.error, attempts, updatedAt: now });
            if (owned) {
              batch.patchNote(owned, { status: 'failed', lastError: item.error, attempts: item.attempt });
              batch.after.invalidate.add(owned.userId);
            }
            return 'failed';
          }
          batch.patchJob(job, {
            status: 'dead',
            lastError: item.error,
            deadReason: item.reason ?? item.error,
            attempts,
            finishedAt: now,
            updatedAt: now,
          });
          // Standard Webhooks: an endpoint answering 410 Gone wants no more deliveries.
          if (item.webhook_gone && job.kind === 'webhook.deliver' && job.webhookId) {
            batch.disableWebhook(job.webhookId, `410 Gone (delivery ${job.id})`);
          }
          if (owned) {
            const dead = batch.patchNote(owned, { status: 'dead', lastError: item.error, attempts: item.attempt });
            batch.after.events.push({ userId: owned.userId, type: 'note.dead', data: toNote(dead) });
            batch.after.invalidate.add(owned.userId);
          }
          return 'dead';
        })();
        return recordAnswer(batch.after, item.job_id, job, outcome);
      });
      return { batch, answers };
    });
  }

  async start(jobId: string, body: StartBody): Promise<StartResponse> {
    const [{ job_id: _, ...answer }] = (await this.startMany([{ job_id: jobId, ...body }])) as [StartItemResponse];
    return answer;
  }

  async complete(jobId: string, body: CompleteBody): Promise<RecordResponse> {
    return single(await this.completeMany([{ job_id: jobId, ...body }]));
  }

  async fail(jobId: string, body: FailBody): Promise<RecordResponse> {
    return single(await this.failMany([{ job_id: jobId, ...body }]));
  }

  /**
   * Runs a batch in one transaction, retried from the start when InnoDB picked it as a deadlock
   * victim (everything it did was rolled back), then does the after-commit work once.
   */
  async #inTransaction<T>(
    run: (tx: WriteTx, now: Date) => Promise<{ batch: CallbackBatch; answers: T[] }>,
  ): Promise<T[]> {
    for (let attempt = 1; ; attempt++) {
      const now = new Date();
      try {
        const { batch, answers } = await this.deps.database.writer.transaction(async (tx) => {
          const done = await run(tx, now);
          done.batch.write(tx);
          // The batch's live events commit with it; the relay publishes them after.
          if (done.batch.after.events.length)
            tx.insert(...done.batch.after.events.map((e) => eventInsert(e.userId, e.type, e.data)));
          return done;
        });
        await this.#afterCommit(batch.after);
        return answers;
      } catch (err) {
        if (attempt >= MAX_TRIES || !isRetryable(err)) throw err;
        this.deps.logger.warn({ err, attempt }, 'callback batch rolled back; running it again');
      }
    }
  }

  /** Side effects after the commit never fail the callback: the outcome is already durable. */
  async #afterCommit(after: AfterCommit): Promise<void> {
    const { deps } = this;
    for (const r of after.recorded) deps.onRecorded?.(r.job, r.outcome as RecordResult);
    const enqueued = [...after.enqueued].filter(([, count]) => count > 0);
    if (enqueued.length > 0) deps.outbox.nudge();
    for (const [priority, count] of enqueued) deps.onEnqueued?.({ kind: 'webhook.deliver', priority }, count);
    // Invalidate before the events go out: a client that reads on an event must not get the old note.
    await Promise.all(
      [...after.invalidate].map((userId) =>
        deps.invalidateNotes?.(userId).catch((err: unknown) => {
          deps.logger.warn({ err, user_id: userId }, 'note cache not invalidated');
        }),
      ),
    );
    if (after.events.length) deps.liveEvents.nudge();
  }
}

/** The promotions under way for the dead jobs of a start batch (a query only when there are some). */
async function loadPromotions(tx: WriteTx, batch: CallbackBatch, items: readonly StartItem[]) {
  const ids = items.filter((i) => i.run && batch.jobs.get(i.job_id)?.status === 'dead').map((i) => i.job_id);
  if (ids.length === 0) return new Map<string, string>();
  const rows = await tx.query<{ job_id: string; run: string }>(pendingPromotions(ids));
  return new Map(rows.map((r) => [r.job_id, r.run]));
}

/** What the promoter's second step does (failure-inbox-repository.ts), done by the first copy to arrive. */
function takeOverPromotion(batch: CallbackBatch, job: JobRow, run: string): JobRow {
  const now = batch.now;
  const queued = batch.patchJob(job, {
    status: 'queued',
    attempts: 0,
    deadReason: null,
    finishedAt: null,
    run,
    updatedAt: now,
  });
  const note = batch.notes.get(job.noteId);
  if (job.kind === 'note.process' && note?.status === 'dead' && note.version === job.noteVersion) {
    batch.patchNote(note, { status: 'queued' });
    batch.after.invalidate.add(note.userId);
  }
  batch.dropDeadLetter(job.id);
  return queued;
}

/** One finished attempt as the consumer reported it; `now` (the API's clock) is when it was recorded. */
function attemptRow(
  jobId: string,
  item: CompleteItem | FailItem,
  outcome: AttemptOutcome,
  now: Date,
  error: string | null = null,
) {
  const started = item.started_at
    ? new Date(item.started_at)
    : item.duration_ms !== undefined
      ? new Date(now.getTime() - item.duration_ms)
      : null;
  return {
    jobId,
    number: item.attempt,
    run: item.run ?? null,
    startedAt: started,
    finishedAt: now,
    outcome,
    errorClass: item.error_class ?? null,
    errorMessage: error,
    httpStatus: item.http_status ?? null,
    responseExcerpt: item.response_excerpt ?? null,
    durationMs: item.duration_ms ?? null,
    traceId: item.trace_id ?? item.traceparent?.slice(3, 35) ?? null,
  };
}

function recordAnswer(
  after: AfterCommit,
  jobId: string,
  job: JobRow | undefined,
  outcome: RecordItemResponse['outcome'],
): RecordItemResponse {
  if (outcome === 'rejected') {
    return { job_id: jobId, recorded: false, outcome, error: 'result is required to complete a note.process job.' };
  }
  if (job) after.recorded.push({ job, outcome });
  return { job_id: jobId, recorded: outcome === 'processed' || outcome === 'failed' || outcome === 'dead', outcome };
}

/** A single route's answer: its only item, and a refused item is the single route's 400. */
function single(answers: RecordItemResponse[]): RecordResponse {
  const [answer] = answers as [RecordItemResponse];
  if (answer.outcome === 'rejected') throw new BadRequestError(answer.error ?? 'rejected', { result: 'missing' });
  return { recorded: answer.recorded, outcome: answer.outcome };
}

/**
 * A deadlock victim, or a processed-message key some other transaction wrote meanwhile (keys are
 * written under their job's lock, so that should not happen; rather than guess, run again and
 * read it): everything was rolled back.
 */
function isRetryable(err: unknown): boolean {
  const { errno } = err as { errno?: number };
  return errno === 1213 /* ER_LOCK_DEADLOCK */ || errno === 1062 /* ER_DUP_ENTRY */;
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

function toWebhookView(webhook: { id: string; url: string; secret: string; events: string[] }): InternalWebhook {
  return { id: webhook.id, url: webhook.url, secret: webhook.secret, events: webhook.events };
}
