import { JOB_KINDS, type JobKind } from '@notes/contracts';
import { and, asc, count, desc, eq, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db/client.ts';
import { type JobStatus, jobAttempts, jobControls, jobs } from '../../platform/db/schema.ts';
import { rowUpdate, rowUpsert, type Writer, within } from '../../platform/db/sql-writer.ts';

/** SQL behind job inspection, retry-now and pause/resume (docs/jobs.md). */

export type JobRow = typeof jobs.$inferSelect;
export type AttemptRow = typeof jobAttempts.$inferSelect;
export type ControlRowDb = typeof jobControls.$inferSelect;

export async function findJob(db: DbOrTx, id: string): Promise<JobRow | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id)).limit(1);
  return row;
}

/** A job's attempts, oldest first (at most a few hundred: a job has RETRY_DELAYS_MS + 1 per run). */
export async function attemptsOfJob(db: DbOrTx, jobId: string): Promise<AttemptRow[]> {
  return db.select().from(jobAttempts).where(eq(jobAttempts.jobId, jobId)).orderBy(asc(jobAttempts.id)).limit(1000);
}

/** A retried job is queued again, unless a consumer has taken it meanwhile. */
export async function markRetried(w: Writer, id: string, now: Date): Promise<void> {
  const update = rowUpdate(jobs, { status: 'queued', updatedAt: now }, { id, status: 'failed' });
  await within(w, async (tx) => {
    await tx.moveStatus('jobs', 'failed', 'queued', update);
    tx.jobErrors.changed([id]);
  });
}

/** Every kind's control row; a kind never paused has none (it runs). */
export async function listControls(db: DbOrTx): Promise<Map<JobKind, ControlRowDb>> {
  const rows = await db.select().from(jobControls);
  const known = new Set<string>(JOB_KINDS);
  return new Map(rows.filter((r) => known.has(r.kind)).map((r) => [r.kind as JobKind, r]));
}

export async function setControl(w: Writer, row: ControlRowDb): Promise<void> {
  const upsert = rowUpsert(jobControls, [row], ['paused', 'changedAt', 'changedBy']);
  await within(w, (tx) => tx.execute(upsert));
}

/** The newest jobs matching a filter (the operator CLI's `list`). */
export async function recentJobs(
  db: DbOrTx,
  f: { status?: JobStatus; kind?: JobKind; userId?: string; noteId?: string; limit: number },
): Promise<JobRow[]> {
  const parts: SQL[] = [];
  if (f.status) parts.push(eq(jobs.status, f.status));
  if (f.kind) parts.push(eq(jobs.kind, f.kind));
  if (f.userId) parts.push(eq(jobs.userId, f.userId));
  if (f.noteId) parts.push(eq(jobs.noteId, f.noteId));
  return db
    .select()
    .from(jobs)
    .where(and(...parts))
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(f.limit);
}

export async function jobCountsByStatus(db: DbOrTx): Promise<Record<string, number>> {
  const rows = await db.select({ status: jobs.status, n: count() }).from(jobs).groupBy(jobs.status);
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}
