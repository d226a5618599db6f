import type { Channel, ConfirmChannel } from 'amqplib';
import type { QueueType } from './config.ts';
import { PRIORITIES, type Priority } from './priorities.ts';
import {
  assertTopology,
  DEFERRED,
  EXCHANGES,
  HEADERS,
  LANES,
  type Lane,
  QUEUES,
  ROUTING,
  retryQueueName,
  retryRoutingKey,
  topologyQueues,
} from './topology.ts';

/**
 * The replicated variant of the topology (`QUEUE_TYPE=quorum`, docs/scaling.md). Quorum queues
 * have no message priorities on RabbitMQ 3.10 and only two, served 2:1 rather than strictly, on
 * 4.x; so in each lane each of the five priorities gets a quorum queue of its own, and the
 * consumers start the highest buffered first (consumers/src/priority-scheduler.ts):
 *
 *   notes.jobs (direct) --job-->     notes.jobs.priority (headers: notes-priority)
 *                                        --max--> notes.jobs.max ... --low--> notes.jobs.low
 *                       --webhook--> notes.webhooks.priority --max--> notes.webhooks.max ...
 *   (no priority header: the alternate exchange <lane>.unprioritised --> <lane>.normal)
 *   notes.retry (direct) --> the wait queues and notes.webhooks.deferred as in classic, quorum
 *   notes.dlx (direct) --dead--> notes.dlq (quorum)
 *
 * Publishers are the same in both variants (they publish to notes.jobs with the lane's key); the
 * exchange-to-exchange binding sorts by the priority header, which survives dead-lettering, so a
 * retry comes back to its own priority's queue. Every quorum queue that dead-letters does it
 * `at-least-once` (the broker keeps the message until the target confirmed it), which needs
 * `reject-publish` overflow. A vhost holds one variant: the names of the two overlap (notes.dlq,
 * the wait queues) with different arguments, which the broker refuses.
 */

/**
 * The broker's own poison limit on a work queue: returns (deliveries without an ack) after which
 * it dead-letters the message itself. A backstop only: the consumers park a message in the DLQ,
 * and tell the API, at MAX_DELIVERIES (at most this minus two, checked by the config).
 */
export const QUORUM_DELIVERY_LIMIT = 50;

/** The quorum work queue of one priority in a lane. */
export function quorumWorkQueue(priority: Priority, lane: Lane = 'notes'): string {
  return `${LANES[lane].queue}.${priority}`;
}

/** A lane's work queues, highest priority first (one for classic). */
export function workQueueNames(queueType: QueueType, lane: Lane = 'notes'): string[] {
  if (queueType === 'classic') return [LANES[lane].queue];
  return [...PRIORITIES].reverse().map((p) => quorumWorkQueue(p, lane));
}

/** Every queue of the topology QUEUE_TYPE names, with its role (topologyQueues for classic). */
export function topologyQueuesOf(
  retryDelaysMs: readonly number[],
  queueType: QueueType,
): ReturnType<typeof topologyQueues> {
  const classic = topologyQueues(retryDelaysMs);
  if (queueType === 'classic') return classic;
  return classic.flatMap((q) =>
    q.role === 'work' && q.lane ? workQueueNames('quorum', q.lane).map((name) => ({ ...q, name })) : [q],
  );
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

function quorumWaitArgs(ttlMs: number, lane: Lane) {
  return {
    'x-queue-type': 'quorum',
    'x-message-ttl': ttlMs,
    'x-dead-letter-exchange': EXCHANGES.work,
    'x-dead-letter-routing-key': LANES[lane].routingKey,
    ...AT_LEAST_ONCE,
  };
}

async function assertQuorumTopology(channel: Channel | ConfirmChannel, retryDelaysMs: readonly number[]) {
  await channel.assertExchange(EXCHANGES.work, 'direct', { durable: true });
  await channel.assertExchange(EXCHANGES.retry, 'direct', { durable: true });
  await channel.assertExchange(EXCHANGES.dead, 'direct', { durable: true });

  for (const lane of ['notes', 'webhooks'] as const) {
    const { queue, routingKey } = LANES[lane];
    const byPriority = `${queue}.priority`;
    const unprioritised = `${queue}.unprioritised`;
    await channel.assertExchange(unprioritised, 'fanout', { durable: true });
    await channel.assertExchange(byPriority, 'headers', { durable: true, alternateExchange: unprioritised });
    await channel.bindExchange(byPriority, EXCHANGES.work, routingKey);
    for (const priority of PRIORITIES) {
      const name = quorumWorkQueue(priority, lane);
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
      await channel.bindQueue(name, byPriority, '', { 'x-match': 'all', [HEADERS.priority]: priority });
    }
    await channel.bindQueue(quorumWorkQueue('normal', lane), unprioritised, '');
    for (const delay of new Set(retryDelaysMs)) {
      const name = retryQueueName(delay, lane);
      await channel.assertQueue(name, { durable: true, arguments: quorumWaitArgs(delay, lane) });
      await channel.bindQueue(name, EXCHANGES.retry, retryRoutingKey(delay, lane));
    }
  }
  await channel.assertQueue(DEFERRED.queue, { durable: true, arguments: quorumWaitArgs(DEFERRED.ttlMs, 'webhooks') });
  await channel.bindQueue(DEFERRED.queue, EXCHANGES.retry, DEFERRED.routingKey);

  await channel.assertQueue(QUEUES.dead, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(QUEUES.dead, EXCHANGES.dead, ROUTING.dead);
}
