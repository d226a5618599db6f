import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { canConnect, freePort } from '@notes/contracts/testing';
import amqp from 'amqplib';
import { queueDepths } from './broker.ts';
import { onExit } from './cleanup.ts';

/**
 * A RabbitMQ node of the test's own (its own ports, Mnesia directory and logs), so a test can
 * stop, crash and restart the broker without touching the shared one on 5672. Same Mnesia
 * directory across restarts: durable queues and persistent messages survive, as in production.
 *
 * The server drops to the `rabbitmq` user, so the directory must belong to it; the node uses the
 * machine's epmd and the rabbitmq user's Erlang cookie. No management plugin: queue depths come
 * from a passive declare (`checkQueue`).
 */
export interface RabbitNode {
  /** The Erlang node name (`<name>@localhost`), for rabbitmqctl -n and join_cluster. */
  nodeName: string;
  port: number;
  /** The node's log directory (gone after close()). */
  logDir: string;
  /** amqp://guest:guest@127.0.0.1:<port> (the default vhost). */
  url: string;
  /** Starts the node (again) and waits until it accepts AMQP connections. */
  start(): Promise<void>;
  /** Graceful stop (SIGTERM to the node), waits for the process to exit. */
  stop(): Promise<void>;
  /** kill -9 of the node, waits for the process to exit. */
  crash(): Promise<void>;
  /** Ready messages and consumers of each queue (missing queues are left out). */
  depths(queues: readonly string[]): Promise<Record<string, { messages: number; consumers: number }>>;
  /** Deletes the given queues (a fresh start for the next test on the same node). */
  deleteQueues(queues: readonly string[]): Promise<void>;
  /**
   * Runs `rabbitmqctl -n <this node> ...args`; rejects with its output when it fails. Never
   * synchronous: rabbitmqctl boots an Erlang VM (seconds on a loaded machine), and a test process
   * blocked meanwhile cannot answer its own webhook receiver or finish its load's requests.
   */
  ctl(...args: string[]): Promise<string>;
  /** Stops the node for good and removes its directory. Idempotent. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 90_000;
const execFileAsync = promisify(execFile);
const live = new Set<number>();
const dirs = new Set<string>();
let exitHookInstalled = false;

/** A test that dies without its after() must not leave a broker behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  onExit(() => {
    for (const pid of live) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

export interface RabbitNodeOptions {
  /** Lines for the node's own rabbitmq.conf (the machine's pins port 5672, so never that one). */
  config?: string[];
}

export async function startRabbitNode(label = 'e2e', opts: RabbitNodeOptions = {}): Promise<RabbitNode> {
  installExitHook();
  const dir = mkdtempSync(path.join(tmpdir(), `np-rabbit-${label}-`));
  dirs.add(dir);
  writeFileSync(path.join(dir, 'plugins'), '[].\n');
  writeFileSync(path.join(dir, 'rabbitmq.conf'), `${(opts.config ?? []).join('\n')}\n`);
  const chown = spawnSync('chown', ['-R', 'rabbitmq:rabbitmq', dir]);
  if (chown.status !== 0) throw new Error(`chown ${dir}: ${chown.stderr}`);
  const port = await freePort();
  const distPort = await freePort();
  const nodeName = `np${label.replace(/[^a-z0-9]/gi, '').slice(0, 8)}${randomBytes(3).toString('hex')}@localhost`;
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'plugins'),
    RABBITMQ_PID_FILE: path.join(dir, 'pid'),
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  let pid: number | null = null;
  let closed = false;

  const readPid = (): number | null => {
    try {
      const n = Number(readFileSync(path.join(dir, 'pid'), 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : null;
    } catch {
      return null;
    }
  };

  const start = async () => {
    if (pid !== null && alive(pid)) return;
    const child = spawn('rabbitmq-server', ['-detached'], { env, stdio: 'ignore' });
    child.on('error', () => {});
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      pid ??= readPid();
      if (pid !== null) live.add(pid);
      // The port opens before the broker is fully booted: a real AMQP handshake says it is up.
      if (await canConnect(port)) {
        try {
          const conn = await amqp.connect(url, { timeout: 2000 });
          await conn.close();
          pid ??= readPid();
          if (pid !== null) live.add(pid);
          return;
        } catch {}
      }
      await sleep(250);
    }
    throw new Error(`private RabbitMQ ${nodeName} did not start within ${START_TIMEOUT_MS} ms (logs in ${dir}/log)`);
  };

  const halt = async (signal: 'SIGTERM' | 'SIGKILL') => {
    const p = pid ?? readPid();
    pid = null;
    if (p === null) return;
    try {
      process.kill(p, signal);
    } catch {}
    if (!(await waitExit(p, 30_000))) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
      await waitExit(p, 10_000);
    }
    live.delete(p);
    // A crashed node leaves its pid file: the next start must not mistake that pid for its own.
    rmSync(path.join(dir, 'pid'), { force: true });
    // Wait until the port is really free, so the next start binds it.
    for (let i = 0; i < 100 && (await canConnect(port)); i++) await sleep(100);
  };

  const withChannel = async <T>(fn: (ch: amqp.Channel) => Promise<T>): Promise<T> => {
    const conn = await amqp.connect(url, { timeout: 5000 });
    conn.on('error', () => {});
    try {
      return await fn(await conn.createChannel());
    } finally {
      await conn.close().catch(() => {});
    }
  };

  try {
    await start();
  } catch (err) {
    // A node that never came up is still stopped and removed: the caller gets no handle to close.
    await halt('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
    throw err;
  }
  return {
    nodeName,
    port,
    logDir: path.join(dir, 'log'),
    url,
    start,
    stop: () => halt('SIGTERM'),
    crash: () => halt('SIGKILL'),
    depths: (queues) => queueDepths(url, queues),
    async ctl(...args) {
      try {
        const { stdout } = await execFileAsync('rabbitmqctl', ['-n', nodeName, ...args], {
          encoding: 'utf8',
          timeout: 120_000,
        });
        return stdout;
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`rabbitmqctl ${args.join(' ')}: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
      }
    },
    async deleteQueues(queues) {
      await withChannel(async (ch) => {
        for (const q of queues) await ch.deleteQueue(q);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await halt('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}
