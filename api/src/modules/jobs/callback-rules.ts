import type {
  CompleteItem,
  FailItem,
  InternalJob,
  InternalNote,
  InternalWebhook,
  RecordItemResponse,
  RecordResult,
  StartItem,
  StartItemResponse,
  StartResponse,
} from '@notes/contracts/callbacks';
import type { AttemptOutcome, JobStatus, NoteResult } from '../../platform/db/schema.ts';
import { promotedJob } from '../dlq/index.ts';
import { toNote } from '../notes/index.ts';
import { type AfterCommit, type CallbackBatch, messageKey } from './callback-batch.ts';
import type { JobRow, NoteRow, WebhookRow } from './callbacks-repository.ts';

/**
 * What one callback does to its job and note (docs/guarantees.md), applied to a loaded batch's
 * rows in memory (callback-batch.ts): the same rules whether the item came alone, in a batch of
 * its kind or in a mixed batch. Each answers what the single route would.
 */

/** A job in one of these states is settled: no callback changes it again (promote-dlq re-queues first). */
const SETTLED: ReadonlySet<JobStatus> = new Set(['processed', 'dead', 'skipped', 'discarded']);

export const startKey = (i: StartItem) => messageKey(i.job_id, i.run, `start:${i.attempt}`);
export const completeKey = (i: CompleteItem) => messageKey(i.job_id, i.run, 'complete');
export const failKey = (i: FailItem) => messageKey(i.job_id, i.run, i.final ? 'fail:final' : `fail:retry:${i.attempt}`);

/** What a start item needs besides the batch: its webhooks by id, and promotions under way. */
export interface StartLookups {
  hooks: ReadonlyMap<string, WebhookRow>;
  promotions: ReadonlyMap<string, string>;
}

/** May the consumer run this job? Marks it (and, for note.process, its note) processing. */
export function applyStart(batch: CallbackBatch, item: StartItem, lookups: StartLookups): StartItemResponse {
  const now = batch.now;
  const answer = (response: StartResponse) => ({ job_id: item.job_id, ...response });
  let job = batch.jobs.get(item.job_id);
  if (!job) return answer({ proceed: false, reason: 'unknown' });
  // A promoted copy that got here before its promoter marked the job: the promotion takes
  // effect now (docs/jobs.md, "Promote"), so the job is never queued while its message is dead.
  if (job.status === 'dead' && item.run && lookups.promotions.get(job.id) === item.run) {
    job = takeOverPromotion(batch, job, item.run);
  }
  if (SETTLED.has(job.status)) return answer({ proceed: false, reason: 'finished' });
  // A copy from a run the job has left (it was promoted since) must not run.
  if (job.run && job.run !== (item.run ?? null)) return answer({ proceed: false, reason: 'stale' });
  // A repeated start (a redelivery after a crash) may run the job again but records nothing
  // new; a first copy of a job that is running is a duplicate publish and does not run.
  const fresh = batch.claim(startKey(item));
  if (!fresh && job.status === 'processing' && item.first_copy) return answer({ proceed: false, reason: 'running' });
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
  const webhook = job.kind === 'webhook.deliver' && job.webhookId ? lookups.hooks.get(job.webhookId) : undefined;
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
}

/**
 * Records a success: the note's result (if the note is still at its job's version), the job,
 * and one webhook delivery per endpoint of the owner subscribed to `note.processed`.
 */
export function applyComplete(
  batch: CallbackBatch,
  item: CompleteItem,
  endpoints: ReadonlyMap<string, readonly WebhookRow[]>,
): RecordItemResponse {
  const now = batch.now;
  const job = batch.jobs.get(item.job_id);
  const outcome = ((): RecordItemResponse['outcome'] => {
    if (!job) return 'unknown';
    if (job.kind === 'note.process' && !item.result) return 'rejected';
    // One success per run, whatever the attempt: a redelivered complete is a no-op.
    if (!batch.claim(completeKey(item))) return 'duplicate';
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
    batch.patchNote(note, {
      status: 'processed',
      result: item.result as NoteResult,
      processedAt: now,
      attempts: item.attempt,
      lastError: null,
      // The room kept for the result goes as the result comes: the row keeps its size.
      reserve: null,
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
    batch.after.events.push({ userId: note.userId, type: 'note.processed', noteId: note.id });
    batch.after.invalidate.add(note.userId);
    return 'processed';
  })();
  return recordAnswer(batch.after, item.job_id, job, outcome);
}

/**
 * Records a failed attempt. Not final: the job (and its note, at the same version) is `failed`
 * while a retry waits. Final: the message is in the DLQ and the job is `dead`; a note.process
 * job takes its note with it, a dead webhook delivery leaves the note processed.
 */
export function applyFail(batch: CallbackBatch, item: FailItem): RecordItemResponse {
  const now = batch.now;
  const job = batch.jobs.get(item.job_id);
  const outcome = ((): RecordResult => {
    if (!job) return 'unknown';
    if (!batch.claim(failKey(item))) return 'duplicate';
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
      batch.patchNote(owned, { status: 'dead', lastError: item.error, attempts: item.attempt });
      batch.after.events.push({ userId: owned.userId, type: 'note.dead', noteId: owned.id });
      batch.after.invalidate.add(owned.userId);
    }
    return 'dead';
  })();
  return recordAnswer(batch.after, item.job_id, job, outcome);
}

/** What the promoter's second step does (failure-inbox-repository.ts), done by the first copy to arrive. */
function takeOverPromotion(batch: CallbackBatch, job: JobRow, run: string): JobRow {
  const now = batch.now;
  const queued = batch.patchJob(job, promotedJob(run, now));
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
