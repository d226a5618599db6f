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
import amqp, { type ChannelModel } from 'amqplib';
import { uuidv7 } from 'uuidv7';
import type { App } from '../src/app.ts';
import { insertUser } from '../src/modules/auth/users-repository.ts';
import type { Database } from '../src/platform/db/client.ts';
import { type JobStatus, jobs, type NoteResult, type NoteStatus, notes, type Role } from '../src/platform/db/schema.ts';

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
  await insertUser(database.db, {
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
  await database.db.insert(notes).values({
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
  await database.db.insert(jobs).values({
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
    /** Puts a dead job's message in notes.dlq, as a consumer would after the last attempt. */
    async deadLetter(job: { id: string; noteId: string; userId: string; priority?: Priority }, reason = 'boom') {
      const priority = job.priority ?? 'normal';
      const body = encodeJobMessage({
        v: MESSAGE_VERSION,
        job_id: job.id,
        kind: 'note.process',
        note_id: job.noteId,
        note_version: 1,
        user_id: job.userId,
        priority,
        created_at: new Date().toISOString(),
      });
      const options = jobPublishOptions({
        jobId: job.id,
        kind: 'note.process',
        priority,
        attempt: 3,
        headers: { [HEADERS.deadReason]: reason, [HEADERS.deadAt]: new Date().toISOString() },
      });
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
