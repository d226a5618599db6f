import { count, desc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db/client.ts';
import { jobs } from '../../platform/db/schema.ts';
import { rowUpdate, type Writer, within } from '../../platform/db/sql-writer.ts';

/**
 * SQL behind the DLQ actions: dead jobs as the operator sees them, and the state changes that
 * promoting or discarding a dead message makes. The caller opens the transaction.
 */

export type JobRow = typeof jobs.$inferSelect;

/**
 * Marks a job discarded with the operator's reason, unless it already finished well. Returns
 * false when there is no such job.
 */
export async function discardJob(w: Writer, jobId: string, reason: string, now: Date): Promise<boolean> {
  return within(w, async (tx) => {
    const [job] = await tx.read((db) =>
      db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, jobId)).limit(1).for('update'),
    );
    if (!job) return false;
    if (job.status === 'processed' || job.status === 'skipped') return true;
    const update = rowUpdate(
      jobs,
      { status: 'discarded', deadReason: reason, finishedAt: now, updatedAt: now },
      { id: jobId, status: job.status },
    );
    await tx.moveStatus('jobs', job.status, 'discarded', update);
    tx.jobErrors.changed([jobId]);
    return true;
  });
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
