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
import type { ConfirmChannel, Message } from 'amqplib';
import { isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { EVENT_ROW_PREFIX } from '../modules/events/index.ts';
import type { OutboxNotifier } from '../modules/jobs/index.ts';
import type { Database } from '../platform/db/client.ts';
import { outbox } from '../platform/db/schema.ts';
import type { Statement } from '../platform/db/sql-writer.ts';

/** Rows published per transaction. */
const BATCH_SIZE = 250;
/** A publish not confirmed by then counts as failed; the row stays unsent and is tried again. */
const CONFIRM_TIMEOUT_MS = 10_000;

export interface OutboxRelayStats {
  published: number;
  failed: number;
  lastBatchMs: number;
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
 * The oldest unsent job rows (live events have their own relay: live-event-relay.ts), locked;
 * rows another relay holds are skipped, not waited for. The kind
 * (a message header) is read by the database, so the relay never parses a payload.
 */
const lockUnsent = (limit: number): Statement => ({
  sql: `SELECT id, job_id AS jobId, payload, priority, traceparent, JSON_VALUE(payload, '$.kind') AS kind
        FROM outbox WHERE sent_at IS NULL AND job_id NOT LIKE '${EVENT_ROW_PREFIX}%'
        ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
  values: [limit],
});

const markSent = (ids: readonly number[], now: Date): Statement => ({
  sql: `UPDATE outbox SET sent_at = ?, publish_attempts = publish_attempts + 1 WHERE id IN (${ids.map(() => '?').join(',')})`,
  values: [now, ...ids],
});

const markFailed = (ids: readonly number[], error: string): Statement => ({
  sql: `UPDATE outbox SET publish_attempts = publish_attempts + 1, last_error = ?
        WHERE id IN (${ids.map(() => '?').join(',')}) AND sent_at IS NULL`,
  values: [error, ...ids],
});

/**
 * Publishes outbox rows to RabbitMQ. Each batch runs in one transaction: lock unsent rows with
 * `FOR UPDATE SKIP LOCKED` (so several API instances share the work without double-sending in
 * the normal case), publish them persistent + mandatory on a confirm channel, and mark exactly
 * the confirmed ones sent. A crash after the confirm and before the commit publishes those
 * rows again: duplicates are expected and absorbed downstream (message_id = job id).
 *
 * Wakes at once when nudged after a commit, and polls every `outboxPollMs` for stragglers
 * (rows written by an instance that died before publishing, or while RabbitMQ was down).
 */
export class OutboxRelay implements OutboxNotifier {
  #channel: ConfirmChannel | null = null;
  #opening: Promise<void> | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #pending = false;
  readonly stats: OutboxRelayStats = { published: 0, failed: 0, lastBatchMs: 0 };

  constructor(
    private readonly deps: { config: Config; database: Database; amqp: AmqpConnection; logger: Logger },
    private readonly hooks: OutboxRelayHooks = {},
  ) {}

  /** Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.deps.amqp.on('connected', this.#onConnected);
    this.deps.amqp.on('disconnected', this.#onDisconnected);
    if (this.deps.amqp.connected) this.#onConnected();
    this.#loop = this.#run();
  }

  nudge(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Idempotent. Finishes the batch in progress. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.deps.amqp.off('connected', this.#onConnected);
    this.deps.amqp.off('disconnected', this.#onDisconnected);
    this.#wake?.();
    await this.#loop;
    const ch = this.#channel;
    this.#channel = null;
    await ch?.close().catch(() => {});
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

  #onConnected = (): void => {
    this.#opening = this.#openChannel().catch((err) => {
      this.deps.logger.warn({ err }, 'outbox relay could not open its channel');
    });
  };

  #onDisconnected = (): void => {
    this.#channel = null;
  };

  async #openChannel(): Promise<void> {
    const conn = this.deps.amqp.connection;
    if (!conn) return;
    const ch = await conn.createConfirmChannel();
    ch.on('error', (err: Error) => this.deps.logger.warn({ err }, 'outbox channel error'));
    ch.on('close', () => {
      if (this.#channel === ch) this.#channel = null;
    });
    ch.on('return', (msg: Message) => this.#returned.add(String(msg.properties.messageId)));
    // Start-up asserts the whole topology, so a publish can never vanish into a missing queue.
    await assertTopologyOf(ch, this.deps.config.retryDelaysMs, this.deps.config.amqp.queueType);
    this.#channel = ch;
    this.nudge();
  }

  /** Message ids the broker returned as unroutable (mandatory) during the current batch. */
  #returned = new Set<string>();

  async #run(): Promise<void> {
    while (this.#running) {
      this.#pending = false;
      let more = false;
      try {
        await this.#opening;
        if (this.#channel) more = await this.#publishBatch(this.#channel);
      } catch (err) {
        this.deps.logger.warn({ err }, 'outbox batch failed; will retry');
      }
      if (more || this.#pending) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.deps.config.outboxPollMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  /**
   * Publishes one batch; returns true when a full batch was sent (there may be more). Two round
   * trips to the database whatever the batch size: BEGIN with the locking SELECT, then the marks
   * with COMMIT (platform/db/sql-writer.ts).
   *
   * READ COMMITTED: under REPEATABLE READ the locking SELECT would also lock the gap after the
   * last unsent row, and every write's outbox insert lands in that gap, so each write would wait
   * for the whole batch, broker confirms included. Only the rows read are locked this way, which
   * is all SKIP LOCKED needs to keep two relays apart.
   */
  async #publishBatch(ch: ConfirmChannel): Promise<boolean> {
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
      if (sentIds.length) tx.defer(markSent(sentIds, new Date()));
      if (failedIds.length) tx.defer(markFailed(failedIds, 'not confirmed or returned'));
      return { sent: sentIds.length, failed: failedIds.length, full: rows.length === BATCH_SIZE };
    }, 'READ COMMITTED');
    const durationSeconds = (performance.now() - started) / 1000;
    this.stats.published += result.sent;
    this.stats.failed += result.failed;
    this.stats.lastBatchMs = durationSeconds * 1000;
    if (result.sent || result.failed)
      this.hooks.onBatch?.({ published: result.sent, failed: result.failed, durationSeconds });
    if (result.failed) {
      this.deps.logger.warn({ failed: result.failed }, 'outbox publishes not confirmed; they stay in the outbox');
      return false;
    }
    return result.full;
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
