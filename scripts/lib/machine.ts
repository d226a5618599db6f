import os from 'node:os';
import { connectFirst, loadConfig } from '@notes/contracts';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';

/**
 * What the figures were measured on: they mean little without the machine, the service versions
 * and how busy the machine already was (load average at the start).
 */
export interface Machine {
  cpus: number;
  cpuModel: string;
  memGiB: number;
  node: string;
  os: string;
  loadAvg1: number;
  mariadb: string | null;
  rabbitmq: string | null;
  redis: string | null;
}

async function orNull<T>(f: () => Promise<T>): Promise<T | null> {
  try {
    return await f();
  } catch {
    return null;
  }
}

export async function describeMachine(): Promise<Machine> {
  // The services at the product's configured (default) URLs: the same ones the product uses.
  const config = loadConfig();
  const cpus = os.cpus();
  const [mariadb, rabbitmq, redis] = await Promise.all([
    orNull(async () => {
      const c = await mysql.createConnection({ uri: config.database.serverUrl, connectTimeout: 2000 });
      try {
        const [rows] = await c.query('SELECT VERSION() AS v');
        return String((rows as { v: string }[])[0]?.v ?? '');
      } finally {
        await c.end();
      }
    }),
    orNull(async () => {
      const c = await connectFirst(config.amqp.urls);
      c.on('error', () => {});
      try {
        const props = (c as unknown as { connection: { serverProperties: Record<string, unknown> } }).connection
          .serverProperties;
        return String(props.version ?? '');
      } finally {
        await c.close();
      }
    }),
    orNull(async () => {
      const r = new Redis(config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await r.connect();
        return /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? '';
      } finally {
        r.disconnect();
      }
    }),
  ]);
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadAvg1: os.loadavg()[0] ?? 0,
    mariadb,
    rabbitmq,
    redis,
  };
}
