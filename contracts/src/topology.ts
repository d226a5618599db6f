import type { Channel, ConfirmChannel, Options } from 'amqplib';
import { amqpPriority, type Priority } from './priorities.ts';

/**
 * The RabbitMQ topology, declared identically by the API, the consumers and the scripts.
 *
 *   notes.jobs (direct exchange) --job--> notes.jobs (classic queue, x-max-priority 5)
 *   notes.retry (direct exchange) --<delay>--> notes.retry.<delay>ms (TTL <delay>, DLX -> notes.jobs)
 *   notes.dlx (direct exchange) --dead--> notes.dlq
 *
 * Queue arguments cannot change once declared (PRECONDITION_FAILED), so a wait queue's name
 * carries its delay: changing RETRY_DELAYS_MS declares new queues and leaves the old ones to
 * drain back to work.
 */
export const EXCHANGES = { work: 'notes.jobs', retry: 'notes.retry', dead: 'notes.dlx' } as const;
export const QUEUES = { work: 'notes.jobs', dead: 'notes.dlq' } as const;
export const ROUTING = { work: 'job', dead: 'dead' } as const;
export const MAX_PRIORITY = 5;

/** Our own headers; never trust `x-death` counts (they differ across RabbitMQ versions). */
export const HEADERS = {
  attempt: 'x-notes-attempt',
  deliveries: 'x-notes-deliveries',
  /** Times the message was put back because the API was unreachable (not counted as deliveries). */
  requeued: 'x-notes-requeued',
  deadReason: 'x-notes-dead-reason',
  deadAt: 'x-notes-dead-at',
  malformed: 'x-notes-malformed',
  promotedAt: 'x-notes-promoted-at',
  /**
   * The job's priority by name: what routes a message to its queue in the quorum topology. No
   * `x-` prefix: a headers exchange leaves `x-` headers out of its matching.
   */
  priority: 'notes-priority',
} as const;

/** Headers the broker adds on dead-lettering; stripped whenever we republish a message. */
const BROKER_DEATH_HEADERS = [
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
];

export function retryQueueName(delayMs: number): string {
  return `notes.retry.${delayMs}ms`;
}

export function retryRoutingKey(delayMs: number): string {
  return String(delayMs);
}

export const WORK_QUEUE_ARGS = {
  'x-queue-type': 'classic',
  'x-max-priority': MAX_PRIORITY,
} as const;

/**
 * Asserts every exchange, queue and binding of the classic topology. Idempotent; safe on
 * RabbitMQ 3.10 and 4.x. Processes call `assertTopologyOf` (quorum-topology.ts), which picks the
 * variant QUEUE_TYPE names.
 */
export async function assertTopology(
  channel: Channel | ConfirmChannel,
  retryDelaysMs: readonly number[],
): Promise<void> {
  await channel.assertExchange(EXCHANGES.work, 'direct', { durable: true });
  await channel.assertExchange(EXCHANGES.retry, 'direct', { durable: true });
  await channel.assertExchange(EXCHANGES.dead, 'direct', { durable: true });

  // No TTL and no max-length on the priority queue: expiry and drops happen at the head.
  await channel.assertQueue(QUEUES.work, { durable: true, arguments: { ...WORK_QUEUE_ARGS } });
  await channel.bindQueue(QUEUES.work, EXCHANGES.work, ROUTING.work);

  await channel.assertQueue(QUEUES.dead, { durable: true, arguments: { 'x-queue-type': 'classic' } });
  await channel.bindQueue(QUEUES.dead, EXCHANGES.dead, ROUTING.dead);

  for (const delay of new Set(retryDelaysMs)) {
    const name = retryQueueName(delay);
    await channel.assertQueue(name, {
      durable: true,
      arguments: {
        'x-queue-type': 'classic',
        'x-message-ttl': delay,
        'x-dead-letter-exchange': EXCHANGES.work,
        'x-dead-letter-routing-key': ROUTING.work,
      },
    });
    await channel.bindQueue(name, EXCHANGES.retry, retryRoutingKey(delay));
  }
}

/** Publish options for a job message: persistent, prioritised, identified by the job id. */
export function jobPublishOptions(args: {
  jobId: string;
  kind: string;
  priority: Priority;
  attempt: number;
  headers?: Record<string, unknown>;
}): Options.Publish {
  return {
    persistent: true,
    mandatory: true,
    contentType: 'application/json',
    messageId: args.jobId,
    type: args.kind,
    priority: amqpPriority(args.priority),
    timestamp: Math.floor(Date.now() / 1000),
    headers: {
      ...withoutDeathHeaders(args.headers ?? {}),
      [HEADERS.attempt]: args.attempt,
      [HEADERS.priority]: args.priority,
    },
  };
}

/** A copy of the headers without the broker's dead-letter bookkeeping. */
export function withoutDeathHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!BROKER_DEATH_HEADERS.includes(k)) out[k] = v;
  }
  return out;
}

/** Reads our attempt header (1-based); a missing or nonsense header counts as the first attempt. */
export function attemptOf(headers: Record<string, unknown> | undefined): number {
  const raw = headers?.[HEADERS.attempt];
  const n = typeof raw === 'number' ? raw : Number(raw);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}
