import { AmqpConnection, type Config, topologyQueuesOf } from '@notes/contracts';
import type { Logger } from 'pino';
import { ApiClient, type ApiClientOptions } from './api-client.ts';
import { JobConsumer, type JobConsumerOptions } from './consumer.ts';
import { ControlWatcher } from './control-watcher.ts';
import { EndpointGate } from './endpoint-gate.ts';
import { noteProcessHandler } from './handlers/note-process.ts';
import { HandlerRegistry, type JobHandler } from './handlers/registry.ts';
import { createWebhookDeliverHandler } from './handlers/webhook-deliver.ts';
import { HealthServer } from './health-server.ts';
import { createLogger } from './logger.ts';
import { type ConsumerMetrics, createConsumerMetrics } from './metrics.ts';
import { WebhookDeliverer } from './webhook-delivery.ts';

export interface ConsumerProcessOptions {
  logger?: Logger;
  /** Replaces the standard handlers (tests); still one per kind or start-up fails. */
  handlers?: readonly JobHandler[];
  consumer?: JobConsumerOptions;
  api?: ApiClientOptions;
}

/**
 * One consumer process, wired in dependency order: logger → metrics → API client → handlers →
 * AMQP connection → consumer → health/metrics server. `stop()` undoes it in reverse. main.ts runs
 * one; tests run several in one Node process (each has its own registry and connection).
 */
export class ConsumerProcess {
  readonly logger: Logger;
  readonly metrics: ConsumerMetrics;
  readonly api: ApiClient;
  readonly amqp: AmqpConnection;
  /** The note-processing lane (`notes.jobs`). */
  readonly consumer: JobConsumer;
  /** The webhook lane (`notes.webhooks`): its own channel and concurrency (docs/isolation.md). */
  readonly webhookConsumer: JobConsumer;
  /** Pause/resume per kind, polled from the API (docs/jobs.md, "Control"). */
  readonly control: ControlWatcher;
  readonly #health: HealthServer;
  readonly #deliverer = new WebhookDeliverer();
  #port: number | null = null;
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;

  constructor(
    readonly config: Config,
    opts: ConsumerProcessOptions = {},
  ) {
    this.logger = opts.logger ?? createLogger(config);
    this.metrics = createConsumerMetrics();
    this.api = new ApiClient(config, this.logger, this.metrics, opts.api);
    // Throws now, before any message is taken, if a kind has no handler or two.
    const registry = new HandlerRegistry(
      opts.handlers ?? [noteProcessHandler, createWebhookDeliverHandler((args) => this.#deliverer.deliver(args))],
    );
    this.amqp = new AmqpConnection(config.amqp.urls, { name: `notes-consumer-${process.pid}`, logger: this.logger });
    this.control = new ControlWatcher(this.api, this.logger);
    const shared = {
      config,
      logger: this.logger,
      amqp: this.amqp,
      api: this.api,
      registry,
      metrics: this.metrics,
      control: this.control,
    };
    this.consumer = new JobConsumer({ ...shared, lane: 'notes', prefetch: config.consumer.prefetch }, opts.consumer);
    this.webhookConsumer = new JobConsumer(
      {
        ...shared,
        lane: 'webhooks',
        prefetch: config.webhook.concurrency,
        // An endpoint holds at most maxInFlight running plus as many waiting: the rest of the
        // lane's prefetch stays free for other endpoints (docs/isolation.md).
        gate: new EndpointGate(config.webhook.maxInFlight, config.webhook.maxInFlight),
      },
      opts.consumer,
    );
    this.#health = new HealthServer(
      {
        // A lane paused on purpose is ready, not broken.
        amqp: () =>
          this.amqp.connected &&
          (this.consumer.consuming || this.consumer.paused) &&
          (this.webhookConsumer.consuming || this.webhookConsumer.paused),
        api: () => this.api.ping(),
      },
      this.metrics.registry,
      config.metricsToken,
    );
    this.metrics.setQueueProbe(() => this.#queueStats());
  }

  /** The health/metrics port (after start). */
  get port(): number {
    if (this.#port === null) throw new Error('not started');
    return this.#port;
  }

  /** Idempotent. Does not wait for the broker: the consumer starts whenever it connects. */
  start(): Promise<void> {
    this.#starting ??= (async () => {
      this.amqp.start();
      // The pause state before the first message: a paused kind is never started at boot.
      await this.control.start();
      this.consumer.start();
      this.webhookConsumer.start();
      // HOST, like the API's: in a container Prometheus scrapes from another address (docs/scaling.md).
      this.#port = await this.#health.listen(this.config.consumer.port, this.config.http.host);
      this.logger.info({ port: this.#port }, 'consumer started');
    })();
    return this.#starting;
  }

  /** Stops taking work, finishes and acks what it holds, closes everything. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => {});
      await Promise.all([this.consumer.stop(), this.webhookConsumer.stop()]);
      await this.control.stop();
      await this.#health.close();
      this.metrics.setQueueProbe(null);
      await this.amqp.stop();
      this.api.close();
      this.#deliverer.shutdown();
      this.logger.info('consumer stopped');
    })();
    return this.#stopping;
  }

  /** Queue depths for /metrics, on a short-lived channel (checkQueue on a missing queue kills it). */
  async #queueStats() {
    const conn = this.amqp.connection;
    if (!conn) return [];
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    try {
      const stats = [];
      for (const { name: queue, role } of topologyQueuesOf(this.config.retryDelaysMs, this.config.amqp.queueType)) {
        if (role === 'retry') continue;
        const q = await ch.checkQueue(queue);
        stats.push({ queue, messages: q.messageCount, consumers: q.consumerCount });
      }
      return stats;
    } finally {
      await ch.close().catch(() => {});
    }
  }
}
