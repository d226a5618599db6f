import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfirmChannel, Options } from 'amqplib';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { type Config, loadConfig } from './config.ts';

/**
 * Test isolation: every test file gets its own MariaDB database, RabbitMQ vhost and Redis key
 * prefix on the shared local services, and removes them afterwards. Nothing here mocks a
 * service; outages are made with a private Redis or a TCP proxy that can be cut, so a test never
 * stops the shared services other tests are using.
 */
const MYSQL_SERVER = process.env.TEST_MYSQL_SERVER_URL ?? 'mysql://root@127.0.0.1:3306/';
const AMQP_HOST = process.env.TEST_AMQP_HOST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const RABBIT_MGMT = process.env.TEST_RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672';
const RABBIT_AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestNamespace {
  id: string;
  databaseName: string;
  databaseUrl: string;
  vhost: string;
  amqpUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
  /** Environment for loadConfig() / child processes pointing at this namespace. */
  env: Record<string, string>;
  config(overrides?: Record<string, string>): Config;
  /** Removes the database, vhost and keys. Safe to call twice. */
  cleanup(): Promise<void>;
}

async function rabbitManagement(method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${RABBIT_MGMT}/api/${path}`, {
    method,
    headers: { authorization: RABBIT_AUTH, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok && !(method === 'DELETE' && res.status === 404)) {
    throw new Error(`RabbitMQ management ${method} ${path}: ${res.status} ${await res.text()}`);
  }
}

/** Messages in a queue of a vhost, through the management API (for assertions). */
export async function queueInfo(vhost: string, queue: string): Promise<{ messages: number; consumers: number }> {
  const res = await fetch(`${RABBIT_MGMT}/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`, {
    headers: { authorization: RABBIT_AUTH },
  });
  if (!res.ok) throw new Error(`queue ${queue}: ${res.status}`);
  const q = (await res.json()) as { messages?: number; consumers?: number };
  return { messages: q.messages ?? 0, consumers: q.consumers ?? 0 };
}

export async function createTestNamespace(label = 't'): Promise<TestNamespace> {
  const id = `${label.replace(/[^a-z0-9]/gi, '').slice(0, 12)}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const databaseName = `np_${id}`.toLowerCase();
  const vhost = `np_${id}`;
  const conn = await mysql.createConnection(MYSQL_SERVER);
  try {
    await conn.query(`CREATE DATABASE \`${databaseName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
  await rabbitManagement('PUT', `vhosts/${encodeURIComponent(vhost)}`);
  await rabbitManagement('PUT', `permissions/${encodeURIComponent(vhost)}/guest`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  const databaseUrl = `${MYSQL_SERVER.replace(/\/$/, '')}/${databaseName}`;
  const amqpUrl = `${AMQP_HOST}/${encodeURIComponent(vhost)}`;
  const redisKeyPrefix = `np_${id}:`;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: databaseUrl,
    AMQP_URL: amqpUrl,
    REDIS_URL,
    REDIS_KEY_PREFIX: redisKeyPrefix,
    RETRY_DELAYS_MS: '200,400',
    OUTBOX_POLL_MS: '200',
    DB_POOL_SIZE: '8',
  };
  let cleaned = false;
  return {
    id,
    databaseName,
    databaseUrl,
    vhost,
    amqpUrl,
    redisUrl: REDIS_URL,
    redisKeyPrefix,
    env,
    config: (overrides = {}) => loadConfig({ ...env, ...overrides }),
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      if (process.env.KEEP_TEST_NAMESPACE) return;
      const c = await mysql.createConnection(MYSQL_SERVER);
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${databaseName}\``);
      } finally {
        await c.end();
      }
      await rabbitManagement('DELETE', `vhosts/${encodeURIComponent(vhost)}`);
      await deleteRedisKeys(REDIS_URL, redisKeyPrefix);
    },
  };
}

export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGSTOP: the server hangs (connections open, no answers). */
  pause(): void;
  resume(): void;
  /** Stops the server (connections refused) and starts it again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A redis-server of the test's own, so a Redis outage disturbs nobody else. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    for (let i = 0; i < 100; i++) {
      if (await canConnect(port)) return;
      await sleep(50);
    }
    throw new Error('private redis-server did not start');
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGCONT');
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    stop,
    start,
    close: stop,
  };
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface FaultProxy {
  port: number;
  /** Drops every open connection and refuses new ones, like a service that went away. */
  cut(): void;
  restore(): void;
  /** Stops passing bytes either way on the open connections, closing nothing: a peer gone quiet. */
  pause(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a real service. `cut()` makes the service unreachable for whoever
 * connects through the proxy, without touching the service itself.
 */
export async function startFaultProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  const pairs = new Set<[net.Socket, net.Socket]>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    pause() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close: () =>
      new Promise<void>((r) => {
        down = true;
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

type Falsy = false | 0 | '' | null | undefined;

/** Thrown inside a waitFor() check: stop waiting at once (the awaited thing can no longer happen). */
export class GiveUp extends Error {
  override name = 'GiveUp';
}

/**
 * Polls until `fn` returns a truthy value and returns it; fails naming `what` (and the last value
 * or error seen) after `timeoutMs`, or at once when `fn` throws GiveUp.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T> | T,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<Exclude<T, Falsy>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as Exclude<T, Falsy>;
      last = value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await sleep(intervalMs);
  }
}

/** Publishes raw bytes (persistent by default) and waits for the broker's confirm, as any producer could. */
export function publishConfirmed(
  ch: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: Options.Publish = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    ch.publish(exchange, routingKey, content, { persistent: true, ...options }, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

export interface ScriptRun {
  child: ChildProcess;
  /** The exit code with everything the script wrote. */
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/**
 * Runs a TypeScript script as an operator runs it (`node --import tsx SCRIPT ...args`) with the
 * given environment on top of this process's, and collects its output (the CLI tests); `done`
 * resolves once the process exited and its output is read to the end.
 */
export function runScript(
  script: string,
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string> },
): ScriptRun {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c) => (stdout += c));
  child.stderr?.on('data', (c) => (stderr += c));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}
