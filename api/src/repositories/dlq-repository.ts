import { and, count, desc, eq } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../db/client.ts';
import { jobs, notes } from '../db/schema.ts';

/**
 * SQL behind the DLQ actions: dead jobs as the operator sees them, and the state changes that
 * promoting or discarding a dead message makes. The caller opens the transaction.
 */

export type JobRow = typeof jobs.$inferSelect;

/** What a promote changed, so a publish that fails afterwards can put it back. */
export interface RequeuedJob {
  job: Pick<JobRow, 'id' | 'status' | 'attempts' | 'deadReason' | 'finishedAt'>;
  /** The note's previous status when the promote took it from `dead` to `queued`. */
  noteWasDead: boolean;
  noteId: string;
}

/**
 * A dead job goes back to `queued` (attempts 0, no dead reason); a note.process job takes its
 * note from `dead` to `queued` when the note is still at the job's version. Null when the job
 * is unknown or not dead (then nothing changes: its message is republished as it is).
 */
export async function requeueDeadJob(tx: Tx, jobId: string, now: Date): Promise<RequeuedJob | null> {
  const [job] = await tx.select().from(jobs).where(eq(jobs.id, jobId)).limit(1).for('update');
  if (job?.status !== 'dead') return null;
  await tx
    .update(jobs)
    .set({ status: 'queued', attempts: 0, deadReason: null, finishedAt: null, updatedAt: now })
    .where(eq(jobs.id, jobId));
  let noteWasDead = false;
  if (job.kind === 'note.process') {
    const [res] = await tx
      .update(notes)
      .set({ status: 'queued' })
      .where(and(eq(notes.id, job.noteId), eq(notes.status, 'dead'), eq(notes.version, job.noteVersion)));
    noteWasDead = res.affectedRows > 0;
  }
  return {
    job: {
      id: job.id,
      status: job.status,
      attempts: job.attempts,
      deadReason: job.deadReason,
      finishedAt: job.finishedAt,
    },
    noteWasDead,
    noteId: job.noteId,
  };
}

/** Undoes `requeueDeadJob` when the message could not be republished; only if nothing moved on since. */
export async function restoreDeadJob(tx: Tx, previous: RequeuedJob, now: Date): Promise<void> {
  const { job } = previous;
  const [res] = await tx
    .update(jobs)
    .set({
      status: 'dead',
      attempts: job.attempts,
      deadReason: job.deadReason,
      finishedAt: job.finishedAt,
      updatedAt: now,
    })
    .where(and(eq(jobs.id, job.id), eq(jobs.status, 'queued')));
  if (previous.noteWasDead && res.affectedRows > 0) {
    await tx
      .update(notes)
      .set({ status: 'dead' })
      .where(and(eq(notes.id, previous.noteId), eq(notes.status, 'queued')));
  }
}

/**
 * Marks a job discarded with the operator's reason, unless it already finished well. Returns
 * false when there is no such job.
 */
export async function discardJob(db: DbOrTx, jobId: string, reason: string, now: Date): Promise<boolean> {
  const [job] = await db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, jobId)).limit(1);
  if (!job) return false;
  if (job.status === 'processed' || job.status === 'skipped') return true;
  await db
    .update(jobs)
    .set({ status: 'discarded', deadReason: reason, finishedAt: now, updatedAt: now })
    .where(eq(jobs.id, jobId));
  return true;
}

/** Dead jobs, newest death first (the DLQ as the admin console lists it). */
export async function listDeadJobs(
  db: DbOrTx,
  page: { limit: number; offset: number },
): Promise<{ rows: JobRow[]; total: number }> {
  const where = eq(jobs.status, 'dead');
  const [rows, [total]] = await Promise.all([
    db
      .select()
      .from(jobs)
      .where(where)
      .orderBy(desc(jobs.updatedAt), desc(jobs.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(jobs).where(where),
  ]);
  return { rows, total: Number(total?.n ?? 0) };
}
