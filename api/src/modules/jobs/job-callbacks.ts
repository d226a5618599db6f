import type { JobKind, Priority } from '@notes/contracts';
import type {
  CallbacksBody,
  CallbacksResponse,
  CompleteBody,
  CompleteItem,
  FailBody,
  FailItem,
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
import { isDuplicateKey, retryRolledBack } from '../../platform/db/retry.ts';
import type { WriteTx } from '../../platform/db/sql-writer.ts';
import { BadRequestError } from '../../platform/errors/index.ts';
import { eventInsert } from '../events/index.ts';
import { type AfterCommit, CallbackBatch } from './callback-batch.ts';
import { applyComplete, applyFail, applyStart, completeKey, failKey, startKey } from './callback-rules.ts';
import { pendingPromotions, subscribedByUser } from './callbacks-repository.ts';
import type { OutboxNotifier } from './job-enqueue.ts';

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

type Parts = { start: readonly StartItem[]; complete: readonly CompleteItem[]; fail: readonly FailItem[] };

/**
 * The consumers' callbacks: the only way a job's outcome reaches the database. A batch of them
 * runs in one transaction that locks the job rows, records a processed-message key per callback
 * (a repeat finds it and changes nothing) and compares each note's version with its job's, so a
 * redelivered or stale job never overwrites a newer state (docs/guarantees.md). The rules per
 * item are in callback-rules.ts. A mixed batch (starts, completions and failures together) is
 * one transaction too: one delivery's complete and the next one's start share its three round
 * trips. The single-job routes are batches of one.
 */
export class JobCallbacks {
  constructor(private readonly deps: JobCallbackDeps) {}

  /** Starts, completions and failures of many jobs in one transaction (completions first). */
  async many(body: CallbacksBody): Promise<CallbacksResponse> {
    const parts: Parts = { start: body.start ?? [], complete: body.complete ?? [], fail: body.fail ?? [] };
    if (parts.start.length + parts.complete.length + parts.fail.length === 0) {
      return { start: [], complete: [], fail: [] };
    }
    return this.#apply(parts);
  }

  /** May the consumer run these jobs? Marks each (and, for note.process, its note) processing. */
  async startMany(items: readonly StartItem[]): Promise<StartItemResponse[]> {
    return (await this.#apply({ start: items, complete: [], fail: [] })).start;
  }

  /** Records successes: each note's result (if the note is still at its job's version) and the job. */
  async completeMany(items: readonly CompleteItem[]): Promise<RecordItemResponse[]> {
    return (await this.#apply({ start: [], complete: items, fail: [] })).complete;
  }

  /** Records failed attempts (callback-rules.ts, applyFail). */
  async failMany(items: readonly FailItem[]): Promise<RecordItemResponse[]> {
    return (await this.#apply({ start: [], complete: [], fail: items })).fail;
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
   * One transaction for all the parts. A start needs its job's note and, for a webhook delivery,
   * its endpoint; a completion or failure needs the note of a note.process job, and a completion
   * its owner's endpoints (to enqueue deliveries).
   */
  #apply(parts: Parts): Promise<CallbacksResponse> {
    const starting = new Set(parts.start.map((i) => i.job_id));
    const completing = new Set(parts.complete.map((i) => i.job_id));
    const jobIds = [...parts.complete, ...parts.fail, ...parts.start].map((i) => i.job_id);
    const keys = [...parts.complete.map(completeKey), ...parts.fail.map(failKey), ...parts.start.map(startKey)];
    return this.#inTransaction(async (tx, now) => {
      const batch = await CallbackBatch.load(tx, now, jobIds, keys, {
        note: (job) => job.kind === 'note.process' || starting.has(job.id),
        hooksById: (job) => starting.has(job.id),
        hooksOfOwner: (job) => job.kind === 'note.process' && completing.has(job.id),
      });
      const endpoints = subscribedByUser(batch.webhooks, 'note.processed');
      const complete = parts.complete.map((item) => applyComplete(batch, item, endpoints));
      const fail = parts.fail.map((item) => applyFail(batch, item));
      const lookups = {
        hooks: new Map(batch.webhooks.map((w) => [w.id, w])),
        promotions: await loadPromotions(tx, batch, parts.start),
      };
      const start = parts.start.map((item) => applyStart(batch, item, lookups));
      return { batch, answers: { start, complete, fail } };
    });
  }

  /**
   * Runs a batch in one transaction, retried from the start when InnoDB picked it as a deadlock
   * victim (everything it did was rolled back), then does the after-commit work once.
   *
   * READ COMMITTED: every row the rules depend on is read with a lock (jobs, notes, promotions)
   * or is written only under a lock this batch holds (the processed-message keys, under their
   * job's). Under REPEATABLE READ a locking `IN (…)` read that InnoDB runs as a scan (a small
   * table, a long list) also locked the gap after the last row, where every new note and job is
   * inserted (ids are time-ordered): writes waited for callbacks and deadlocked with them.
   */
  async #inTransaction<T>(run: (tx: WriteTx, now: Date) => Promise<{ batch: CallbackBatch; answers: T }>): Promise<T> {
    const { batch, answers } = await retryRolledBack(
      () => {
        const now = new Date();
        return this.deps.database.callbacks.transaction(async (tx) => {
          const done = await run(tx, now);
          done.batch.write(tx);
          // The batch's live events commit with it; the relay publishes them after.
          if (done.batch.after.events.length)
            tx.insert(...done.batch.after.events.map((e) => eventInsert(e.userId, e.type, e.noteId)));
          return done;
        }, 'READ COMMITTED');
      },
      {
        // A processed-message key some other transaction wrote meanwhile (keys are written under
        // their job's lock, so that should not happen; rather than guess, run again and read it).
        also: isDuplicateKey,
        onRetry: (err, attempt) =>
          this.deps.logger.warn({ err, attempt }, 'callback batch rolled back; running it again'),
      },
    );
    await this.#afterCommit(batch.after);
    return answers;
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

/** A single route's answer: its only item, and a refused item is the single route's 400. */
function single(answers: RecordItemResponse[]): RecordResponse {
  const [answer] = answers as [RecordItemResponse];
  if (answer.outcome === 'rejected') throw new BadRequestError(answer.error ?? 'rejected', { result: 'missing' });
  return { recorded: answer.recorded, outcome: answer.outcome };
}
