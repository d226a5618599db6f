import type { Channel, ConfirmChannel, Options } from 'amqplib';
import { amqpPriority, type Priority } from './priorities.ts';

/**
 * The RabbitMQ topology, declared identically by the API, the consumers and the scripts.
 *
 *   notes.jobs (direct exchange) --job-->     notes.jobs     (classic queue, x-max-priority 5)
 *                                --webhook--> notes.webhooks (classic queue, x-max-priority 5)
 *   notes.retry (direct exchange) --<delay>-->          notes.retry.<delay>ms          (TTL, DLX -> job)
 *                                 --webhook.<delay>-->  notes.webhooks.retry.<delay>ms (TTL, DLX -> webhook)
 *                                 --webhook.deferred--> notes.webhooks.deferred        (TTL 1 s, DLX -> webhook)
 *   notes.dlx (direct exchange) --dead--> notes.dlq
 *
 * Two lanes (docs/isolation.md): note processing and webhook deliveries have their own work
 * queue, their own wait queues and their own consumer channel, so a slow third party never takes
 * the capacity note processing needs. Both lanes keep the five strict priorities. The DLQ is
 * shared: a dead job is dead whatever its kind, and promoting it routes it back by its kind.
 *
 * Queue arguments cannot change once declared (PRECONDITION_FAILED), so a wait queue's name
 * carries its delay: changing RETRY_DELAYS_MS declares new queues and leaves the old ones to
 * drain back to work.
 */
export const EXCHANGES = { work: 'notes.jobs', retry: 'notes.retry', dead: 'notes.dlx' } as const;
export const QUEUES = { work: 'notes.jobs', webhooks: 'notes.webhooks', dead: 'notes.dlq' } as const;
export const ROUTING = { work: 'job', webhooks: 'webhook', dead: 'dead' } as const;
export const MAX_PRIORITY = 5;

/** The two lanes of work: which queue each consumes, and how a message is routed to it. */
export type Lane = 'notes' | 'webhooks';
export const LANES: Readonly<Record<Lane, { queue: string; routingKey: string }>> = {
  notes: { queue: QUEUES.work, routingKey: ROUTING.work },
  webhooks: { queue: QUEUES.webhooks, routingKey: ROUTING.webhooks },
};

/**
 * A webhook delivery whose endpoint already holds WEBHOOK_MAX_IN_FLIGHT deliveries (and a few
 * waiting in the consumer) is parked here for a second instead of holding a prefetch slot: no
 * attempt is spent, and it comes back to `notes.webhooks` with its priority.
 */
export const DEFERRED = {
  queue: 'notes.webhooks.deferred',
  routingKey: 'webhook.deferred',
  ttlMs: 1000,
} as const;

/** The lane a job kind runs in; anything unknown goes to the notes lane, whose consumer parks it. */
export function laneOf(kind: string | undefined): Lane {
  return kind === 'webhook.deliver' ? 'webhooks' : 'notes';
}

/** Routing key on `notes.jobs` for a job of this kind. */
export function workRoutingKey(kind: string | undefined): string {
  return LANES[laneOf(kind)].routingKey;
}

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
  /** The class of the error that killed the message (docs/jobs.md, failure groups). */
  errorClass: 'x-notes-error-class',
  /**
   * A fresh UUID each time a consumer dead-letters a message: the failure inbox files the message
   * under it, so a redelivery of that one message is filed once and two dead messages never merge
   * (docs/jobs.md, "The failure inbox").
   */
  letterId: 'x-notes-letter-id',
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

export function retryQueueName(delayMs: number, lane: Lane = 'notes'): string {
  return lane === 'notes' ? `notes.retry.${delayMs}ms` : `notes.webhooks.retry.${delayMs}ms`;
}

export function retryRoutingKey(delayMs: number, lane: Lane = 'notes'): string {
  return lane === 'notes' ? String(delayMs) : `webhook.${delayMs}`;
}

/** Every queue of the topology with its role, in the order an operator reads them. */
export function topologyQueues(
  retryDelaysMs: readonly number[],
): { name: string; role: 'work' | 'retry' | 'dead'; lane: Lane | null }[] {
  const delays = [...new Set(retryDelaysMs)];
  const out: { name: string; role: 'work' | 'retry' | 'dead'; lane: Lane | null }[] = [];
  for (const lane of ['notes', 'webhooks'] as const) {
    out.push({ name: LANES[lane].queue, role: 'work', lane });
    for (const d of delays) out.push({ name: retryQueueName(d, lane), role: 'retry', lane });
  }
  out.push({ name: DEFERRED.queue, role: 'retry', lane: 'webhooks' });
  out.push({ name: QUEUES.dead, role: 'dead', lane: null });
  return out;
}

export const WORK_QUEUE_ARGS = {
  'x-queue-type': 'classic',
  'x-max-priority': MAX_PRIORITY,
} as const;

/** Arguments of a wait queue: a queue-level TTL, then back to a lane's work queue. */
function waitQueueArgs(ttlMs: number, lane: Lane) {
  return {
    'x-queue-type': 'classic',
    'x-message-ttl': ttlMs,
    'x-dead-letter-exchange': EXCHANGES.work,
    'x-dead-letter-routing-key': LANES[lane].routingKey,
  };
}

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

  // No TTL and no max-length on a priority queue: expiry and drops happen at the head.
  for (const lane of ['notes', 'webhooks'] as const) {
    const { queue, routingKey } = LANES[lane];
    await channel.assertQueue(queue, { durable: true, arguments: { ...WORK_QUEUE_ARGS } });
    await channel.bindQueue(queue, EXCHANGES.work, routingKey);
  }

  await channel.assertQueue(QUEUES.dead, { durable: true, arguments: { 'x-queue-type': 'classic' } });
  await channel.bindQueue(QUEUES.dead, EXCHANGES.dead, ROUTING.dead);

  for (const delay of new Set(retryDelaysMs)) {
    for (const lane of ['notes', 'webhooks'] as const) {
      const name = retryQueueName(delay, lane);
      await channel.assertQueue(name, { durable: true, arguments: waitQueueArgs(delay, lane) });
      await channel.bindQueue(name, EXCHANGES.retry, retryRoutingKey(delay, lane));
    }
  }
  await channel.assertQueue(DEFERRED.queue, { durable: true, arguments: waitQueueArgs(DEFERRED.ttlMs, 'webhooks') });
  await channel.bindQueue(DEFERRED.queue, EXCHANGES.retry, DEFERRED.routingKey);
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
