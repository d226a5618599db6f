import { type QueueType, topologyQueuesOf } from '@notes/contracts';
import amqp, { type ConfirmChannel } from 'amqplib';

/** Every queue the pipeline declares for a retry schedule. */
export function pipelineQueues(retryDelaysMs: readonly number[], queueType: QueueType = 'classic'): string[] {
  return topologyQueuesOf(retryDelaysMs, queueType).map((q) => q.name);
}

/**
 * Ready messages and consumers per queue, straight from the broker with a passive declare (the
 * management API's figures lag by seconds). Missing queues are left out.
 */
export async function queueDepths(
  amqpUrl: string,
  queues: readonly string[],
): Promise<Record<string, { messages: number; consumers: number }>> {
  const conn = await amqp.connect(amqpUrl, { timeout: 5000 });
  conn.on('error', () => {});
  const out: Record<string, { messages: number; consumers: number }> = {};
  try {
    for (const q of queues) {
      // A passive declare of a missing queue closes its channel: one channel per queue.
      const ch = await conn.createChannel();
      ch.on('error', () => {});
      try {
        const info = await ch.checkQueue(q);
        out[q] = { messages: info.messageCount, consumers: info.consumerCount };
        await ch.close();
      } catch {}
    }
  } finally {
    await conn.close().catch(() => {});
  }
  return out;
}

/** A confirm channel of the test's own; `close()` closes its connection too. */
export async function openChannel(amqpUrl: string): Promise<{ ch: ConfirmChannel; close(): Promise<void> }> {
  const conn = await amqp.connect(amqpUrl, { timeout: 5000 });
  conn.on('error', () => {});
  const ch = await conn.createConfirmChannel();
  ch.on('error', () => {});
  return {
    ch,
    close: async () => {
      await conn.close().catch(() => {});
    },
  };
}
