import type { Config, JobMessage, Lane } from '@notes/contracts';
import type { ConsumeMessage, Options } from 'amqplib';
import type { Logger } from 'pino';
import type { ApiClient } from './api-client.ts';
import type { EndpointGate } from './endpoint-gate.ts';
import type { HandlerRegistry } from './handlers/registry.ts';
import type { ConsumerMetrics } from './metrics.ts';

/** What the delivery flow (delivery-flow.ts) and its outcomes (delivery-settle.ts) work with. */

/** One message as the flow sees it; the consumer binds it to the channel it came on. */
export interface Delivery {
  readonly msg: ConsumeMessage;
  /** Acks; a no-op once its channel is gone (the broker has requeued it already). */
  ack(): void;
  nack(requeue: boolean): void;
  /** Publishes with a confirm on the delivery's channel; ChannelGoneError once it is gone. */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void>;
}

export interface FlowEnv {
  config: Config;
  /** The lane this consumer serves; a job of the other lane's kind is moved there, not run. */
  lane: Lane;
  logger: Logger;
  api: ApiClient;
  registry: HandlerRegistry;
  metrics?: ConsumerMetrics;
  /** Aborted when the process stops: handlers end, waits end, nothing new is published. */
  signal: AbortSignal;
  /** Pause before a message goes back to the queue while the API is unreachable. */
  requeuePauseMs: number;
  /** The webhook lane's per-endpoint limit (WEBHOOK_MAX_IN_FLIGHT); absent in the notes lane. */
  gate?: EndpointGate;
  /** Whether a job kind is paused now (docs/jobs.md, "Control"). */
  isPaused?: (kind: string) => boolean;
}

export type Ctx = {
  d: Delivery;
  env: FlowEnv;
  job: JobMessage;
  attempt: number;
  run: string | undefined;
  log: Logger;
  /** When the handler started (for the attempt report); unset until /start said to run. */
  startedAt?: Date;
};
export const labels = (job: JobMessage) => ({ kind: job.kind, priority: job.priority });
