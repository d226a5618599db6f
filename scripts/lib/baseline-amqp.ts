import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { amqpPriority } from '@notes/contracts';
import amqp, { type Channel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { uuidv7 } from 'uuidv7';
import { type LatencySummary, Samples } from './stats.ts';
import { pickPriority } from './workload.ts';

/**
 * Baseline (b): raw RabbitMQ, the floor under the pipeline, in a scratch vhost on a classic
 * queue with `x-max-priority: 5` like notes.jobs. Three phases:
 *   1. publish persistent messages with confirms, ~256 unconfirmed in flight (throughput);
 *   2. consume them with manual acks at prefetch 200 (throughput);
 *   3. publish at a modest fixed rate with the consumer running (publish→deliver latency).
 */
export interface AmqpBaseline {
  inFlight: number;
  prefetch: number;
  publishPerS: number;
  confirmLatencyMs: LatencySummary;
  consumePerS: number;
  transitRate: number;
  transitLatencyMs: LatencySummary;
}

const QUEUE = 'bench.baseline';
const IN_FLIGHT = 256;
const PREFETCH = 200;

function message(sentAt: number): { content: Buffer; priority: number } {
  const priority = pickPriority(Math.random());
  const body = {
    v: 1,
    job_id: uuidv7(),
    kind: 'note.process',
    note_id: uuidv7(),
    note_version: 1,
    user_id: uuidv7(),
    priority,
    created_at: new Date().toISOString(),
    sent_at: sentAt,
  };
  return { content: Buffer.from(JSON.stringify(body)), priority: amqpPriority(priority) };
}

/** Publishes with at most `window` unconfirmed, until `stop()` says so. Returns the count confirmed. */
async function publishLoop(
  ch: ConfirmChannel,
  window: number,
  next: (i: number) => number | null,
  confirmLatency?: Samples,
): Promise<number> {
  let inFlight = 0;
  let confirmed = 0;
  let failed: Error | null = null;
  let wake: (() => void) | null = null;
  const slot = () => new Promise<void>((r) => (wake = r));
  for (let i = 0; ; i++) {
    const due = next(i);
    if (due === null) break;
    if (due > performance.now()) await sleep(due - performance.now());
    while (inFlight >= window) await slot();
    if (failed) throw failed;
    const t0 = performance.now();
    const { content, priority } = message(t0);
    inFlight++;
    const ok = ch.publish(
      '',
      QUEUE,
      content,
      { persistent: true, mandatory: true, priority, messageId: uuidv7(), contentType: 'application/json' },
      (err) => {
        inFlight--;
        if (err) failed = err instanceof Error ? err : new Error(String(err));
        else {
          confirmed++;
          confirmLatency?.add(performance.now() - t0);
        }
        wake?.();
      },
    );
    if (!ok) await new Promise((r) => ch.once('drain', r));
  }
  while (inFlight > 0) await slot();
  if (failed) throw failed;
  return confirmed;
}

function consumeUntil(ch: Channel, target: number, timeoutMs: number, onMessage?: (m: ConsumeMessage) => void) {
  return new Promise<{ count: number; elapsedS: number; tag: string }>((resolve, reject) => {
    let count = 0;
    const start = performance.now();
    let tag = '';
    const timer = setTimeout(() => resolve({ count, elapsedS: (performance.now() - start) / 1000, tag }), timeoutMs);
    ch.consume(
      QUEUE,
      (msg) => {
        if (!msg) return;
        onMessage?.(msg);
        ch.ack(msg);
        if (++count === target) {
          clearTimeout(timer);
          resolve({ count, elapsedS: (performance.now() - start) / 1000, tag });
        }
      },
      { noAck: false },
    )
      .then((ok) => {
        tag = ok.consumerTag;
      })
      .catch(reject);
  });
}

export async function runAmqpBaseline(amqpUrl: string, seconds: number, transitRate: number): Promise<AmqpBaseline> {
  const conn = await amqp.connect(amqpUrl);
  conn.on('error', () => {});
  try {
    const pub = await conn.createConfirmChannel();
    const sub = await conn.createChannel();
    for (const ch of [pub, sub]) ch.on('error', () => {});
    await pub.assertQueue(QUEUE, { durable: true, arguments: { 'x-queue-type': 'classic', 'x-max-priority': 5 } });
    await pub.purgeQueue(QUEUE);
    await sub.prefetch(PREFETCH);

    // 1. Publish as fast as confirms come back.
    const confirmLatency = new Samples();
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    const published = await publishLoop(pub, IN_FLIGHT, () => (performance.now() < end ? 0 : null), confirmLatency);
    const publishPerS = published / ((performance.now() - t0) / 1000);

    // 2. Drain the backlog.
    const drained = await consumeUntil(sub, published, Math.max(30_000, seconds * 10_000));
    await sub.cancel(drained.tag);
    const consumePerS = drained.count / drained.elapsedS;

    // 3. A steady trickle with the consumer running: the broker's own publish→deliver latency.
    const transit = new Samples();
    const transitCount = Math.max(1, Math.round(transitRate * Math.min(seconds, 2)));
    const interval = 1000 / transitRate;
    const consuming = consumeUntil(sub, transitCount, 30_000, (m) => {
      const sentAt = (JSON.parse(m.content.toString()) as { sent_at: number }).sent_at;
      transit.add(performance.now() - sentAt);
    });
    const t1 = performance.now();
    await publishLoop(pub, IN_FLIGHT, (i) => (i < transitCount ? t1 + i * interval : null));
    const got = await consuming;
    await sub.cancel(got.tag);

    await pub.deleteQueue(QUEUE);
    return {
      inFlight: IN_FLIGHT,
      prefetch: PREFETCH,
      publishPerS,
      confirmLatencyMs: confirmLatency.summary(),
      consumePerS,
      transitRate,
      transitLatencyMs: transit.summary(),
    };
  } finally {
    await conn.close().catch(() => {});
  }
}
