import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp, { type ChannelModel } from 'amqplib';

export interface AmqpLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface AmqpConnectionOptions {
  /** Shown in the broker's connection list. */
  name: string;
  logger: AmqpLogger;
  /** Reconnect backoff: doubles from min to max, with jitter. */
  minDelayMs?: number;
  maxDelayMs?: number;
  heartbeatSeconds?: number;
}

type Events = { connected: [ChannelModel]; disconnected: [Error | undefined] };

/**
 * One AMQP connection that reconnects by itself. Owners listen for `connected` to open their
 * channels (and re-assert topology) and `disconnected` to drop them: a channel, and any delivery
 * tag from it, never survives its connection. We keep this loop small and our own: the outbox
 * holds unsent messages durably, so nothing needs buffering in memory here.
 */
export class AmqpConnection extends EventEmitter<Events> {
  #url: string;
  #opts: Required<AmqpConnectionOptions>;
  #conn: ChannelModel | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;

  constructor(url: string, opts: AmqpConnectionOptions) {
    super();
    this.#url = url;
    this.#opts = { minDelayMs: 200, maxDelayMs: 5000, heartbeatSeconds: 10, ...opts };
  }

  get connection(): ChannelModel | null {
    return this.#conn;
  }

  get connected(): boolean {
    return this.#conn !== null;
  }

  /** Starts connecting in the background; does not wait for the broker. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Resolves once connected; rejects after `timeoutMs`. */
  async waitConnected(timeoutMs: number): Promise<ChannelModel> {
    if (this.#conn) return this.#conn;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(new Error(`RabbitMQ not reachable within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnected = (c: ChannelModel) => {
        clearTimeout(timer);
        resolve(c);
      };
      this.once('connected', onConnected);
    });
  }

  async #run(): Promise<void> {
    let delay = this.#opts.minDelayMs;
    while (this.#running) {
      try {
        const conn = await amqp.connect(withHeartbeat(this.#url, this.#opts.heartbeatSeconds), {
          clientProperties: { connection_name: this.#opts.name },
          timeout: 5000,
        });
        const closed = new Promise<Error | undefined>((resolve) => {
          conn.on('error', (err: Error) => this.#opts.logger.warn({ err }, 'amqp connection error'));
          conn.on('close', (err?: Error) => resolve(err));
        });
        if (!this.#running) {
          await conn.close().catch(() => {});
          break;
        }
        this.#conn = conn;
        delay = this.#opts.minDelayMs;
        this.#opts.logger.info({ connection: this.#opts.name }, 'amqp connected');
        this.#safeEmit('connected', conn);
        const err = await closed;
        this.#conn = null;
        if (!this.#running) break;
        this.#opts.logger.warn({ err }, 'amqp connection closed; reconnecting');
        this.#safeEmit('disconnected', err);
      } catch (err) {
        this.#opts.logger.warn({ err, retryInMs: delay }, 'amqp connect failed');
      }
      if (!this.#running) break;
      await Promise.race([sleep(delay * (0.75 + Math.random() / 2)), new Promise<void>((r) => (this.#wake = r))]);
      delay = Math.min(delay * 2, this.#opts.maxDelayMs);
    }
  }

  #safeEmit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    try {
      // @ts-expect-error -- args match the event by construction
      this.emit(event, ...args);
    } catch (err) {
      this.#opts.logger.warn({ err, event }, 'amqp listener threw');
    }
  }

  /** Closes the connection and stops reconnecting. Idempotent. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#wake?.();
    const conn = this.#conn;
    this.#conn = null;
    if (conn) await conn.close().catch(() => {});
    await this.#loop;
  }
}

/** Adds `heartbeat` to the URL unless the URL sets one already. */
function withHeartbeat(url: string, seconds: number): string {
  const u = new URL(url);
  if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(seconds));
  return u.toString();
}
