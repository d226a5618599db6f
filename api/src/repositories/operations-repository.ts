import { JOB_KINDS, type JobKind } from '@notes/contracts';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.ts';
import { jobAttempts, jobControls, jobs } from '../db/schema.ts';

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
export async function markRetried(db: DbOrTx, id: string, now: Date): Promise<void> {
  await db
    .update(jobs)
    .set({ status: 'queued', updatedAt: now })
    .where(and(eq(jobs.id, id), eq(jobs.status, 'failed')));
}

/** Every kind's control row; a kind never paused has none (it runs). */
export async function listControls(db: DbOrTx): Promise<Map<JobKind, ControlRowDb>> {
  const rows = await db.select().from(jobControls);
  const known = new Set<string>(JOB_KINDS);
  return new Map(rows.filter((r) => known.has(r.kind)).map((r) => [r.kind as JobKind, r]));
}

export async function setControl(db: DbOrTx, row: ControlRowDb): Promise<void> {
  await db
    .insert(jobControls)
    .values(row)
    .onDuplicateKeyUpdate({
      set: {
        paused: sql`VALUES(${jobControls.paused})`,
        changedAt: sql`VALUES(${jobControls.changedAt})`,
        changedBy: sql`VALUES(${jobControls.changedBy})`,
      },
    });
}
