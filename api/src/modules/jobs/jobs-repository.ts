import { and, count, desc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db/client.ts';
import { jobs } from '../../platform/db/schema.ts';
import type { Job } from '../notes/index.ts';

/** Reads of the jobs table for a user (writes go through modules/jobs/job-enqueue.ts). */
export type JobRow = typeof jobs.$inferSelect;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    note_id: row.noteId,
    kind: row.kind,
    priority: row.priority,
    status: row.status,
    note_version: row.noteVersion,
    webhook_id: row.webhookId ?? null,
    attempts: row.attempts,
    last_error: row.lastError ?? null,
    dead_reason: row.deadReason ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    started_at: iso(row.startedAt),
    finished_at: iso(row.finishedAt),
  };
}

/** A note's job history, newest first (jobs outlive their note; the caller checks the note is theirs). */
export async function listJobsForNote(
  db: DbOrTx,
  userId: string,
  noteId: string,
  page: { limit: number; offset: number },
): Promise<{ rows: JobRow[]; total: number }> {
  const where = and(eq(jobs.noteId, noteId), eq(jobs.userId, userId));
  const [rows, totals] = await Promise.all([
    db
      .select()
      .from(jobs)
      .where(where)
      // UUIDv7 ids are time-ordered: they break ties between jobs made in the same millisecond.
      .orderBy(desc(jobs.createdAt), desc(jobs.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ total: count() }).from(jobs).where(where),
  ]);
  return { rows, total: Number(totals[0]?.total ?? 0) };
}
