import { once } from 'node:events';
import {
  type AmqpConnection,
  assertTopologyOf,
  type Config,
  EXCHANGES,
  jobPublishOptions,
  type Priority,
  withTraceparent,
  workRoutingKey,
} from '@notes/contracts';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import { isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { OutboxNotifier } from '../modules/jobs/index.ts';
import type { Database } from '../platform/db/client.ts';
import { outbox } from '../platform/db/schema.ts';
import type { Statement } from '../platform/db/sql-writer.ts';
import { deletePublished } from './outbox-rows.ts';
import { type RelayRound, RelayWorker } from './relay-worker.ts';

/** Rows published per transaction. */
const BATCH_SIZE = 250;
/** A publish not confirmed by then counts as failed; the row stays unsent and is tried again. */
const CONFIRM_TIMEOUT_MS = 10_000;
/** Opening a channel and asserting the topology on it; past this the attempt is dropped and retried. */
const OPEN_TIMEOUT_MS = 15_000;

export interface OutboxRelayStats {
  published: number;
  failed: number;
  lastBatchMs: number;
  /** Batches that published something, and the channels opened (one per connection, unless one closed). */
  batches: number;
  channels: number;
  /** Channels that failed to open or to assert the topology (each retried after a backoff). */
  openFailures: number;
}

export interface OutboxRelayHooks {
  /** Called after each batch (for metrics). */
  onBatch?(result: { published: number; failed: number; durationSeconds: number }): void;
}

type Row = {
  id: number;
  jobId: string;
  payload: string;
  priority: Priority;
  traceparent: string | null;
  kind: string | null;
};

/**
 * The oldest unsent job rows (live events have a table and a relay of their own: live-event-relay.ts), locked;
 * rows another relay holds are skipped, not waited for. The job kind (a message header) is read
 * by the database, so the relay never parses a payload.
 */
const lockUnsent = (limit: number): Statement => ({
  sql: `SELECT id, job_id AS jobId, payload, priority, traceparent, JSON_VALUE(payload, '$.kind') AS kind
        FROM outbox WHERE sent_at IS NULL AND kind = 'job'
        ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
  values: [limit],
});

const markFailed = (ids: readonly number[], error: string): Statement => ({
  sql: `UPDATE outbox SET publish_attempts = publish_attempts + 1, last_error = ?
        WHERE id IN (${ids.map(() => '?').join(',')}) AND sent_at IS NULL`,
  values: [error, ...ids],
});

/**
 * Publishes outbox rows to RabbitMQ. Each batch runs in one transaction: lock unsent rows with
 * `FOR UPDATE SKIP LOCKED` (so several API instances share the work without double-sending in
 * the normal case), publish them persistent + mandatory on a confirm channel, and delete exactly
 * the confirmed ones (outbox-rows.ts). A crash after the confirm and before the commit publishes those
 * rows again: duplicates are expected and absorbed downstream (message_id = job id).
 *
 * The loop (when rounds run, nudges, the poll, backoff) is the relay worker's
 * (workers/relay-worker.ts). The channel is this relay's own and is checked at the start of
 * every round, never left to connection events alone: a round with no usable channel opens one
 * on whatever connection is up now (a node of the cluster that survived, docs/scaling.md) and
 * asserts the topology; a channel that closed (its connection died, the broker closed it, an
 * open that failed or timed out) is simply replaced in the next round. A blocked connection
 * publishes nothing until it is unblocked. So no timing of a node's death leaves committed rows
 * unsent while some node is up.
 */
export class OutboxRelay implements OutboxNotifier {
  readonly #worker: RelayWorker;
  #channel: { conn: ChannelModel; ch: ConfirmChannel; open: boolean } | null = null;
  #started = false;
  readonly stats: OutboxRelayStats = {
    published: 0,
    failed: 0,
    lastBatchMs: 0,
    batches: 0,
    channels: 0,
    openFailures: 0,
  };

  constructor(
    private readonly deps: { config: Config; database: Database; amqp: AmqpConnection; logger: Logger },
    private readonly hooks: OutboxRelayHooks = {},
  ) {
    this.#worker = new RelayWorker(() => this.#round(), {
      name: 'outbox',
      logger: deps.logger,
      pollMs: deps.config.outboxPollMs,
    });
  }

  /** Idempotent. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.deps.amqp.on('connected', this.#wake);
    this.deps.amqp.on('unblocked', this.#wake);
    this.#worker.start();
  }

  nudge(): void {
    this.#worker.nudge();
  }

  /** Idempotent. Finishes the batch in progress. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.deps.amqp.off('connected', this.#wake);
    this.deps.amqp.off('unblocked', this.#wake);
    await this.#worker.stop();
    const current = this.#channel;
    this.#channel = null;
    if (current?.open) await current.ch.close().catch(() => {});
  }

  /** Rows not yet sent and the age of the oldest (for metrics: a stuck relay shows as a growing age). */
  async state(): Promise<{ backlog: number; oldestAgeSeconds: number }> {
    const [row] = await this.deps.database.db
      .select({ n: sql<number>`count(*)`, oldest: sql<Date | null>`min(${outbox.createdAt})` })
      .from(outbox)
      .where(isNull(outbox.sentAt));
    const oldest = row?.oldest ? new Date(row.oldest).getTime() : null;
    return {
      backlog: Number(row?.n ?? 0),
      oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000),
    };
  }

  #wake = (): void => this.#worker.wake();

  async #round(): Promise<RelayRound> {
    const ch = await this.#usableChannel();
    if (!ch) return 'wait';
    const round = await this.#publishBatch(ch);
    // Publishes the broker refused are tried again on a new channel, not on this one: a channel
    // keeps its own view of each quorum queue's leader, and after a leader was killed a channel
    // was seen to go on refusing one queue's publishes for minutes while a new channel's were
    // accepted (e2e/test/scale/rabbitmq-cluster.test.ts; docs/guarantees.md).
    if (round === 'wait') this.#retireChannel();
    return round;
  }

  /** Closes the current channel (if any); the next round opens a new one. */
  #retireChannel(): void {
    const current = this.#channel;
    this.#channel = null;
    if (current?.open) current.ch.close().catch(() => {});
  }

  /** The channel to publish on now: the open one on the current connection, or a new one; null while disconnected or blocked. */
  async #usableChannel(): Promise<ConfirmChannel | null> {
    const conn = this.deps.amqp.connection;
    if (!conn || this.deps.amqp.blocked) return null;
    const current = this.#channel;
    if (current?.open && current.conn === conn) return current.ch;
    this.#channel = null;
    if (current?.open) current.ch.close().catch(() => {});
    const opened = await this.#openChannel(conn);
    this.#channel = opened;
    return opened.ch;
  }

  async #openChannel(conn: ChannelModel): Promise<{ conn: ChannelModel; ch: ConfirmChannel; open: boolean }> {
    const opening = conn.createConfirmChannel();
    try {
      const ch = await within(opening, OPEN_TIMEOUT_MS, 'outbox channel not open');
      const entry = { conn, ch, open: true };
      ch.on('error', (err: Error) => this.deps.logger.warn({ err }, 'outbox channel error'));
      ch.on('close', () => {
        entry.open = false;
      });
      ch.on('return', (msg: Message) => this.#returned.add(String(msg.properties.messageId)));
      // Every new channel asserts the whole topology, so a publish can never vanish into a
      // missing queue, whichever node it lands on.
      const { retryDelaysMs, amqp } = this.deps.config;
      await within(assertTopologyOf(ch, retryDelaysMs, amqp.queueType), OPEN_TIMEOUT_MS, 'topology not asserted');
      if (!entry.open) throw new Error('outbox channel closed while it was being opened');
      this.stats.channels++;
      return entry;
    } catch (err) {
      this.stats.openFailures++;
      // Whatever half-opened is dropped, now or once it finishes opening; the next round retries.
      void opening.then((ch) => ch.close()).catch(() => {});
      throw err;
    }
  }

  /** Message ids the broker returned as unroutable (mandatory) during the current batch. */
  #returned = new Set<string>();

  /**
   * Publishes one batch: `more` when a full batch was sent (there may be more), `wait` when some
   * rows were not confirmed (they are tried again in the next round, on a channel that is open
   * then). Two round trips to the database whatever the batch size: BEGIN with the locking
   * SELECT, then the delete (and the failed rows' marks) with COMMIT (platform/db/sql-writer.ts).
   *
   * READ COMMITTED: under REPEATABLE READ the locking SELECT would also lock the gap after the
   * last unsent row, and every write's outbox insert lands in that gap, so each write would wait
   * for the whole batch, broker confirms included. Only the rows read are locked this way, which
   * is all SKIP LOCKED needs to keep two relays apart.
   */
  async #publishBatch(ch: ConfirmChannel): Promise<RelayRound> {
    const started = performance.now();
    const result = await this.deps.database.writer.transaction(async (tx) => {
      const rows = await tx.query<Row>(lockUnsent(BATCH_SIZE));
      if (rows.length === 0) return { sent: 0, failed: 0, full: false };

      this.#returned.clear();
      const outcomes = await Promise.all(rows.map((row) => this.#publish(ch, row)));
      const sentIds: number[] = [];
      const failedIds: number[] = [];
      rows.forEach((row, i) => {
        (outcomes[i] && !this.#returned.has(row.jobId) ? sentIds : failedIds).push(row.id);
      });
      if (sentIds.length) tx.defer(deletePublished(outbox, sentIds));
      if (failedIds.length) tx.defer(markFailed(failedIds, 'not confirmed or returned'));
      return { sent: sentIds.length, failed: failedIds.length, full: rows.length === BATCH_SIZE };
    }, 'READ COMMITTED');
    const durationSeconds = (performance.now() - started) / 1000;
    this.stats.published += result.sent;
    this.stats.failed += result.failed;
    this.stats.lastBatchMs = durationSeconds * 1000;
    if (result.sent || result.failed) {
      this.stats.batches++;
      this.hooks.onBatch?.({ published: result.sent, failed: result.failed, durationSeconds });
    }
    if (result.failed) {
      this.deps.logger.warn({ failed: result.failed }, 'outbox publishes not confirmed; they stay in the outbox');
      return 'wait';
    }
    return result.full ? 'more' : 'idle';
  }

  /** Resolves true when the broker confirmed the message, false on nack, timeout or a closed channel. */
  async #publish(ch: ConfirmChannel, row: Row): Promise<boolean> {
    const options = jobPublishOptions({
      jobId: row.jobId,
      // A row we wrote ourselves is always JSON; should one not be, publish it anyway and let
      // the consumer park it.
      kind: row.kind ?? 'unknown',
      priority: row.priority,
      attempt: 1,
      headers: row.traceparent ? { traceparent: row.traceparent } : {},
    });
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), CONFIRM_TIMEOUT_MS);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      try {
        // In the trace of the write that stored the row (the relay's own context is a timer's):
        // the amqplib instrumentation makes its publish span a child of that request and writes
        // the span's traceparent over the stored one, which the consumer then continues.
        const flushed = withTraceparent(row.traceparent, () =>
          ch.publish(EXCHANGES.work, workRoutingKey(row.kind ?? undefined), Buffer.from(row.payload), options, (err) =>
            done(!err),
          ),
        );
        if (!flushed) void once(ch, 'drain').catch(() => {});
      } catch {
        done(false); // the channel closed under us
      }
    });
  }
}

/** `promise`, or a rejection after `ms` (an RPC the broker never answers must not hold the relay). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
