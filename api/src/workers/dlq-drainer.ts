import { type AmqpConnection, assertTopologyOf, type Config, QUEUES } from '@notes/contracts';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { fileLetters, letterFromMessage } from '../modules/dlq/index.ts';
import type { Database } from '../platform/db/client.ts';

/**
 * Drains notes.dlq into the failure inbox (docs/jobs.md): RabbitMQ is only the transport of dead
 * messages, the database is where an operator finds, groups, promotes and discards them. Messages
 * are stored in batches and acked only after their rows committed; a message redelivered after a
 * crash lands on its own letter again (its consumer-stamped id), so it is filed once and never
 * lost. Several API instances may drain at once.
 */

const PREFETCH = 500;
/** A batch is written once its bodies reach this many bytes (some dead messages are large). */
const BATCH_BYTES = 4 * 1024 * 1024;
/** Longest a message waits for company before its batch is written. */
const LINGER_MS = 50;
const REOPEN_MS = 1000;

export interface DlqDrainerDeps {
  config: Config;
  database: Database;
  amqp: AmqpConnection;
  logger: Logger;
}

export class DlqDrainer {
  #channel: Channel | null = null;
  #pending: ConsumeMessage[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> = Promise.resolve();
  #running = false;
  /** Messages stored so far (tests and logs). */
  stored = 0;

  constructor(private readonly deps: DlqDrainerDeps) {}

  /** Drains whenever the connection is up. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.deps.amqp.on('connected', this.#open);
    const conn = this.deps.amqp.connection;
    if (conn) this.#open(conn);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.deps.amqp.off('connected', this.#open);
    await this.#flush();
    const ch = this.#channel;
    this.#channel = null;
    await ch?.close().catch(() => {});
  }

  #open = (conn: ChannelModel): void => {
    if (!this.#running || this.#channel) return;
    void (async () => {
      let ch: Channel | undefined;
      try {
        ch = await conn.createChannel();
        const channel = ch;
        channel.on('error', (err: Error) => this.deps.logger.warn({ err }, 'dlq drainer channel error'));
        channel.on('close', () => {
          if (this.#channel !== channel) return;
          this.#channel = null;
          this.#pending = []; // their tags are void; the broker redelivers them
          this.#pendingBytes = 0;
          setTimeout(() => this.deps.amqp.connection && this.#open(this.deps.amqp.connection), REOPEN_MS).unref();
        });
        await assertTopologyOf(channel, this.deps.config.retryDelaysMs, this.deps.config.amqp.queueType);
        await channel.prefetch(PREFETCH);
        this.#channel = channel;
        await channel.consume(QUEUES.dead, (msg) => msg && this.#take(channel, msg), { noAck: false });
      } catch (err) {
        this.deps.logger.warn({ err }, 'dlq drainer could not start; retrying');
        if (ch && this.#channel === ch) this.#channel = null;
        await ch?.close().catch(() => {});
        if (this.#running)
          setTimeout(() => this.deps.amqp.connection && this.#open(this.deps.amqp.connection), REOPEN_MS).unref();
      }
    })();
  };

  #take(channel: Channel, msg: ConsumeMessage): void {
    if (channel !== this.#channel) return;
    this.#pending.push(msg);
    this.#pendingBytes += msg.content.length;
    if (this.#pending.length >= PREFETCH / 2 || this.#pendingBytes >= BATCH_BYTES) void this.#flush();
    else this.#timer ??= setTimeout(() => void this.#flush(), LINGER_MS);
  }

  /** Writes what is pending, then acks it; one write at a time, in arrival order. */
  #flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const batch = this.#pending;
    const channel = this.#channel;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (batch.length === 0 || !channel) return this.#writing;
    this.#writing = this.#writing.then(async () => {
      try {
        const now = new Date();
        await fileLetters(
          this.deps.database.writer,
          batch.map((m) => letterFromMessage(m.content, m.properties, now)),
        );
        if (this.#channel === channel) channel.ack(batch[batch.length - 1]!, true);
        this.stored += batch.length;
      } catch (err) {
        // Not stored (fileLetters fails only when the database is unreachable): back to the
        // queue, to be drained again once it is back.
        this.deps.logger.warn({ err, messages: batch.length }, 'dead letters not stored; returning them to notes.dlq');
        if (this.#channel === channel) {
          try {
            channel.nack(batch[batch.length - 1]!, true, true);
          } catch {}
        }
        await new Promise((r) => setTimeout(r, REOPEN_MS));
      }
    });
    return this.#writing;
  }
}
