import { randomBytes } from 'node:crypto';
import {
  assertTopology,
  type Config,
  EXCHANGES,
  encodeJobMessage,
  HEADERS,
  type JobKind,
  jobPublishOptions,
  MESSAGE_VERSION,
  type Priority,
  ROUTING,
} from '@notes/contracts';
import { createTestNamespace } from '@notes/contracts/testing';
import amqp, { type ChannelModel, type Options } from 'amqplib';
import { uuidv7 } from 'uuidv7';
import type { App } from '../src/app.ts';
import { insertUser } from '../src/modules/auth/users-repository.ts';
import { createDatabase, type Database, migrateDatabase } from '../src/platform/db/client.ts';
import { type JobStatus, jobs, type NoteResult, type NoteStatus, notes, type Role } from '../src/platform/db/schema.ts';
import { insertRows } from './db-fixtures.ts';

/**
 * Seeding for the admin tests (API and browser): rows written straight into the namespace's
 * database and messages straight into its vhost, so the admin API is tested on states that
 * would otherwise need consumers and failures to reach.
 */

export interface SeededUser {
  id: string;
  email: string;
  token: string;
}

/** A user row (any role) and a token for it. `passwordHash` only matters for logging in. */
export async function seedUser(
  app: App,
  database: Database,
  opts: { role?: Role; email?: string; name?: string; passwordHash?: string } = {},
): Promise<SeededUser> {
  const id = uuidv7();
  const email = opts.email ?? `${opts.role ?? 'user'}-${randomBytes(4).toString('hex')}@example.test`;
  await insertUser(database.writer, {
    id,
    email,
    name: opts.name ?? email.split('@')[0] ?? 'someone',
    passwordHash: opts.passwordHash ?? 'not-a-real-hash',
    role: opts.role ?? 'user',
    now: new Date(),
  });
  return { id, email, token: app.signToken({ id, role: opts.role ?? 'user' }) };
}

export async function seedNote(
  database: Database,
  userId: string,
  fields: {
    title?: string;
    body?: string;
    status?: NoteStatus;
    priority?: Priority;
    result?: NoteResult | null;
    createdAt?: Date;
  } = {},
): Promise<string> {
  const id = uuidv7();
  const now = fields.createdAt ?? new Date();
  await insertRows(database, notes, {
    id,
    userId,
    title: fields.title ?? `note ${id.slice(-6)}`,
    body: fields.body ?? 'a body',
    priority: fields.priority ?? 'normal',
    status: fields.status ?? 'queued',
    result: fields.result ?? null,
    createdAt: now,
    updatedAt: now,
    processedAt: fields.status === 'processed' ? now : null,
  });
  return id;
}

export async function seedJob(
  database: Database,
  note: { id: string; userId: string },
  fields: {
    kind?: JobKind;
    status?: JobStatus;
    priority?: Priority;
    attempts?: number;
    lastError?: string | null;
    deadReason?: string | null;
    createdAt?: Date;
    finishedAt?: Date | null;
  } = {},
): Promise<string> {
  const id = uuidv7();
  const created = fields.createdAt ?? new Date();
  await insertRows(database, jobs, {
    id,
    noteId: note.id,
    userId: note.userId,
    kind: fields.kind ?? 'note.process',
    priority: fields.priority ?? 'normal',
    status: fields.status ?? 'queued',
    noteVersion: 1,
    attempts: fields.attempts ?? 0,
    lastError: fields.lastError ?? null,
    deadReason: fields.deadReason ?? null,
    createdAt: created,
    updatedAt: fields.finishedAt ?? created,
    finishedAt: fields.finishedAt ?? null,
  });
  return id;
}

/** A connection of the test's own to its vhost: to seed notes.dlq and count queues. */
export async function openBroker(config: Config) {
  const connection: ChannelModel = await amqp.connect(config.amqp.url);
  connection.on('error', () => {});
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => {});
  await assertTopology(channel, config.retryDelaysMs);
  return {
    connection,
    channel,
    /** Puts a dead job's message in notes.dlq, as a consumer would after the last attempt. */
    async deadLetter(job: DeadJob, reason = 'boom') {
      const { body, options } = deadJobMessage(job, { reason });
      channel.publish(EXCHANGES.dead, ROUTING.dead, body, options);
      await channel.waitForConfirms();
    },
    /** Ready messages in a queue, straight from the broker (no management-API lag). */
    async depth(queue: string) {
      return (await channel.checkQueue(queue)).messageCount;
    },
    async close() {
      await channel.close().catch(() => {});
      await connection.close().catch(() => {});
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export interface DeadJob {
  id: string;
  noteId: string;
  userId: string;
  priority?: Priority;
}

/**
 * A dead note.process job's message as a consumer parks it in notes.dlq after its last attempt:
 * the body and the publish options (our dead headers, a letter id of its own).
 */
export function deadJobMessage(
  job: DeadJob,
  opts: { reason?: string; attempt?: number; at?: Date; headers?: Record<string, unknown> } = {},
): { body: Buffer; options: Options.Publish } {
  const priority = job.priority ?? 'normal';
  const at = opts.at ?? new Date();
  const body = encodeJobMessage({
    v: MESSAGE_VERSION,
    job_id: job.id,
    kind: 'note.process',
    note_id: job.noteId,
    note_version: 1,
    user_id: job.userId,
    priority,
    created_at: at.toISOString(),
  });
  const options = jobPublishOptions({
    jobId: job.id,
    kind: 'note.process',
    priority,
    attempt: opts.attempt ?? 3,
    headers: {
      [HEADERS.deadReason]: opts.reason ?? 'max_attempts: boom',
      [HEADERS.deadAt]: at.toISOString(),
      [HEADERS.letterId]: uuidv7(),
      ...opts.headers,
    },
  });
  return { body, options };
}

/**
 * `n` note.process jobs with their notes, written in bulk: dead after their last attempt (the
 * default), or failed and waiting out a backoff. Their messages are the caller's to put where
 * the test needs them (deadJobMessage).
 */
export async function seedDeadJobs(
  database: Database,
  n: number,
  opts: { userId?: string; reason?: string; status?: 'dead' | 'failed'; attempts?: number; now?: Date } = {},
): Promise<DeadJob[]> {
  const now = opts.now ?? new Date();
  const status = opts.status ?? 'dead';
  const userId = opts.userId ?? 'u1';
  const seeded = Array.from({ length: n }, () => ({ id: uuidv7(), noteId: uuidv7(), userId }));
  for (let i = 0; i < n; i += 500) {
    const page = seeded.slice(i, i + 500);
    await insertRows(
      database,
      notes,
      ...page.map((j, k) => ({
        id: j.noteId,
        userId,
        title: `t${i + k}`,
        body: 'b',
        status,
        createdAt: now,
        updatedAt: now,
      })),
    );
    await insertRows(
      database,
      jobs,
      ...page.map((j) => ({
        id: j.id,
        noteId: j.noteId,
        userId,
        kind: 'note.process' as const,
        priority: 'normal' as const,
        status,
        noteVersion: 1,
        attempts: opts.attempts ?? (status === 'dead' ? 3 : 1),
        deadReason: status === 'dead' ? (opts.reason ?? 'max_attempts: boom') : null,
        createdAt: now,
        updatedAt: now,
      })),
    );
  }
  return seeded;
}

/**
 * A namespace of a test's own, migrated, with a confirm channel on its vhost where the topology
 * is declared: what the operator CLIs' tests run their scripts against.
 */
export async function openOpsNamespace(label: string) {
  const ns = await createTestNamespace(label);
  const config = ns.config();
  await migrateDatabase(config);
  const database = createDatabase(config);
  const conn = await amqp.connect(ns.amqpUrl);
  conn.on('error', () => {});
  const ch = await conn.createConfirmChannel();
  ch.on('error', () => {});
  await assertTopology(ch, config.retryDelaysMs);
  return {
    ns,
    config,
    database,
    conn,
    ch,
    async close() {
      await conn.close().catch(() => {});
      await database.close();
      await ns.cleanup();
    },
  };
}
