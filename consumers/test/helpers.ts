import { type ChildProcess, spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  type Config,
  decodeJobMessage,
  encodeJobMessage,
  type JobMessage,
  jobPublishOptions,
  MESSAGE_VERSION,
} from '@notes/contracts';
import { publishConfirmed, queueInfo, waitFor } from '@notes/contracts/testing';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { startTestApp, type TestApp } from '../../api/test/helpers.ts';
import { call, createNote, newUser, type TestUser } from '../../api/test/notes-fixtures.ts';
import { ConsumerProcess, type ConsumerProcessOptions } from '../src/consumer-process.ts';
import { createWebhookDeliverHandler } from '../src/handlers/webhook-deliver.ts';

export { call, createNote, newUser, publishConfirmed, type TestUser, waitFor };

/** The consumers' tests run the real API (listening on a port) and real consumers against it. */
export interface Pipeline {
  t: TestApp;
  apiUrl: string;
  /** Environment for a consumer (in-process via `config`, or a child process). */
  env: Record<string, string>;
  config(overrides?: Record<string, string>): Config;
  /** An in-process consumer; stopped by close(). */
  startConsumer(overrides?: Record<string, string>, opts?: ConsumerProcessOptions): Promise<ConsumerProcess>;
  /** A consumer as its own process (`node --import tsx src/main.ts`); killed by close(). */
  spawnConsumer(overrides?: Record<string, string>): ChildProcess & { output: () => string };
  /** A confirm channel of the test's own on the namespace's vhost. */
  channel(): Promise<ConfirmChannel>;
  close(): Promise<void>;
}

const CONSUMER_MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const CONSUMERS_DIR = fileURLToPath(new URL('..', import.meta.url));

export async function startPipeline(label: string, env: Record<string, string> = {}): Promise<Pipeline> {
  const t = await startTestApp(label, env);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.server.address() as AddressInfo;
  const apiUrl = `http://127.0.0.1:${port}`;
  const consumerEnv = { ...t.ns.env, ...env, API_URL: apiUrl, CONSUMER_PORT: '0', SHUTDOWN_TIMEOUT_MS: '4000' };
  const consumers: ConsumerProcess[] = [];
  const children: ChildProcess[] = [];
  let conn: ChannelModel | null = null;
  return {
    t,
    apiUrl,
    env: consumerEnv,
    config: (overrides = {}) => t.ns.config({ ...consumerEnv, ...overrides }),
    async startConsumer(overrides = {}, opts = {}) {
      const c = new ConsumerProcess(t.ns.config({ ...consumerEnv, ...overrides }), {
        consumer: { requeuePauseMs: 200, reopenDelayMs: 100 },
        ...opts,
      });
      consumers.push(c);
      await c.start();
      return c;
    },
    spawnConsumer(overrides = {}) {
      let output = '';
      const child = spawn(process.execPath, ['--import', 'tsx', CONSUMER_MAIN], {
        cwd: CONSUMERS_DIR,
        env: { ...process.env, ...consumerEnv, LOG_LEVEL: 'info', ...overrides },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (d) => {
        output += d;
      });
      child.stderr?.on('data', (d) => {
        output += d;
      });
      children.push(child);
      return Object.assign(child, { output: () => output });
    },
    async channel() {
      if (!conn) {
        conn = await amqp.connect(t.ns.amqpUrl);
        conn.on('error', () => {});
      }
      const ch = await conn.createConfirmChannel();
      ch.on('error', () => {});
      return ch;
    },
    async close() {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.all(consumers.map((c) => c.stop()));
      await conn?.close().catch(() => {});
      await t.close();
    },
  };
}

export async function noteOf(p: Pipeline, user: TestUser, id: string) {
  const res = await call(p.t, user, 'GET', `/api/notes/${id}`);
  if (res.statusCode !== 200) throw new Error(`GET note ${res.statusCode}`);
  return res.json() as { id: string; status: string; version: number; result: unknown; attempts: number };
}

/** Waits until a note reaches `status` and returns it as its owner reads it. */
export function untilNote(p: Pipeline, user: TestUser, id: string, status: string, timeoutMs?: number) {
  return waitFor(
    status,
    async () => {
      const n = await noteOf(p, user, id);
      return n.status === status && n;
    },
    timeoutMs,
  );
}

/** A webhook.deliver handler that answers every delivery with `status` at once (no network). */
export const answeringWebhooks = (status = 200) => createWebhookDeliverHandler(async () => ({ status, durationMs: 0 }));

export async function jobRows(p: Pipeline, noteId: string) {
  const [rows] = await p.t.deps.database.pool.query(
    'SELECT id, kind, status, attempts, dead_reason, last_error, note_version FROM jobs WHERE note_id = ? ORDER BY id',
    [noteId],
  );
  return rows as {
    id: string;
    kind: string;
    status: string;
    attempts: number;
    dead_reason: string | null;
    last_error: string | null;
    note_version: number;
  }[];
}

export async function depth(p: Pipeline, queue: string): Promise<number> {
  return (await queueInfo(p.t.ns.vhost, queue)).messages;
}

/** Publishes a job message exactly as the outbox relay does. */
/**
 * The message the relay published for a job, rebuilt from its row as the API writes it (the
 * outbox row is deleted once published), to publish again as a relay that crashed before its
 * commit would.
 */
export async function publishedMessage(p: Pipeline, jobId: string): Promise<JobMessage> {
  const [rows] = await p.t.deps.database.pool.query(
    'SELECT id, kind, note_id, note_version, user_id, priority, webhook_id, created_at FROM jobs WHERE id = ?',
    [jobId],
  );
  const [job] = rows as {
    id: string;
    kind: JobMessage['kind'];
    note_id: string;
    note_version: number;
    user_id: string;
    priority: JobMessage['priority'];
    webhook_id: string | null;
    created_at: Date;
  }[];
  if (!job) throw new Error(`no job ${jobId}`);
  const message = {
    v: MESSAGE_VERSION,
    job_id: job.id,
    kind: job.kind,
    note_id: job.note_id,
    note_version: job.note_version,
    user_id: job.user_id,
    priority: job.priority,
    ...(job.webhook_id ? { webhook_id: job.webhook_id } : {}),
    created_at: job.created_at.toISOString(),
  };
  const decoded = decodeJobMessage(encodeJobMessage(message as JobMessage));
  if (!decoded.ok) throw new Error(`job ${jobId} makes no valid message: ${decoded.reason}`);
  return decoded.message;
}

export async function publishJob(ch: ConfirmChannel, message: JobMessage, attempt = 1): Promise<void> {
  const options = jobPublishOptions({ jobId: message.job_id, kind: message.kind, priority: message.priority, attempt });
  await publishConfirmed(ch, 'notes.jobs', 'job', encodeJobMessage(message), options);
}
