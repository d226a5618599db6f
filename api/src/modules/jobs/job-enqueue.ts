import {
  currentTraceparent,
  encodeJobMessage,
  type JobKind,
  type JobMessage,
  MESSAGE_VERSION,
  type Priority,
} from '@notes/contracts';
import { uuidv7 } from 'uuidv7';
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

/** The job row and its outbox row (the message, serialised once). */
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
    kind: 'job',
  };
  return { jobId, jobRow, outboxRow };
}

/**
 * A job and its outbox row as inserts for the caller's write-path transaction (platform/db/sql-writer.ts,
 * platform/db/group-commit.ts): the message exists exactly when the write that caused it does (the outbox
 * shape). Call `OutboxNotifier.nudge()` after the commit.
 */
export function jobInserts(job: JobToEnqueue, now: Date): { jobId: string; inserts: RowInsert[] } {
  const { jobId, jobRow, outboxRow } = jobRows(job, now);
  return { jobId, inserts: [rowInsert(jobs, jobRow), rowInsert(outbox, outboxRow)] };
}
