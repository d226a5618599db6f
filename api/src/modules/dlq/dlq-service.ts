import {
  assertTopologyOf,
  type Config,
  connectFirst,
  DEFAULT_PRIORITY,
  decodeJobMessage,
  HEADERS,
  isPriority,
  PRIORITIES,
  type Priority,
  QUEUES,
} from '@notes/contracts';
import type { ChannelModel, ConfirmChannel, GetMessage, Message } from 'amqplib';
import type { Database } from '../../platform/db/client.ts';
import { letterFromMessage, newRun, promotedCopy } from './dead-letter.ts';
import { discardJob, listDeadJobs } from './dlq-repository.ts';
import { publishConfirmed } from './failure-inbox.ts';
import { clearPromoting, fileLetters, finishPromotion, letterOfJob } from './failure-inbox-repository.ts';

/**
 * The operator's DLQ actions (docs/operations.md), shared by `npm run promote-dlq` and the admin
 * API. Messages are taken from notes.dlq one at a time with basic.get and manual acks on a
 * confirm channel. A message is acked only after its copy on the work exchange is confirmed, so
 * whatever happens (a crash, a kill, a lost connection) every message is in notes.dlq, in
 * notes.jobs, or at worst in both: never in neither. Messages we don't move are held unacked
 * until the end and then requeued together, so the DLQ keeps its order and nothing is lost.
 */

/** Where to reach RabbitMQ: a URL (a connection of our own, closed after) or a live connection. */
/** A live connection, or the node(s) to open a short-lived one on (the first that answers). */
export type DlqBroker =
  | { amqpUrl: string | readonly string[]; connection?: undefined }
  | { connection: ChannelModel; amqpUrl?: undefined };

export type PromoteOutcome = 'promoted' | 'would-promote' | 'skipped' | 'malformed' | 'failed';

export interface PromoteProgress {
  jobId: string | null;
  outcome: PromoteOutcome;
  error?: string;
  summary: PromoteSummary;
}

export interface PromoteSummary {
  dryRun: boolean;
  /** DLQ messages looked at. */
  examined: number;
  /** Moved back to work (in a dry run: that would be). */
  promoted: number;
  /** Not selected by `jobIds`. */
  skipped: number;
  /** Dead-lettered as malformed and left alone (without `includeMalformed`). */
  malformed: number;
  /** Could not be moved (publish not confirmed, database error); they stay in the DLQ. */
  failed: number;
  /** Job ids moved (or that would be), in DLQ order. */
  promotedJobIds: string[];
}

export type PromoteDlqOptions = DlqBroker & {
  database: Database;
  config: Config;
  /** Move at most this many messages. */
  limit?: number;
  /** Move only the messages of these jobs. */
  jobIds?: readonly string[];
  dryRun?: boolean;
  /** Move messages dead-lettered as malformed too (they will likely die again unless a consumer was fixed). */
  includeMalformed?: boolean;
  onProgress?: (progress: PromoteProgress) => void;
  /** Stops after the message in hand; held messages go back to the DLQ. */
  signal?: AbortSignal;
};

/** What we can tell about a DLQ message. */
interface Described {
  jobId: string | null;
  kind: string;
  priority: Priority;
  malformed: boolean;
}

function describe(msg: Message): Described {
  const headers = msg.properties.headers ?? {};
  const decoded = decodeJobMessage(msg.content);
  const messageId = typeof msg.properties.messageId === 'string' ? msg.properties.messageId : null;
  if (decoded.ok) {
    const m = decoded.message;
    return { jobId: m.job_id, kind: m.kind, priority: m.priority, malformed: headers[HEADERS.malformed] != null };
  }
  const amqpPriority = Number(msg.properties.priority);
  const fromAmqp = PRIORITIES[amqpPriority - 1];
  return {
    jobId: messageId,
    kind: typeof msg.properties.type === 'string' ? msg.properties.type : 'unknown',
    priority: isPriority(fromAmqp) ? fromAmqp : DEFAULT_PRIORITY,
    malformed: true,
  };
}

/**
 * Opens a confirm channel for one DLQ action and closes it (and our own connection) after.
 * Closing the channel requeues whatever is still unacked on it: the safety net under `fn`.
 */
async function withChannel<T>(
  broker: DlqBroker,
  config: Config,
  fn: (ch: ConfirmChannel, returned: Set<string>) => Promise<T>,
): Promise<T> {
  const own = broker.connection ? null : await connectFirst(broker.amqpUrl);
  own?.on('error', () => {}); // surfaces as a failed operation below; must not crash the process
  try {
    const ch = await (broker.connection ?? own!).createConfirmChannel();
    let channelError: Error | null = null;
    ch.on('error', (err: Error) => {
      channelError = err;
    });
    const returned = new Set<string>();
    ch.on('return', (msg: Message) => returned.add(String(msg.properties.messageId)));
    try {
      await assertTopologyOf(ch, config.retryDelaysMs, config.amqp.queueType);
      return await fn(ch, returned);
    } catch (err) {
      throw channelError ?? err;
    } finally {
      await ch.close().catch(() => {});
    }
  } finally {
    await own?.close().catch(() => {});
  }
}

/**
 * Moves dead messages still in notes.dlq back to work (the API drains notes.dlq into the failure
 * inbox, failure-inbox.ts, so this finds messages only while no API runs). Per message, the
 * inbox's promote in one: the message is stored as a letter marked with the new run, its copy
 * is published and confirmed, the DLQ message is acked, then the letter leaves and the job goes
 * back to `queued`. A crash anywhere leaves the job dead with its message in notes.dlq or the
 * inbox (or, after the publish, a copy whose /start completes the promotion): never `queued`
 * while its message is dead.
 */
export async function promoteDlq(opts: PromoteDlqOptions): Promise<PromoteSummary> {
  const summary: PromoteSummary = {
    dryRun: opts.dryRun ?? false,
    examined: 0,
    promoted: 0,
    skipped: 0,
    malformed: 0,
    failed: 0,
    promotedJobIds: [],
  };
  const wanted = opts.jobIds ? new Set(opts.jobIds) : null;
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  const report = (jobId: string | null, outcome: PromoteOutcome, error?: string) =>
    opts.onProgress?.({ jobId, outcome, ...(error ? { error } : {}), summary: { ...summary } });

  await withChannel(opts, opts.config, async (ch, returned) => {
    let held = 0;
    try {
      while (summary.promoted < limit && !opts.signal?.aborted && (!wanted || wanted.size > 0)) {
        const msg: GetMessage | false = await ch.get(QUEUES.dead, { noAck: false });
        if (!msg) break; // everything left is held by us (or the DLQ is empty)
        summary.examined++;
        const d = describe(msg);
        if (wanted && !(d.jobId && wanted.has(d.jobId))) {
          held++;
          summary.skipped++;
          report(d.jobId, 'skipped');
          continue;
        }
        if (d.malformed && !opts.includeMalformed) {
          held++;
          summary.malformed++;
          report(d.jobId, 'malformed');
          continue;
        }
        if (d.jobId) wanted?.delete(d.jobId);
        if (summary.dryRun) {
          held++;
          summary.promoted++;
          if (d.jobId) summary.promotedJobIds.push(d.jobId);
          report(d.jobId, 'would-promote');
          continue;
        }
        try {
          await moveOne(ch, msg, returned, opts.database);
          summary.promoted++;
          if (d.jobId) summary.promotedJobIds.push(d.jobId);
          report(d.jobId, 'promoted');
        } catch (err) {
          held++;
          summary.failed++;
          report(d.jobId, 'failed', (err as Error).message);
        }
      }
    } finally {
      // Everything not acked goes back in its original place, in one go.
      if (held > 0) requeueHeld(ch);
    }
  });
  return summary;
}

/** Requeues every message still unacked on the channel; a closed channel has requeued them already. */
function requeueHeld(ch: ConfirmChannel): void {
  try {
    ch.nackAll(true);
  } catch {
    // the channel is gone: the broker requeued its unacked messages itself
  }
}

async function moveOne(ch: ConfirmChannel, msg: Message, returned: Set<string>, database: Database) {
  const run = newRun();
  const [letter] = await fileLetters(
    database.writer,
    [{ ...letterFromMessage(msg.content, msg.properties), promoteRun: run }],
    {
      promoting: true,
    },
  );
  // A job keeps one letter: an older one for the same job took this one's place.
  const stored = (letter?.jobId ? await letterOfJob(database.db, letter.jobId) : undefined) ?? letter!;
  try {
    await publishConfirmed(ch, returned, promotedCopy(stored, run));
  } catch (err) {
    await clearPromoting(database.writer, [stored.id], run).catch(() => {});
    throw err;
  }
  ch.ack(msg);
  await finishPromotion(database.writer, [stored], run, new Date());
}

export interface DiscardResult {
  /** DLQ messages of the job that were removed. */
  removedMessages: number;
  /** Whether the job exists (it is now `discarded` unless it had finished well). */
  jobFound: boolean;
}

/**
 * Removes a job's messages from the DLQ and marks the job `discarded` with the reason. Other
 * messages are held and requeued in place. The job is marked before the message is acked, so a
 * failure leaves the message where it was.
 */
export async function discardDlq(
  opts: DlqBroker & { database: Database; config: Config; jobId: string; reason?: string },
): Promise<DiscardResult> {
  const reason = opts.reason ?? 'discarded by an operator';
  return withChannel(opts, opts.config, async (ch) => {
    const matches: GetMessage[] = [];
    let held = 0;
    try {
      for (;;) {
        const msg = await ch.get(QUEUES.dead, { noAck: false });
        if (!msg) break;
        if (describe(msg).jobId === opts.jobId) matches.push(msg);
        else held++;
      }
      const jobFound = await discardJob(opts.database.writer, opts.jobId, reason, new Date());
      for (const m of matches) ch.ack(m);
      return { removedMessages: matches.length, jobFound };
    } catch (err) {
      held += matches.length;
      throw err;
    } finally {
      if (held > 0) requeueHeld(ch);
    }
  });
}

export interface DeadJob {
  job_id: string;
  note_id: string;
  user_id: string;
  kind: string;
  priority: string;
  note_version: number;
  webhook_id: string | null;
  attempts: number;
  reason: string | null;
  last_error: string | null;
  dead_at: string;
  created_at: string;
}

/** The DLQ as the operator sees it: dead jobs with reason, attempts and time, newest first. */
export async function listDlq(opts: {
  database: Database;
  limit?: number;
  offset?: number;
}): Promise<{ data: DeadJob[]; total: number }> {
  const { rows, total } = await listDeadJobs(opts.database.db, { limit: opts.limit ?? 50, offset: opts.offset ?? 0 });
  return {
    total,
    data: rows.map((r) => ({
      job_id: r.id,
      note_id: r.noteId,
      user_id: r.userId,
      kind: r.kind,
      priority: r.priority,
      note_version: r.noteVersion,
      webhook_id: r.webhookId,
      attempts: r.attempts,
      reason: r.deadReason,
      last_error: r.lastError,
      dead_at: (r.finishedAt ?? r.updatedAt).toISOString(),
      created_at: r.createdAt.toISOString(),
    })),
  };
}

/** Messages in notes.dlq right now (ready ones; for a depth gauge). */
export async function dlqDepth(broker: DlqBroker, config: Config): Promise<number> {
  return withChannel(broker, config, async (ch) => (await ch.checkQueue(QUEUES.dead)).messageCount);
}
