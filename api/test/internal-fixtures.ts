import { type JobKind, type Priority, signServiceToken } from '@notes/contracts';
import { waitFor } from '@notes/contracts/testing';
import { eq } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { eventStreamKey } from '../src/modules/events/events.ts';
import { jobInserts } from '../src/modules/jobs/job-enqueue.ts';
import { noteInsert, updateNote } from '../src/modules/notes/notes-repository.ts';
import { parseJsonColumn } from '../src/platform/db/client.ts';
import { jobs, liveEvents as liveEventRows, notes, outbox, users, webhooks } from '../src/platform/db/schema.ts';
import { insertRows } from './db-fixtures.ts';
import type { TestApp } from './helpers.ts';

/**
 * Rows for the internal-route tests, written straight into the test's own database: the notes
 * routes are not what these tests are about, and a callback only ever sees rows.
 */
export async function createUser(t: TestApp, role: 'user' | 'admin' = 'user'): Promise<string> {
  const id = uuidv7();
  const now = new Date();
  await insertRows(t.deps.database, users, {
    id,
    email: `${id}@example.test`,
    name: 'Test',
    passwordHash: 'not-a-real-hash',
    role,
    createdAt: now,
    updatedAt: now,
  });
  return id;
}

export async function createNote(
  t: TestApp,
  userId: string,
  opts: { body?: string; priority?: Priority } = {},
): Promise<{ noteId: string; jobId: string }> {
  const noteId = uuidv7();
  const now = new Date();
  const priority = opts.priority ?? 'normal';
  const note = noteInsert({
    id: noteId,
    userId,
    title: 'A note',
    body: opts.body ?? 'Hello #world see https://example.com/x.',
    priority,
    status: 'queued',
    createdAt: now,
    updatedAt: now,
  });
  const job = jobInserts({ kind: 'note.process', noteId, noteVersion: 1, userId, priority }, now);
  await t.deps.database.writer.insert([note, ...job.inserts]);
  return { noteId, jobId: job.jobId };
}

/** A user's edit: version + 1 and a new note.process job, as the notes service does it. */
export async function editNote(t: TestApp, noteId: string): Promise<{ version: number; jobId: string }> {
  return t.deps.database.writer.transaction(async (tx) => {
    const [note] = await tx.query<{
      userId: string;
      version: number;
      body: string;
      priority: Priority;
      status: string;
    }>({
      sql: 'SELECT user_id AS userId, version, body, priority, status FROM notes WHERE id = ? FOR UPDATE',
      values: [noteId],
    });
    if (!note) throw new Error('no note');
    const now = new Date();
    const version = note.version + 1;
    tx.defer(
      updateNote(note.userId, noteId, { version, body: `${note.body} edited`, status: 'queued', updatedAt: now }),
    );
    tx.counts.move('notes', note.status, 'queued');
    const job = jobInserts(
      { kind: 'note.process', noteId, noteVersion: version, userId: note.userId, priority: note.priority },
      now,
    );
    tx.insert(...job.inserts);
    return { version, jobId: job.jobId };
  });
}

export async function createWebhook(t: TestApp, userId: string, events: string[]): Promise<string> {
  const id = uuidv7();
  await insertRows(t.deps.database, webhooks, {
    id,
    userId,
    url: 'https://hooks.example.test/in',
    events,
    secret: `whsec_${Buffer.from(id).toString('base64')}`,
    createdAt: new Date(),
  });
  return id;
}

export async function getNote(t: TestApp, noteId: string) {
  const [row] = await t.deps.database.db.select().from(notes).where(eq(notes.id, noteId));
  return row ? { ...row, result: parseJsonColumn(row.result) } : undefined;
}

export async function getJob(t: TestApp, jobId: string) {
  const [row] = await t.deps.database.db.select().from(jobs).where(eq(jobs.id, jobId));
  return row;
}

export async function jobsOf(t: TestApp, noteId: string, kind?: JobKind) {
  const rows = await t.deps.database.db.select().from(jobs).where(eq(jobs.noteId, noteId)).orderBy(jobs.id);
  return kind ? rows.filter((r) => r.kind === kind) : rows;
}

export async function outboxRowsFor(t: TestApp, jobId: string) {
  return t.deps.database.db.select().from(outbox).where(eq(outbox.jobId, jobId));
}

/**
 * The user's live events, oldest first, as {type, data}, once the live-event relay has published
 * every event the callbacks committed (events go through the outbox, docs/isolation.md).
 */
export async function liveEvents(t: TestApp, userId: string): Promise<{ type: string; data: { id: string } }[]> {
  await waitFor('the committed live events to be published', async () => {
    const pending = await t.deps.database.db.select({ id: liveEventRows.id }).from(liveEventRows).limit(1);
    return pending.length === 0;
  });
  const entries = await t.deps.redis.xrange(eventStreamKey(userId), '-', '+');
  return entries.map(([, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
    return { type: f.type as string, data: JSON.parse(f.data as string) };
  });
}

/** POSTs to an internal route as the consumers do (service token unless told otherwise). */
export async function callInternal(
  t: TestApp,
  path: string,
  body: unknown,
  token = signServiceToken(t.deps.config.service.privateKey),
) {
  const res = await t.app.inject({
    method: 'POST',
    url: `/internal/jobs/${path}`,
    headers: { authorization: `Bearer ${token}` },
    payload: body as Record<string, unknown>,
  });
  return { status: res.statusCode, body: res.json() };
}

export const RESULT = {
  word_count: 4,
  char_count: 36,
  reading_time_seconds: 2,
  tags: ['world'],
  links: ['https://example.com/x'],
  checksum: 'a'.repeat(64),
};
