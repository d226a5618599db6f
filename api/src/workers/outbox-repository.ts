import type { Priority } from '@notes/contracts';
import type { Statement } from '../platform/db/sql-writer.ts';

/**
 * SQL of the two relays (outbox-relay.ts for jobs, live-event-relay.ts for live events): lock the
 * oldest unsent rows of their kind, then mark them sent (or failed), as statements of the one
 * writer's transaction each relay round runs in (docs/architecture.md, "The write path").
 */

/** A job row as the job relay publishes it. */
export type JobRow = {
  id: number;
  jobId: string;
  payload: string;
  priority: Priority;
  traceparent: string | null;
  kind: string | null;
};

/**
 * The oldest unsent job rows (live events have their own relay: live-event-relay.ts), locked;
 * rows another relay holds are skipped, not waited for. The job kind (a message header) is read
 * by the database, so the relay never parses a payload.
 */
export const lockUnsentJobs = (limit: number): Statement => ({
  sql: `SELECT id, job_id AS jobId, payload, priority, traceparent, JSON_VALUE(payload, '$.kind') AS kind
        FROM outbox WHERE sent_at IS NULL AND kind = 'job'
        ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
  values: [limit],
});

/** An event row as the live-event relay publishes it. */
export type EventRow = { id: number; payload: string };

/** The oldest unsent live-event rows, locked; rows another relay holds are skipped. */
export const lockUnsentEvents = (limit: number): Statement => ({
  sql: `SELECT id, payload FROM outbox WHERE sent_at IS NULL AND kind = 'event'
        ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
  values: [limit],
});

export const markSent = (ids: readonly number[], now: Date): Statement => ({
  sql: `UPDATE outbox SET sent_at = ?, publish_attempts = publish_attempts + 1 WHERE id IN (${ids.map(() => '?').join(',')})`,
  values: [now, ...ids],
});

/** Rows whose publish was not confirmed: counted and left unsent for the next round. */
export const markFailed = (ids: readonly number[], error: string): Statement => ({
  sql: `UPDATE outbox SET publish_attempts = publish_attempts + 1, last_error = ?
        WHERE id IN (${ids.map(() => '?').join(',')}) AND sent_at IS NULL`,
  values: [error, ...ids],
});
