import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AmqpConnection,
  assertTopologyOf,
  type Config,
  JOB_KINDS,
  LANES,
  type Lane,
  laneOf,
  workQueueNames,
} from '@notes/contracts';
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { ApiClient } from './api-client.ts';
import { ConfirmPublisher } from './confirm-publisher.ts';
import type { ControlWatcher } from './control-watcher.ts';
import { bindDelivery, type DeliveryChannel, settledWithin } from './delivery-binding.ts';
import { type FlowEnv, processDelivery } from './delivery-flow.ts';
import type { EndpointGate } from './endpoint-gate.ts';
import type { HandlerRegistry } from './handlers/registry.ts';
import type { ConsumerMetrics } from './metrics.ts';
import { PriorityScheduler } from './priority-scheduler.ts';

/** Longest wait, after subscribing to the quorum topology's queues, for each backlog to arrive. */
const STARTUP_SETTLE_MS = 2000;

export interface JobConsumerDeps {
  config: Config;
  logger: Logger;
  amqp: AmqpConnection;
  api: ApiClient;
  registry: HandlerRegistry;
  metrics?: ConsumerMetrics;
  /** The lane this consumer serves: its queue, on a channel of its own. */
  lane: Lane;
  /** Unacked messages held at once on the lane's channel (priorities need it bounded). */
  prefetch: number;
  /** The webhook lane's per-endpoint limit. */
  gate?: EndpointGate;
  /** Pause/resume per kind (docs/jobs.md, "Control"); without it nothing is ever paused. */
  control?: ControlWatcher;
}

export interface JobConsumerOptions {
  /** Pause before a message goes back while the API is unreachable. Default 2000. */
  requeuePauseMs?: number;
  /** Wait before reopening a channel the broker closed. Default 500. */
  reopenDelayMs?: number;
}

/**
 * Consumes one lane's queue (`notes.jobs` or `notes.webhooks`, docs/isolation.md): on every 'connected' it opens a confirm channel, asserts the topology,
 * sets the prefetch (which is also the handler concurrency, and what makes priorities work) and
 * consumes with manual acks. A delivery is bound to the channel it came on: once that channel is
 * gone its tag is void (acking it on a new channel would be a channel error), the broker
 * redelivers it, and the flow just lets go of it.
 */
export class JobConsumer {
  readonly #deps: JobConsumerDeps;
  readonly #opts: Required<JobConsumerOptions>;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stopSignal = new AbortController();
  #channel: ConfirmChannel | null = null;
  #publisher: ConfirmPublisher | null = null;
  #consumerTag: string | null = null;
  /** The quorum topology's extra consumers (one per priority queue after the first). */
  #moreTags: string[] = [];
  /** Quorum topology: strict order across the per-priority queues (null for classic). */
  #scheduler: PriorityScheduler<{ ch: ConfirmChannel; msg: ConsumeMessage }> | null = null;
  #running = false;
  #stopping: Promise<void> | null = null;
  #opening: Promise<void> | null = null;

  constructor(deps: JobConsumerDeps, opts: JobConsumerOptions = {}) {
    this.#deps = deps;
    // Every held delivery may wait on the stop signal at once (a pause, an API outage): up to the
    // prefetch, not a leak, so no MaxListenersExceededWarning past ten.
    setMaxListeners(0, this.#stopSignal.signal);
    this.#opts = { requeuePauseMs: 2000, reopenDelayMs: 500, ...opts };
  }

  /** True when every kind this queue carries is paused: then the consumer is cancelled. */
  get #allPaused(): boolean {
    const control = this.#deps.control;
    const kinds = JOB_KINDS.filter((k) => laneOf(k) === this.#deps.lane);
    return !!control && kinds.every((k) => control.isPaused(k));
  }

  /**
   * A pause of every kind the queue carries cancels the consumer, so the work waits in RabbitMQ;
   * a resume consumes again. Deliveries held meanwhile wait in the flow (processDelivery).
   */
  #onControl = (): void => {
    const ch = this.#channel;
    if (!ch || this.#stopping) return;
    if (this.#allPaused && this.#consumerTag) {
      const tags = [this.#consumerTag, ...this.#moreTags];
      this.#consumerTag = null;
      this.#moreTags = [];
      this.#deps.logger.info({ queue: LANES[this.#deps.lane].queue }, 'paused: consumer cancelled');
      for (const tag of tags) ch.cancel(tag).catch(() => {});
    } else if (!this.#allPaused && !this.#consumerTag) {
      this.#deps.logger.info({ queue: LANES[this.#deps.lane].queue }, 'resumed: consuming again');
      this.#consume(ch).catch((err) => this.#deps.logger.warn({ err }, 'could not consume again'));
    }
  };

  /** Paused: the consumer is cancelled on purpose (not a readiness problem). */
  get paused(): boolean {
    return this.#allPaused;
  }

  /** True while a channel is open and consuming (readiness). */
  get consuming(): boolean {
    return this.#channel !== null && this.#consumerTag !== null;
  }

  /** Deliveries being handled now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Starts consuming whenever the connection is up. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#deps.amqp.on('connected', this.#onConnected);
    this.#deps.amqp.on('disconnected', this.#onDisconnected);
    this.#deps.control?.on('change', this.#onControl);
    const conn = this.#deps.amqp.connection;
    if (conn) this.#onConnected(conn);
  }

  /**
   * Stops taking work (cancels the consumer), lets the deliveries it holds finish and be acked
   * within `graceMs`, then aborts what is left (those are redelivered) and closes the channel.
   * Idempotent; a second call returns the first call's promise.
   */
  stop(graceMs = this.#deps.config.shutdownTimeoutMs * 0.6): Promise<void> {
    if (!this.#running) return Promise.resolve();
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    const { amqp, logger } = this.#deps;
    amqp.off('connected', this.#onConnected);
    amqp.off('disconnected', this.#onDisconnected);
    this.#deps.control?.off('change', this.#onControl);
    await this.#opening;
    const ch = this.#channel;
    const tags = [this.#consumerTag, ...this.#moreTags];
    this.#consumerTag = null;
    this.#moreTags = [];
    for (const tag of tags) if (ch && tag) await ch.cancel(tag).catch(() => {});
    // Deliveries buffered but not started go back to the broker when the channel closes.
    this.#scheduler?.clear();
    logger.info({ in_flight: this.#inFlight.size }, 'consumer cancelled; finishing held deliveries');
    if (!(await settledWithin(this.#inFlight, graceMs))) {
      logger.warn({ in_flight: this.#inFlight.size }, 'shutdown grace over; aborting what is left');
      this.#stopSignal.abort();
      await settledWithin(this.#inFlight, Math.min(1000, graceMs / 2));
    }
    this.#stopSignal.abort();
    this.#drop();
    await ch?.close().catch(() => {});
    this.#running = false;
  }

  /** What a bound delivery asks of the consumer: is its channel still the current one, and its publisher. */
  readonly #bound: DeliveryChannel = {
    isCurrent: (ch) => this.#channel === ch,
    publisher: () => this.#publisher,
    logger: () => this.#deps.logger,
  };

  #onConnected = (conn: ChannelModel): void => {
    if (!this.#running || this.#stopping || this.#opening) return;
    this.#opening = this.#open(conn).finally(() => {
      this.#opening = null;
    });
  };

  #onDisconnected = (): void => {
    this.#drop();
  };

  /** Forgets the channel: its deliveries' tags are void from now on. */
  #drop(): void {
    this.#channel = null;
    this.#publisher = null;
    this.#consumerTag = null;
    this.#moreTags = [];
    this.#scheduler?.clear();
  }

  async #open(conn: ChannelModel): Promise<void> {
    const { config, logger } = this.#deps;
    let ch: ConfirmChannel | undefined;
    try {
      ch = await conn.createConfirmChannel();
      const channel = ch;
      // An unhandled channel 'error' would crash the process; the 'close' that follows reopens.
      channel.on('error', (err: Error) => logger.warn({ err }, 'consumer channel error'));
      channel.on('close', () => {
        if (this.#channel !== channel) return;
        this.#drop();
        this.#reopenLater(conn);
      });
      await assertTopologyOf(channel, config.retryDelaysMs, config.amqp.queueType);
      // Quorum: each priority queue's consumer may hold twice the slots, so a level with a
      // backlog always has deliveries buffered while its acks are refilled (priority-scheduler.ts).
      const quorum = config.amqp.queueType === 'quorum';
      await channel.prefetch(quorum ? 2 * this.#deps.prefetch : this.#deps.prefetch);
      this.#channel = channel;
      this.#publisher = new ConfirmPublisher(channel);
      if (this.#allPaused) logger.info({ queue: LANES[this.#deps.lane].queue }, 'paused: not consuming');
      else await this.#consume(channel);
      logger.info(
        { prefetch: this.#deps.prefetch, queue: LANES[this.#deps.lane].queue, queue_type: config.amqp.queueType },
        'consuming',
      );
    } catch (err) {
      logger.warn({ err }, 'could not start consuming; retrying');
      if (ch && this.#channel === ch) this.#drop();
      await ch?.close().catch(() => {});
      this.#reopenLater(conn);
    }
  }

  /** The channel died but maybe not the connection (a channel error): open a new one on it. */
  #reopenLater(conn: ChannelModel): void {
    if (!this.#running || this.#stopping) return;
    setTimeout(() => {
      if (this.#deps.amqp.connection === conn && !this.#channel) this.#onConnected(conn);
    }, this.#opts.reopenDelayMs).unref();
  }

  async #consume(ch: ConfirmChannel): Promise<void> {
    const { config } = this.#deps;
    if (config.amqp.queueType === 'classic') {
      const { consumerTag } = await ch.consume(LANES[this.#deps.lane].queue, (msg) => this.#onMessage(ch, msg), {
        noAck: false,
      });
      // A pause that came while the consume was on its way.
      if (this.#allPaused || this.#channel !== ch) {
        await ch.cancel(consumerTag).catch(() => {});
        return;
      }
      this.#consumerTag = consumerTag;
      return;
    }
    const queues = workQueueNames('quorum', this.#deps.lane);
    this.#scheduler ??= new PriorityScheduler(queues.length, this.#deps.prefetch, (item) =>
      this.#channel === item.ch ? this.#start(item.ch, item.msg) : Promise.resolve(),
    );
    const scheduler = this.#scheduler;
    // The backlog per level now: start nothing until each level that has one has delivered.
    scheduler.hold();
    const backlog: number[] = [];
    for (const queue of queues) backlog.push((await ch.checkQueue(queue)).messageCount);
    const tags: string[] = [];
    for (const [level, queue] of queues.entries()) {
      const { consumerTag } = await ch.consume(
        queue,
        (msg) => {
          if (msg === null) return this.#onMessage(ch, null);
          scheduler.push(level, { ch, msg });
        },
        { noAck: false },
      );
      tags.push(consumerTag);
    }
    if (this.#allPaused || this.#channel !== ch) {
      for (const tag of tags) await ch.cancel(tag).catch(() => {});
      scheduler.release();
      return;
    }
    this.#consumerTag = tags[0] ?? null;
    this.#moreTags = tags.slice(1);
    const deadline = Date.now() + STARTUP_SETTLE_MS;
    while (Date.now() < deadline && backlog.some((n, level) => n > 0 && scheduler.bufferedAt(level) === 0)) {
      await sleep(10);
    }
    scheduler.release();
  }

  #onMessage(ch: ConfirmChannel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled us (queue deleted or moved): re-assert and consume again.
      if (this.#allPaused) return; // our own cancel (pause)
      this.#deps.logger.warn('consumer cancelled by the broker; consuming again');
      if (this.#deps.config.amqp.queueType === 'quorum') {
        // One of five consumers: start over on a fresh channel rather than consume the rest twice.
        void ch.close().catch(() => {});
        return;
      }
      this.#consumerTag = null;
      setTimeout(() => {
        if (this.#channel !== ch || this.#stopping) return;
        assertTopologyOf(ch, this.#deps.config.retryDelaysMs, this.#deps.config.amqp.queueType)
          .then(() => this.#consume(ch))
          .catch((err) => this.#deps.logger.warn({ err }, 'could not consume again; the channel will reopen'));
      }, this.#opts.reopenDelayMs).unref();
      return;
    }
    void this.#start(ch, msg);
  }

  #start(ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    const task = processDelivery(bindDelivery(ch, msg, this.#bound), this.#env()).finally(() =>
      this.#inFlight.delete(task),
    );
    this.#inFlight.add(task);
    return task;
  }

  #env(): FlowEnv {
    const { config, logger, api, registry, metrics, control } = this.#deps;
    return {
      config,
      lane: this.#deps.lane,
      ...(this.#deps.gate ? { gate: this.#deps.gate } : {}),
      logger,
      api,
      registry,
      metrics,
      isPaused: (kind) => control?.isPaused(kind) ?? false,
      signal: this.#stopSignal.signal,
      requeuePauseMs: this.#opts.requeuePauseMs,
    };
  }
}
