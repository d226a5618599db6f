import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { generateServiceKeyPair } from '@notes/contracts';
import { createTestNamespace, freePort, type TestNamespace } from '@notes/contracts/testing';
import mysql from 'mysql2/promise';
import { ApiClient } from './api-client.ts';
import { isProductProcess, isSupervisor, parentOf, pidListeningOn } from './processes.ts';

/**
 * The product under test. By default the bench runs its own: `npm start` (scripts/start.ts) as
 * a child, in a namespace of its own (database, RabbitMQ vhost, Redis key prefix) on free ports,
 * torn down afterwards. With --url it attaches to one already running and only finds its pids.
 */
export interface Product {
  url: string;
  /** True when the bench started it (and will stop it). */
  owned: boolean;
  /** Pids whose process trees are the product (for the memory monitor). */
  roots: number[];
  consumers: number | null;
  /** The product's database, when the bench started it (the data benchmark seeds it). */
  databaseUrl: string | null;
  /** Which of the processes the monitor names are this product's own (lib/processes.ts). */
  ownsProcess(name: string): boolean;
  /** Notes written but not yet processed or dead; null when the bench can't see the database. */
  unfinished(): Promise<number | null>;
  stop(): Promise<void>;
}

export interface StartOptions {
  consumers: number;
  /** Extra environment for the product (--product-env KEY=VALUE), e.g. CONSUMER_PREFETCH. */
  env: Record<string, string>;
  /** Where the product's own output goes (the bench's stderr). */
  log: (line: string) => void;
  readyTimeoutMs?: number;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Product output echoed before the rest is only counted: a 429 storm must not flood the terminal. */
const ECHO_LINES = 30;

export class ProductStartError extends Error {
  override name = 'ProductStartError';
}

const servicePair = generateServiceKeyPair();

function productEnv(ns: TestNamespace, port: number, consumerPort: number, opts: StartOptions): NodeJS.ProcessEnv {
  // The namespace's test tuning (fast retries, small pool, quick polls) is dropped: the bench
  // measures the product as it ships, in production mode.
  const { RETRY_DELAYS_MS: _r, OUTBOX_POLL_MS: _o, DB_POOL_SIZE: _d, ...nsEnv } = ns.env;
  return {
    ...process.env,
    ...nsEnv,
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(32).toString('hex'),
    // A fresh service key pair per run, as production requires (docs/security.md).
    SERVICE_PRIVATE_KEY: servicePair.privateKey,
    SERVICE_PUBLIC_KEYS: servicePair.publicKey,
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    API_URL: `http://127.0.0.1:${port}`,
    CONSUMER_PORT: String(consumerPort),
    CONSUMER_PROCESSES: String(opts.consumers),
    ...BENCH_LIMITS,
    ...opts.env,
  };
}

/**
 * What the bench sets of the product's limits (docs/isolation.md): it registers every user from
 * one address in a moment, which the per-address registration limit exists to refuse, so that
 * limit is off. The per-user write rate stays at the product's default (or --product-env): the
 * bench measures the product as it ships, limiter included, and prints the setting.
 */
export const BENCH_LIMITS: Record<string, string> = { AUTH_ADDRESS_RATE_PER_MINUTE: '0' };

/** One line saying which request-rate limits the product runs with. */
export function describeLimits(env: Record<string, string>, users: number, connections: number): string {
  const all = { ...BENCH_LIMITS, ...env };
  const rate = Number(all.USER_WRITE_RATE ?? 100);
  const burst = Number(all.USER_WRITE_BURST ?? 200);
  const write =
    rate > 0 && burst > 0
      ? `per-user write rate ${rate}/s, bursts of ${burst} (${connections} connections over ${users} users)`
      : 'per-user write rate off';
  const perAddress = Number(all.AUTH_ADDRESS_RATE_PER_MINUTE ?? 60) > 0 ? 'on' : 'off';
  return `limits: ${write}; per-address register/login limit ${perAddress}`;
}

export async function startProduct(opts: StartOptions): Promise<Product> {
  const ns = await createTestNamespace('bench');
  opts.log(`our product: database ${ns.databaseName}, vhost ${ns.vhost}, key prefix ${ns.redisKeyPrefix}`);
  const port = await freePort();
  // Consumer i listens on CONSUMER_PORT + i; pick a base whose next few ports are free too.
  const consumerPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Exactly what a user runs: npm start builds what is stale, then runs the compiled supervisor.
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: productEnv(ns, port, consumerPort, opts),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const recent: string[] = [];
  let echoed = 0;
  let suppressed = 0;
  for (const stream of [child.stdout, child.stderr]) {
    // Always read the pipes: a child blocked on a full pipe would stall the product.
    createInterface({ input: stream }).on('line', (line) => {
      recent.push(line);
      if (recent.length > 50) recent.shift();
      if (echoed < ECHO_LINES) {
        echoed++;
        opts.log(`[product] ${line}`);
      } else suppressed++;
    });
  }
  const exited = once(child, 'exit');

  const db = await mysql.createConnection({ uri: ns.databaseUrl, connectTimeout: 2000 });
  let stopped = false;
  const product: Product = {
    url,
    owned: true,
    roots: [process.pid],
    consumers: opts.consumers,
    databaseUrl: ns.databaseUrl,
    ownsProcess: isProductProcess,
    async unfinished() {
      // Only the few unfinished rows are counted (an index range), so this stays cheap however
      // many notes the run has written.
      const [rows] = await db.query(
        "SELECT COUNT(*) AS n FROM notes WHERE status IN ('queued', 'processing', 'failed')",
      );
      return Number((rows as { n: number }[])[0]?.n ?? 0);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await db.end().catch(() => {});
      await stopChild(child, exited);
      if (suppressed) opts.log(`[product] (${suppressed} more lines of product output not shown)`);
      await ns.cleanup();
    },
  };

  try {
    const client = new ApiClient(url, 2);
    const ready = client.waitFor('/health/ready', opts.readyTimeoutMs ?? 120_000);
    const died = exited.then(([code, signal]) => {
      throw new ProductStartError(`npm start exited (${signal ?? code}) before it was ready`);
    });
    try {
      await Promise.race([ready, died]);
      for (let i = 0; i < opts.consumers; i++) {
        await Promise.race([waitHttp(`http://127.0.0.1:${consumerPort + i}/health`, 60_000), died]);
      }
    } finally {
      died.catch(() => {});
      await client.close();
    }
  } catch (err) {
    opts.log(`[product] last output:\n${recent.join('\n')}`);
    await product.stop();
    throw err;
  }
  return product;
}

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  throw new ProductStartError(`${url} did not answer within ${timeoutMs} ms`);
}

/** SIGTERM npm start (it stops the API and consumers in order), then SIGKILL whatever is left. */
async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timeout = sleep(20_000).then(() => 'timeout');
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

/** A product someone else runs: --url. Its pids are found by the port it listens on. */
export async function attachProduct(url: string): Promise<Product> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const apiPid = await pidListeningOn(port);
  const parent = apiPid ? parentOf(apiPid) : null;
  // Under `npm start` the consumers are the API's siblings: watch the supervisor's whole tree.
  const root = parent && isSupervisor(parent) ? parent : apiPid;
  return {
    url: u.origin,
    owned: false,
    roots: root ? [process.pid, root] : [process.pid],
    consumers: null,
    databaseUrl: null,
    ownsProcess: isProductProcess,
    unfinished: async () => null,
    stop: async () => {},
  };
}
