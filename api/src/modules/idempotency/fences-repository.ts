import { and, eq } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db/client.ts';
import { idempotencyFences } from '../../platform/db/schema.ts';
import {
  atMost,
  type RowInsert,
  rowDelete,
  rowInsert,
  type Statement,
  type Writer,
  within,
} from '../../platform/db/sql-writer.ts';

/**
 * The database half of idempotency (docs/guarantees.md): a primary key (user_id, key_hash)
 * inserted in the write's own transaction. A second insert of the same key waits for the first
 * transaction and then fails with a duplicate-key error, so two writes can never both commit.
 * Inserts, the completion and the rare delete after a duplicate are statements of the writer
 * (platform/db/sql-writer.ts); the read after a duplicate uses drizzle.
 */
export type FenceRow = typeof idempotencyFences.$inferSelect;

export interface FenceKey {
  userId: string;
  keyHash: string;
}

/** What a fence holds for replays: the first answer, verbatim. */
export interface FencedResponse {
  status: number;
  /** The JSON body, serialised once (null for a 204). */
  body: string | null;
  location: string | null;
}

/**
 * The fence row, inserted first in the write's transaction. A write whose answer is known before
 * it runs (a create) inserts it complete; one that must read first inserts status 0 and fills it
 * in with completeFence before the same transaction commits, so nobody ever sees the 0.
 */
export function fenceInsert(
  fence: FenceKey & { fingerprint: string; now: Date; expiresAt: Date; response: FencedResponse | null },
): RowInsert {
  return rowInsert(idempotencyFences, {
    userId: fence.userId,
    keyHash: fence.keyHash,
    fingerprint: fence.fingerprint,
    responseStatus: fence.response?.status ?? 0,
    responseBody: fence.response?.body ?? null,
    location: fence.response?.location ?? null,
    createdAt: fence.now,
    expiresAt: fence.expiresAt,
  });
}

export function completeFence(key: FenceKey, response: FencedResponse): Statement {
  return {
    sql: 'UPDATE idempotency_fences SET response_status = ?, response_body = ?, location = ? WHERE user_id = ? AND key_hash = ?',
    values: [response.status, response.body, response.location, key.userId, key.keyHash],
  };
}

export async function findFence(db: DbOrTx, key: FenceKey): Promise<FenceRow | undefined> {
  const [row] = await db
    .select()
    .from(idempotencyFences)
    .where(and(eq(idempotencyFences.userId, key.userId), eq(idempotencyFences.keyHash, key.keyHash)));
  return row;
}

/** Deletes the key only if it has expired, so a live fence is never removed. */
export async function deleteExpiredFence(w: Writer, key: FenceKey, now: Date): Promise<void> {
  const where = { userId: key.userId, keyHash: key.keyHash, expiresAt: atMost(now) };
  await within(w, (tx) => tx.execute(rowDelete(idempotencyFences, where)));
}

export { isDuplicateKey } from '../../platform/db/retry.ts';
