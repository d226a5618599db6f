import type { Channel, ConfirmChannel } from 'amqplib';
import type { QueueType } from './config.ts';
import { PRIORITIES, type Priority } from './priorities.ts';
import { assertTopology, EXCHANGES, HEADERS, QUEUES, ROUTING, retryQueueName, retryRoutingKey } from './topology.ts';

/**
 * The replicated variant of the topology (`QUEUE_TYPE=quorum`, docs/scaling.md). Quorum queues
 * have no message priorities on RabbitMQ 3.10 and only two, served 2:1 rather than strictly, on
 * 4.x; so each of the five priorities gets a quorum queue of its own and the consumers ask them
 * highest first (consumers/src/priority-fetcher.ts):
 *
 *   notes.jobs (direct) --job--> notes.jobs.priority (headers: notes-priority)
 *       --max--> notes.jobs.max  --critical--> notes.jobs.critical  ...  --low--> notes.jobs.low
 *       (no priority header: alternate exchange notes.jobs.unprioritised --> notes.jobs.normal)
 *   notes.retry (direct) --<delay>--> notes.retry.<delay>ms (quorum, TTL, DLX -> notes.jobs/job)
 *   notes.dlx (direct) --dead--> notes.dlq (quorum)
 *
 * Publishers are the same in both variants (they publish to notes.jobs with key `job`); the
 * exchange-to-exchange binding sorts by the priority header, which survives dead-lettering, so
 * a retry comes back to its own priority's queue. Every quorum queue that dead-letters does it
 * `at-least-once` (the broker keeps the message until the target confirmed it), which needs
 * `reject-publish` overflow. A vhost holds one variant: the queue names of the two overlap
 * (notes.dlq, the wait queues) with different arguments, which the broker refuses.
 */
export const QUORUM_EXCHANGES = {
  byPriority: 'notes.jobs.priority',
  unprioritised: 'notes.jobs.unprioritised',
} as const;

/**
 * The broker's own poison limit on a work queue: returns (deliveries without an ack) after which
 * it dead-letters the message itself. A backstop only: the consumers park a message in the DLQ,
 * and tell the API, at MAX_DELIVERIES (at most this minus two, checked by the config).
 */
export const QUORUM_DELIVERY_LIMIT = 50;

/** The quorum work queue of one priority. */
export function quorumWorkQueue(priority: Priority): string {
  return `${QUEUES.work}.${priority}`;
}

/** The work queues of a topology, highest priority first (one for classic). */
export function workQueueNames(queueType: QueueType): string[] {
  if (queueType === 'classic') return [QUEUES.work];
  return [...PRIORITIES].reverse().map(quorumWorkQueue);
}

/** Asserts the topology QUEUE_TYPE names: classic (topology.ts) or quorum. Idempotent. */
export async function assertTopologyOf(
  channel: Channel | ConfirmChannel,
  retryDelaysMs: readonly number[],
  queueType: QueueType,
): Promise<void> {
  if (queueType === 'classic') return assertTopology(channel, retryDelaysMs);
  return assertQuorumTopology(channel, retryDelaysMs);
}

/** Dead-letter settings that keep a message in its quorum queue until the target confirmed it. */
const AT_LEAST_ONCE = { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' } as const;

async function assertQuorumTopology(
  channel: Channel | ConfirmChannel,
  retryDelaysMs: readonly number[],
): Promise<void> {
  await channel.assertExchange(EXCHANGES.work, 'direct', { durable: true });
  await channel.assertExchange(EXCHANGES.retry, 'direct', { durable: true });
  await channel.assertExchange(EXCHANGES.dead, 'direct', { durable: true });
  await channel.assertExchange(QUORUM_EXCHANGES.unprioritised, 'fanout', { durable: true });
  await channel.assertExchange(QUORUM_EXCHANGES.byPriority, 'headers', {
    durable: true,
    alternateExchange: QUORUM_EXCHANGES.unprioritised,
  });
  await channel.bindExchange(QUORUM_EXCHANGES.byPriority, EXCHANGES.work, ROUTING.work);

  for (const priority of PRIORITIES) {
    const name = quorumWorkQueue(priority);
    await channel.assertQueue(name, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-delivery-limit': QUORUM_DELIVERY_LIMIT,
        'x-dead-letter-exchange': EXCHANGES.dead,
        'x-dead-letter-routing-key': ROUTING.dead,
        ...AT_LEAST_ONCE,
      },
    });
    await channel.bindQueue(name, QUORUM_EXCHANGES.byPriority, '', { 'x-match': 'all', [HEADERS.priority]: priority });
  }
  await channel.bindQueue(quorumWorkQueue('normal'), QUORUM_EXCHANGES.unprioritised, '');

  await channel.assertQueue(QUEUES.dead, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(QUEUES.dead, EXCHANGES.dead, ROUTING.dead);

  for (const delay of new Set(retryDelaysMs)) {
    const name = retryQueueName(delay);
    await channel.assertQueue(name, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-message-ttl': delay,
        'x-dead-letter-exchange': EXCHANGES.work,
        'x-dead-letter-routing-key': ROUTING.work,
        ...AT_LEAST_ONCE,
      },
    });
    await channel.bindQueue(name, EXCHANGES.retry, retryRoutingKey(delay));
  }
}
