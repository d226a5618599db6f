import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp, { type ChannelModel, type Options } from 'amqplib';

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

type Events = {
  connected: [ChannelModel];
  disconnected: [Error | undefined];
  /** The broker stopped reading from this connection (a memory or disk alarm): publishes wait. */
  blocked: [string];
  unblocked: [];
};

/**
 * The nodes named by an `AMQP_URL` value: one URL or several separated by commas (the nodes of a
 * cluster, docs/scaling.md). Blank entries are ignored.
 */
export function amqpUrls(value: string | readonly string[]): string[] {
  const list = typeof value === 'string' ? value.split(',') : [...value];
  return list.map((u) => u.trim()).filter((u) => u !== '');
}

/**
 * One connection to the first node that answers, trying each in turn (for short-lived
 * connections: scripts, one-off DLQ operations). Rejects with the last node's error.
 */
export async function connectFirst(
  urls: string | readonly string[],
  options: Options.Connect & { timeout?: number; clientProperties?: Record<string, unknown> } = {},
): Promise<ChannelModel> {
  const nodes = amqpUrls(urls);
  let last: unknown = new Error('no RabbitMQ node configured');
  for (const url of nodes) {
    try {
      return await amqp.connect(url, { timeout: 5000, noDelay: true, ...options });
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/**
 * One AMQP connection that reconnects by itself. Owners listen for `connected` to open their
 * channels (and re-assert topology) and `disconnected` to drop them: a channel, and any delivery
 * tag from it, never survives its connection. We keep this loop small and our own: the outbox
 * holds unsent messages durably, so nothing needs buffering in memory here.
 *
 * Given several nodes (a cluster), each attempt goes to the next node in turn, starting from a
 * random one so that many processes spread over the cluster; a node that dies costs one
 * reconnect to a survivor, with the same backoff as a single node's restart.
 */
export class AmqpConnection extends EventEmitter<Events> {
  readonly #urls: string[];
  #next: number;
  #opts: Required<AmqpConnectionOptions>;
  #conn: ChannelModel | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;

  constructor(url: string | readonly string[], opts: AmqpConnectionOptions) {
    super();
    this.#urls = amqpUrls(url);
    if (this.#urls.length === 0) throw new Error('AmqpConnection needs at least one URL');
    this.#next = Math.floor(Math.random() * this.#urls.length);
    this.#opts = { minDelayMs: 200, maxDelayMs: 5000, heartbeatSeconds: 10, ...opts };
  }

  get connection(): ChannelModel | null {
    return this.#conn;
  }

  get connected(): boolean {
    return this.#conn !== null;
  }

  /**
   * True while the broker blocks the connection (connection.blocked: a resource alarm somewhere
   * in the cluster). A publish sent now is not read until the alarm clears, and on a cluster the
   * alarm holds on every node, so failing over would not help: publishers wait for `unblocked`.
   */
  get blocked(): boolean {
    return this.#blocked;
  }

  #blocked = false;

  /** The node the connection is on now (null while disconnected). */
  get node(): string | null {
    return this.#node;
  }

  #node: string | null = null;

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
    // Failed attempts in this round; a round tries every node once before backing off.
    let failed = 0;
    while (this.#running) {
      const url = this.#urls[this.#next % this.#urls.length] as string;
      this.#next = (this.#next + 1) % this.#urls.length;
      try {
        const conn = await amqp.connect(withHeartbeat(url, this.#opts.heartbeatSeconds), {
          clientProperties: { connection_name: this.#opts.name },
          timeout: 5000,
          // Without it Nagle holds small frames (an ack, a basic.get) for up to 40 ms.
          noDelay: true,
        });
        const closed = new Promise<Error | undefined>((resolve) => {
          conn.on('error', (err: Error) => this.#opts.logger.warn({ err }, 'amqp connection error'));
          conn.on('close', (err?: Error) => resolve(err));
        });
        conn.on('blocked', (reason: string) => {
          if (this.#conn !== conn) return;
          this.#blocked = true;
          this.#opts.logger.warn({ reason, node: this.#node }, 'amqp connection blocked by the broker');
          this.#safeEmit('blocked', reason);
        });
        conn.on('unblocked', () => {
          if (this.#conn !== conn) return;
          this.#blocked = false;
          this.#opts.logger.info({ node: this.#node }, 'amqp connection unblocked');
          this.#safeEmit('unblocked');
        });
        if (!this.#running) {
          await conn.close().catch(() => {});
          break;
        }
        this.#conn = conn;
        this.#node = hostOf(url);
        failed = 0;
        delay = this.#opts.minDelayMs;
        this.#opts.logger.info({ connection: this.#opts.name, node: this.#node }, 'amqp connected');
        this.#safeEmit('connected', conn);
        const err = await closed;
        this.#conn = null;
        this.#node = null;
        this.#blocked = false;
        if (!this.#running) break;
        this.#opts.logger.warn({ err }, 'amqp connection closed; reconnecting');
        this.#safeEmit('disconnected', err);
      } catch (err) {
        this.#opts.logger.warn({ err, node: hostOf(url), retryInMs: delay }, 'amqp connect failed');
        // Another node may be up: try it at once, and back off only after a full round failed.
        if (++failed < this.#urls.length) continue;
      }
      failed = 0;
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

/** host:port of a node's URL, for logs (never the credentials). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'unknown';
  }
}

/** Adds `heartbeat` to the URL unless the URL sets one already. */
function withHeartbeat(url: string, seconds: number): string {
  const u = new URL(url);
  if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(seconds));
  return u.toString();
}
