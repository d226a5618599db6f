import type { ChannelModel } from 'amqplib';

/** What a passive declare says of one queue, or why it could not be asked. */
export type QueueDepth = { ready: number; consumers: number } | { error: string };

/**
 * Passive declares on one channel. A missing queue closes the channel (404), so the next
 * queue gets a fresh one; an unreachable broker answers every queue with an error.
 */
export async function checkQueues(connection: ChannelModel | null, names: string[]): Promise<Map<string, QueueDepth>> {
  const out = new Map<string, QueueDepth>();
  if (!connection) {
    for (const n of names) out.set(n, { error: 'RabbitMQ is not connected' });
    return out;
  }
  let channel: Awaited<ReturnType<ChannelModel['createChannel']>> | null = null;
  try {
    for (const name of names) {
      try {
        if (!channel) {
          channel = await connection.createChannel();
          channel.on('error', () => {}); // a 404 on a passive declare is an answer, not a crash
        }
        const q = await channel.checkQueue(name);
        out.set(name, { ready: q.messageCount, consumers: q.consumerCount });
      } catch (err) {
        out.set(name, { error: (err as Error).message });
        channel = null; // the broker closed it
      }
    }
  } finally {
    await (channel as { close(): Promise<void> } | null)?.close().catch(() => {});
  }
  return out;
}
