import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestNamespace, freePort, GiveUp, type TestNamespace, waitFor } from '@notes/contracts/testing';
import mysql from 'mysql2/promise';
import { onExit } from './cleanup.ts';
import { stopAllLoads } from './write-load.ts';

/**
 * The product under test as real processes: the API (`node --import tsx src/main.ts` in api/)
 * and any number of consumers (the same in consumers/), on a namespace of their own (database,
 * Redis key prefix) and, for broker faults, a private RabbitMQ node. Only pids spawned here are
 * ever signalled. Every exit the test did not cause is remembered: "no process crashes".
 */
const API_DIR = fileURLToPath(new URL('../../api/', import.meta.url));
const CONSUMERS_DIR = fileURLToPath(new URL('../../consumers/', import.meta.url));
const OUTPUT_LIMIT = 200_000;
const JWT_SECRET = 'e2e-secret-e2e-secret-e2e-secret-e2e-secret';

export interface ProductProcess {
  name: string;
  child: ChildProcess;
  port: number;
  /** What the process wrote (the last 200 kB). */
  output(): string;
  /** Resolves with the exit once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  /** Sends a signal the test means (SIGKILL, SIGTERM, SIGSTOP, SIGCONT): its exit is not a crash. */
  signal(sig: NodeJS.Signals): void;
  /** kill -9 and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit; returns the exit code and how long it took. */
  terminate(): Promise<{ code: number | null; ms: number }>;
}

export interface Product {
  ns: TestNamespace;
  apiUrl: string;
  apiPort: number;
  /** The environment every process gets (before per-process overrides). */
  env: Record<string, string>;
  pool: mysql.Pool;
  api: ProductProcess | null;
  consumers: ProductProcess[];
  /** Starts the API (again, on the same port) and waits until /health answers. */
  startApi(overrides?: Record<string, string>): Promise<ProductProcess>;
  /**
   * Another API process on a port of its own, sharing the database, Redis and broker (a second
   * instance behind a load balancer); waits until /health answers.
   */
  startApiInstance(overrides?: Record<string, string>): Promise<ProductProcess & { url: string }>;
  /** Starts a consumer; `wait: 'ready'` waits for its /health/ready (broker and API reachable). */
  startConsumer(overrides?: Record<string, string>, wait?: 'ready' | 'up'): Promise<ProductProcess>;
  /** Processes that exited without the test asking them to, with their output. */
  crashes(): { name: string; code: number | null; signal: string | null; output: string }[];
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  count(sql: string, params?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export interface ProductOptions {
  /** Where the processes reach RabbitMQ; defaults to the namespace's vhost on the shared broker. */
  amqpUrl?: string;
  /** Extra environment for every process. */
  env?: Record<string, string>;
}

const spawned = new Set<ChildProcess>();
let exitHook = false;

export async function startProduct(label: string, opts: ProductOptions = {}): Promise<Product> {
  if (!exitHook) {
    exitHook = true;
    onExit(() => {
      for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
  }
  const ns = await createTestNamespace(label);
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const env: Record<string, string> = {
    ...ns.env,
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
    JWT_SECRET,
    API_URL: apiUrl,
    PORT: String(apiPort),
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    RETRY_DELAYS_MS: '200,400',
    SHUTDOWN_TIMEOUT_MS: '5000',
    OUTBOX_POLL_MS: '200',
    ...(opts.amqpUrl ? { AMQP_URL: opts.amqpUrl } : {}),
    ...(opts.env ?? {}),
  };
  const pool = mysql.createPool({ uri: ns.databaseUrl, connectionLimit: 4 });
  const all: ProductProcess[] = [];
  const crashed: ReturnType<Product['crashes']> = [];

  const launch = (name: string, cwd: string, port: number, procEnv: Record<string, string>): ProductProcess => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd,
      env: { ...process.env, ...procEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    spawned.add(child);
    let out = '';
    const append = (d: Buffer) => {
      out += d.toString();
      if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT / 2);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    let meant = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => {
        spawned.delete(child);
        if (!meant) crashed.push({ name, code, signal, output: out.slice(-4000) });
        resolve({ code, signal });
      });
    });
    const proc: ProductProcess = {
      name,
      child,
      port,
      output: () => out,
      exited,
      get running() {
        return child.exitCode === null && child.signalCode === null;
      },
      signal(sig) {
        if (sig === 'SIGKILL' || sig === 'SIGTERM' || sig === 'SIGINT') meant = true;
        if (proc.running) child.kill(sig);
      },
      async kill() {
        proc.signal('SIGKILL');
        await exited;
      },
      async terminate() {
        const started = performance.now();
        proc.signal('SIGTERM');
        const { code } = await exited;
        return { code, ms: performance.now() - started };
      },
    };
    all.push(proc);
    return proc;
  };

  let extraApis = 0;
  const waitApi = (proc: ProductProcess, url: string) =>
    waitFor(
      `the API at ${url}`,
      async () => {
        if (!proc.running) throw new GiveUp(`the API exited: ${proc.output().slice(-2000)}`);
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
        return res.ok;
      },
      60_000,
      200,
    );

  const product: Product = {
    ns,
    apiUrl,
    apiPort,
    env,
    pool,
    api: null,
    consumers: [],
    async startApi(overrides = {}) {
      if (product.api?.running) throw new Error('the API is already running');
      const proc = launch('api', API_DIR, apiPort, { ...env, ...overrides });
      product.api = proc;
      await waitApi(proc, apiUrl);
      return proc;
    },
    async startApiInstance(overrides = {}) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const proc = launch(`api-${++extraApis + 1}`, API_DIR, port, { ...env, PORT: String(port), ...overrides });
      await waitApi(proc, url);
      return Object.assign(proc, { url });
    },
    async startConsumer(overrides = {}, wait = 'ready') {
      const port = await freePort();
      const proc = launch(`consumer-${product.consumers.length + 1}`, CONSUMERS_DIR, port, {
        ...env,
        CONSUMER_PORT: String(port),
        ...overrides,
      });
      product.consumers.push(proc);
      const path = wait === 'ready' ? '/health/ready' : '/health';
      await waitFor(
        `consumer ${proc.name} ${path}`,
        async () => {
          if (!proc.running) throw new GiveUp(`the consumer exited: ${proc.output().slice(-2000)}`);
          const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
          return res.ok;
        },
        60_000,
        200,
      );
      return proc;
    },
    crashes: () => [...crashed],
    async query<T>(sql: string, params: unknown[] = []) {
      const [rows] = await pool.query(sql, params);
      return rows as T[];
    },
    async count(sql, params = []) {
      const [rows] = await pool.query(sql, params);
      const row = (rows as Record<string, unknown>[])[0];
      return Number(row ? Object.values(row)[0] : 0);
    },
    async close() {
      await stopAllLoads();
      for (const p of all) {
        if (!p.running) continue;
        p.signal('SIGCONT');
        p.signal('SIGKILL');
        await Promise.race([p.exited, new Promise((r) => setTimeout(r, 5000))]);
      }
      await pool.end().catch(() => {});
      await ns.cleanup();
    },
  };
  return product;
}

/** Waits for a process to exit, at most `ms`; true when it did. */
export async function exitsWithin(proc: ProductProcess, ms: number): Promise<boolean> {
  if (!proc.running) return true;
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    proc.exited.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return done;
}

/**
 * When a process logged `msg` (epoch ms of each JSON log line whose `msg` it is), from what its
 * output still holds. Lines that are not JSON logs are skipped.
 */
export function loggedAt(proc: ProductProcess, msg: string): number[] {
  const times: number[] = [];
  for (const line of proc.output().split('\n')) {
    if (!line.includes(msg)) continue;
    try {
      const entry = JSON.parse(line) as { msg?: unknown; time?: unknown };
      const at = typeof entry.time === 'string' ? Date.parse(entry.time) : Number(entry.time);
      if (entry.msg === msg && Number.isFinite(at)) times.push(at);
    } catch {
      // A line of something else that happens to contain the words.
    }
  }
  return times;
}
