import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { ConfirmPublisher } from './confirm-publisher.ts';
import type { Delivery } from './delivery-context.ts';
import { ChannelGoneError } from './errors.ts';

/** What a bound delivery asks of its consumer (consumer.ts). */
export interface DeliveryChannel {
  /** True while `ch` is the consumer's current channel. */
  isCurrent(ch: ConfirmChannel): boolean;
  /** The current channel's confirm publisher, if any. */
  publisher(): ConfirmPublisher | null;
  logger(): Logger;
}

/**
 * A delivery that only ever touches the channel it came on, and only while that is current:
 * once the channel is gone its tag is void (acking it on a new channel would be a channel error)
 * and the broker redelivers the message. Acked or nacked once at most.
 */
export function bindDelivery(ch: ConfirmChannel, msg: ConsumeMessage, owner: DeliveryChannel): Delivery {
  const live = () => owner.isCurrent(ch);
  let settled = false;
  const settle = (fn: () => void) => {
    if (settled || !live()) return;
    settled = true;
    try {
      fn();
    } catch (err) {
      owner.logger().warn({ err }, 'ack/nack failed; the broker will redeliver');
    }
  };
  return {
    msg,
    ack: () => settle(() => ch.ack(msg)),
    nack: (requeue) => settle(() => ch.nack(msg, false, requeue)),
    publish: async (exchange, routingKey, content, options) => {
      const publisher = owner.publisher();
      if (!live() || !publisher) throw new ChannelGoneError('the delivery channel is gone');
      await publisher.publish(exchange, routingKey, content, options);
      if (!live()) throw new ChannelGoneError('the delivery channel closed while publishing');
    },
  };
}

/** True when every task in `tasks` (including any added meanwhile) settled within `ms`. */
export async function settledWithin(tasks: ReadonlySet<Promise<void>>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (tasks.size > 0) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const timer = new AbortController();
    await Promise.race([
      Promise.allSettled([...tasks]),
      sleep(left, undefined, { signal: timer.signal }).catch(() => {}),
    ]);
    timer.abort();
  }
  return true;
}
