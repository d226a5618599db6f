/**
 * `npm run bench:queues`: what a quorum queue costs next to a classic one on the local broker,
 * in a vhost of its own (docs/scaling.md). For each type it publishes N persistent messages with
 * confirms (256 in flight), reads the queue's memory and the broker's with them waiting, then
 * consumes them with acks (prefetch 200), and prints one line per type (or JSON with --json).
 * A one-node measurement: on three nodes a quorum queue also writes every message to two more
 * disks and waits for one of them before confirming.
 */
import { parseArgs } from 'node:util';
import { createTestNamespace } from '@notes/contracts/testing';
import amqp, { type ConfirmChannel } from 'amqplib';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    bytes: { type: 'string', default: '1024' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.messages);
const BODY = Buffer.alloc(Number(values.bytes), 'x');
const MGMT = process.env.TEST_RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672';
const AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

async function mgmt<T>(path: string): Promise<T> {
  const res = await fetch(`${MGMT}/api/${path}`, { headers: { authorization: AUTH } });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

async function publishAll(ch: ConfirmChannel, queue: string): Promise<number> {
  const started = performance.now();
  let inFlight = 0;
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (inFlight < 256 && sent < N) {
        inFlight++;
        sent++;
        ch.sendToQueue(queue, BODY, { persistent: true }, (err) => {
          if (err) return reject(err);
          inFlight--;
          if (sent === N && inFlight === 0) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  return N / ((performance.now() - started) / 1000);
}

async function consumeAll(ch: ConfirmChannel, queue: string): Promise<number> {
  await ch.prefetch(200);
  const started = performance.now();
  let got = 0;
  await new Promise<void>((resolve) => {
    void ch.consume(queue, (msg) => {
      if (!msg) return;
      ch.ack(msg);
      if (++got === N) resolve();
    });
  });
  return N / ((performance.now() - started) / 1000);
}

const ns = await createTestNamespace('benchq');
const rows: Record<string, number | string>[] = [];
try {
  const conn = await amqp.connect(ns.amqpUrl, { noDelay: true });
  for (const type of ['classic', 'quorum'] as const) {
    const ch = await conn.createConfirmChannel();
    const queue = `bench.${type}`;
    await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': type } });
    const brokerBefore = (await mgmt<{ mem_used: number }[]>('nodes'))[0]?.mem_used ?? 0;
    const publishPerSec = await publishAll(ch, queue);
    // The management API's figures lag by a few seconds.
    let q: { memory?: number; messages: number } = { messages: 0 };
    for (let i = 0; i < 40 && q.messages < N; i++) {
      await new Promise((r) => setTimeout(r, 500));
      q = await mgmt<{ memory?: number; messages: number }>(`queues/${encodeURIComponent(ns.vhost)}/${queue}`);
    }
    const brokerAfter = (await mgmt<{ mem_used: number }[]>('nodes'))[0]?.mem_used ?? 0;
    const consumePerSec = await consumeAll(ch, queue);
    await ch.close();
    rows.push({
      type,
      messages: N,
      body_bytes: BODY.length,
      publish_confirmed_per_s: Math.round(publishPerSec),
      consume_ack_per_s: Math.round(consumePerSec),
      // The management API reports no process memory for a quorum queue (it lives in the Raft log).
      queue_memory_mb: typeof q.memory === 'number' ? Math.round((q.memory / 1e6) * 10) / 10 : 'n/a',
      broker_memory_delta_mb: Math.round(((brokerAfter - brokerBefore) / 1e6) * 10) / 10,
    });
  }
  await conn.close();
} finally {
  await ns.cleanup();
}
if (values.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
else
  for (const r of rows)
    process.stdout.write(
      `${Object.entries(r)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}\n`,
    );
