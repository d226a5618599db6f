import type { Logger } from 'pino';
import type { Writer } from '../../platform/db/sql-writer.ts';
import { type AuditRecord, insertAudit } from './admin-repository.ts';

/** Action names written to audit_log; the console filters on them. */
export const AUDIT_ACTIONS = {
  promote: 'dlq.promote',
  discard: 'dlq.discard',
  updateUser: 'user.update',
} as const;

/**
 * Records who changed what. Every admin action that changes state calls this, in the same
 * transaction as the change where there is one, so a change without its audit row can't exist.
 * Actions whose effect is outside the database (promote moves broker messages) record after the
 * fact with the counts they achieved.
 */
export async function recordAudit(w: Writer, logger: Pick<Logger, 'info'>, entry: AuditRecord): Promise<void> {
  await insertAudit(w, entry);
  logger.info(
    { audit: { actor_id: entry.actorId, action: entry.action, target: entry.target, count: entry.count } },
    'admin action',
  );
}
