import { createTestNamespace } from '@notes/contracts/testing';
import { type AmqpBaseline, runAmqpBaseline } from './baseline-amqp.ts';
import { type DbBaseline, prepareDbBaseline, runDbBaseline } from './baseline-db.ts';

/**
 * The same-run baseline: the components alone, on the same machine, minutes apart from the
 * product run, so "the product does X% of what its parts can" compares like with like (figures
 * drift up to 40% between runs). Everything runs in a scratch database and vhost of its own,
 * removed afterwards.
 */
export interface Baseline {
  db: DbBaseline[];
  amqp: AmqpBaseline;
}

export const DB_CONNECTIONS = [16, 64] as const;

export async function runBaseline(opts: {
  seconds: number;
  transitRate: number;
  log: (line: string) => void;
}): Promise<Baseline> {
  const ns = await createTestNamespace('benchbase');
  try {
    const config = ns.config();
    await prepareDbBaseline(config);
    const db: DbBaseline[] = [];
    for (const connections of DB_CONNECTIONS) {
      opts.log(`baseline: MariaDB note+outbox transactions, ${connections} connections, ${opts.seconds} s`);
      db.push(await runDbBaseline(config, connections, opts.seconds));
    }
    opts.log(`baseline: RabbitMQ publish with confirms / consume with acks, priority queue, ${opts.seconds} s`);
    const amqp = await runAmqpBaseline(ns.amqpUrl, opts.seconds, opts.transitRate);
    return { db, amqp };
  } finally {
    await ns.cleanup();
  }
}

/** The best raw transaction rate (16 or 64 connections): what MariaDB can do for this write. */
export function bestDb(baseline: Baseline): DbBaseline | null {
  return baseline.db.reduce<DbBaseline | null>((best, d) => (!best || d.txPerS > best.txPerS ? d : best), null);
}

/** The raw figure at the concurrency nearest the bench's own (latency compares best at equal load). */
export function dbNear(baseline: Baseline, connections: number): DbBaseline | null {
  const distance = (d: DbBaseline) => Math.abs(d.connections - connections);
  return baseline.db.reduce<DbBaseline | null>((near, d) => (!near || distance(d) < distance(near) ? d : near), null);
}
