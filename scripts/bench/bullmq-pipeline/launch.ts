import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createTestNamespace, freePort } from '@notes/contracts/testing';
import mysql from 'mysql2/promise';
import { buildTarget, isStale } from '../../build.ts';
import { ApiClient } from '../../lib/api-client.ts';
import { prepareDbBaseline } from '../../lib/baseline-db.ts';
import { isBullmqProcess } from '../../lib/processes.ts';
import { type Product, ProductStartError } from '../../lib/product.ts';

/**
 * Starts the BullMQ comparator (server.ts, worker.ts) for `npm run bench`: a scratch database
 * holding the product's own tables (its migrations, so a note row costs MariaDB the same), a
 * Redis key prefix of its own, a free port. Both processes run esbuild bundles with the same
 * heap cap as the product's, so neither side pays for the TypeScript loader. `stop()` ends both
 * and removes the database and every key under the prefix.
 */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));

export const BULLMQ_TARGET = {
  name: 'bullmq-pipeline',
  dir: path.relative(ROOT, HERE).split(path.sep).join('/'),
  entries: ['server.ts', 'worker.ts'],
};

export interface BullmqOptions {
  log: (line: string) => void;
  readyTimeoutMs?: number;
  /** Jobs the worker runs at once (default 64). */
  concurrency?: number;
}

function startChild(file: string, env: NodeJS.ProcessEnv, log: (line: string) => void): ChildProcess {
  const child = spawn(process.execPath, ['--max-old-space-size=256', path.join(HERE, 'dist', file)], {
    cwd: HERE,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let echoed = 0;
  for (const stream of [child.stdout, child.stderr]) {
    // Always read the pipes: a child blocked on a full pipe would stall the comparator.
    createInterface({ input: stream }).on('line', (line) => {
      if (echoed++ < 30) log(`[bullmq ${path.basename(file, '.js')}] ${line}`);
    });
  }
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  if ((await Promise.race([exited, sleep(10_000).then(() => 'timeout')])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

export async function startBullmqPipeline(opts: BullmqOptions): Promise<Product> {
  if (isStale(BULLMQ_TARGET)) await buildTarget(BULLMQ_TARGET);
  const ns = await createTestNamespace('benchbullmq');
  opts.log(`BullMQ comparator: database ${ns.databaseName}, key prefix ${ns.redisKeyPrefix}`);
  const children: ChildProcess[] = [];
  let db: mysql.Connection | null = null;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await db?.end().catch(() => {});
    await Promise.all(children.map(stopChild));
    await ns.cleanup();
  };
  try {
    await prepareDbBaseline(ns.config());
    db = await mysql.createConnection({ uri: ns.databaseUrl, connectTimeout: 2000 });
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: ns.databaseUrl,
      REDIS_URL: ns.redisUrl,
      BULLMQ_PREFIX: ns.redisKeyPrefix.replace(/:$/, ''),
      PORT: String(port),
      JWT_SECRET: randomBytes(32).toString('hex'),
      WORKER_CONCURRENCY: String(opts.concurrency ?? 64),
    };
    // The bench's own loader must not leak into the children.
    delete env.NODE_OPTIONS;
    for (const file of ['server.js', 'worker.js']) children.push(startChild(file, env, opts.log));
    const died = Promise.race(children.map((c) => once(c, 'exit'))).then(([code, signal]) => {
      throw new ProductStartError(`the BullMQ comparator exited (${signal ?? code}) before it was ready`);
    });
    const url = `http://127.0.0.1:${port}`;
    const client = new ApiClient(url, 2);
    try {
      await Promise.race([client.waitFor('/health/ready', opts.readyTimeoutMs ?? 60_000), died]);
    } finally {
      died.catch(() => {});
      await client.close();
    }
    const conn = db;
    return {
      url,
      owned: true,
      roots: [process.pid],
      consumers: 1,
      databaseUrl: ns.databaseUrl,
      ownsProcess: isBullmqProcess,
      async unfinished() {
        const [rows] = await conn.query("SELECT COUNT(*) AS n FROM notes WHERE status IN ('queued', 'processing')");
        return Number((rows as { n: number }[])[0]?.n ?? 0);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
