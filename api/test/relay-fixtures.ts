import { and, eq, isNull } from 'drizzle-orm';
import { jobInserts } from '../src/modules/jobs/job-enqueue.ts';
import { noteInsert } from '../src/modules/notes/notes-repository.ts';
import { outbox, users } from '../src/platform/db/schema.ts';
import { insertRows } from './db-fixtures.ts';
import type { TestApp } from './helpers.ts';

/** Writes a user, a note and its job + outbox row the way the notes service does. */
export async function writeNotes(t: TestApp, count: number) {
  const now = new Date();
  const userId = crypto.randomUUID();
  await insertRows(t.deps.database, users, {
    id: userId,
    email: `${userId}@example.test`,
    name: 'relay',
    passwordHash: 'x',
    createdAt: now,
    updatedAt: now,
  });
  for (let i = 0; i < count; i++) {
    const noteId = crypto.randomUUID();
    const note = noteInsert({
      id: noteId,
      userId,
      title: `n${i}`,
      body: 'b',
      status: 'queued',
      createdAt: now,
      updatedAt: now,
    });
    const job = jobInserts({ kind: 'note.process', noteId, noteVersion: 1, userId, priority: 'normal' }, now);
    await t.deps.database.writer.insert([note, ...job.inserts]);
    t.deps.outbox.nudge();
  }
}

/** Unsent job rows (live events have a relay of their own: live-event-relay.ts). */
export const unsent = async (t: TestApp) =>
  (
    await t.deps.database.db
      .select({ id: outbox.id })
      .from(outbox)
      .where(and(isNull(outbox.sentAt), eq(outbox.kind, 'job')))
  ).length;
