import { once } from 'node:events';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { PublishError } from './errors.ts';

/** A publish not confirmed by then counts as failed (the delivery that needed it is not acked). */
const DEFAULT_CONFIRM_TIMEOUT_MS = 10_000;

/**
 * Publishes on a confirm channel and resolves only when the broker has the message: acked, and
 * not returned as unroutable (every publish is `mandatory`). The consumer acks a delivery only
 * after the copy it published (to a wait queue, the DLQ, or back to work) is confirmed, so a
 * message is never in neither place.
 *
 * The broker sends `basic.return` before the `basic.ack` of the same publish, and amqplib handles
 * frames in order, so a return is always seen before its confirm callback.
 */
export class ConfirmPublisher {
  readonly #returned = new Map<string, number>();
  #draining: Promise<unknown> | null = null;

  constructor(
    private readonly channel: ConfirmChannel,
    private readonly timeoutMs = DEFAULT_CONFIRM_TIMEOUT_MS,
  ) {
    channel.on('return', (msg: Message) => {
      const id = returnKey(msg.fields.exchange, msg.fields.routingKey, msg.properties.messageId);
      this.#returned.set(id, (this.#returned.get(id) ?? 0) + 1);
    });
  }

  async publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
    // Respect back-pressure: when the socket buffer is full, wait for it to drain first.
    if (this.#draining) await this.#draining;
    const key = returnKey(exchange, routingKey, options.messageId);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new PublishError(`publish to ${exchange} not confirmed within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const done = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const returns = this.#returned.get(key) ?? 0;
        if (returns > 0) {
          if (returns === 1) this.#returned.delete(key);
          else this.#returned.set(key, returns - 1);
          reject(new PublishError(`publish to ${exchange}/${routingKey} was unroutable (returned)`));
        } else if (err) {
          reject(new PublishError(`publish to ${exchange} failed: ${(err as Error).message ?? err}`));
        } else {
          resolve();
        }
      };
      try {
        const ok = this.channel.publish(exchange, routingKey, content, { ...options, mandatory: true }, done);
        if (!ok && !this.#draining) {
          this.#draining = Promise.race([once(this.channel, 'drain'), once(this.channel, 'close')]).finally(() => {
            this.#draining = null;
          });
        }
      } catch (err) {
        // amqplib throws synchronously when the channel is already closed.
        done(err ?? new Error('channel closed'));
      }
    });
  }
}

function returnKey(exchange: string, routingKey: string, messageId: unknown): string {
  return `${exchange}\u0000${routingKey}\u0000${String(messageId ?? '')}`;
}
