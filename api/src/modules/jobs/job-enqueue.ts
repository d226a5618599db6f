import {
  currentTraceparent,
  encodeJobMessage,
  type JobKind,
  type JobMessage,
  MESSAGE_VERSION,
  type Priority,
} from '@notes/contracts';
import { uuidv7 } from 'uuidv7';
import type { Tx } from '../../platform/db/client.ts';
import { jobs, outbox } from '../../platform/db/schema.ts';
import { type RowInsert, rowInsert } from '../../platform/db/sql-writer.ts';

export interface JobToEnqueue {
  kind: JobKind;
  noteId: string;
  noteVersion: number;
  userId: string;
  priority: Priority;
  webhookId?: string;
  /** W3C traceparent to continue; defaults to the active span's, so the trace crosses the relay. */
  traceparent?: string | null;
}

/** Whoever publishes the outbox; told after a commit so it publishes at once instead of at its next poll. */
export interface OutboxNotifier {
  nudge(): void;
}

/** The job row and its outbox row (the message, serialised once), made once for both ways of writing them. */
function jobRows(job: JobToEnqueue, now: Date) {
  const jobId = uuidv7();
  const message: JobMessage = {
    v: MESSAGE_VERSION,
    job_id: jobId,
    kind: job.kind,
    note_id: job.noteId,
    note_version: job.noteVersion,
    user_id: job.userId,
    priority: job.priority,
    ...(job.webhookId ? { webhook_id: job.webhookId } : {}),
    created_at: now.toISOString(),
  };
  const jobRow: typeof jobs.$inferInsert = {
    id: jobId,
    noteId: job.noteId,
    userId: job.userId,
    kind: job.kind,
    priority: job.priority,
    status: 'queued',
    noteVersion: job.noteVersion,
    webhookId: job.webhookId ?? null,
    createdAt: now,
    updatedAt: now,
  };
  const outboxRow: typeof outbox.$inferInsert = {
    jobId,
    payload: encodeJobMessage(message).toString('utf8'),
    priority: job.priority,
    traceparent: job.traceparent ?? currentTraceparent(),
    createdAt: now,
    // Explicit, so a write's job and event rows share a column list and one INSERT (sql-writer.ts).
    kind: 'job',
  };
  return { jobId, jobRow, outboxRow };
}

/**
 * Writes a job and its outbox row in the caller's transaction: the message exists exactly when
 * the write that caused it does (the outbox shape). Call `notifier.nudge()` after the commit.
 */
export async function enqueueJob(tx: Tx, job: JobToEnqueue, now = new Date()): Promise<{ jobId: string }> {
  const { jobId, jobRow, outboxRow } = jobRows(job, now);
  await tx.insert(jobs).values(jobRow);
  await tx.insert(outbox).values(outboxRow);
  return { jobId };
}

/** The same rows as inserts for the write path (platform/db/sql-writer.ts, platform/db/group-commit.ts). */
export function jobInserts(job: JobToEnqueue, now: Date): { jobId: string; inserts: RowInsert[] } {
  const { jobId, jobRow, outboxRow } = jobRows(job, now);
  return { jobId, inserts: [rowInsert(jobs, jobRow), rowInsert(outbox, outboxRow)] };
}
