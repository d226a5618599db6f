import { and, eq, lte } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../db/client.ts';
import { idempotencyFences } from '../db/schema.ts';

/**
 * The database half of idempotency (contract section 5): a primary key (user_id, key_hash)
 * inserted in the write's own transaction. A second insert of the same key waits for the first
 * transaction and then fails with a duplicate-key error, so two writes can never both commit.
 */
export type FenceRow = typeof idempotencyFences.$inferSelect;

export interface FenceKey {
  userId: string;
  keyHash: string;
}

/** Returns false when the key already exists (someone else did, or is doing, this write). */
export async function tryInsertFence(
  tx: Tx,
  fence: FenceKey & { fingerprint: string; now: Date; expiresAt: Date },
): Promise<boolean> {
  try {
    await tx.insert(idempotencyFences).values({
      userId: fence.userId,
      keyHash: fence.keyHash,
      fingerprint: fence.fingerprint,
      // Filled in by completeFence before the same transaction commits; nobody sees the 0.
      responseStatus: 0,
      createdAt: fence.now,
      expiresAt: fence.expiresAt,
    });
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}

export async function completeFence(
  tx: Tx,
  key: FenceKey,
  response: { status: number; body: string | null; location: string | null },
): Promise<void> {
  await tx
    .update(idempotencyFences)
    .set({ responseStatus: response.status, responseBody: response.body, location: response.location })
    .where(and(eq(idempotencyFences.userId, key.userId), eq(idempotencyFences.keyHash, key.keyHash)));
}

export async function findFence(db: DbOrTx, key: FenceKey): Promise<FenceRow | undefined> {
  const [row] = await db
    .select()
    .from(idempotencyFences)
    .where(and(eq(idempotencyFences.userId, key.userId), eq(idempotencyFences.keyHash, key.keyHash)));
  return row;
}

/** Deletes the key only if it has expired, so a live fence is never removed. */
export async function deleteExpiredFence(db: DbOrTx, key: FenceKey, now: Date): Promise<void> {
  await db
    .delete(idempotencyFences)
    .where(
      and(
        eq(idempotencyFences.userId, key.userId),
        eq(idempotencyFences.keyHash, key.keyHash),
        lte(idempotencyFences.expiresAt, now),
      ),
    );
}

/** mysql2 wraps driver errors; drizzle may wrap them again (`cause`). */
function driverCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (typeof e.code === 'string' && e.code.startsWith('ER_')) return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

export function isDuplicateKey(err: unknown): boolean {
  return driverCode(err) === 'ER_DUP_ENTRY';
}

/** A deadlock or lock-wait timeout rolled the transaction back; running it again is safe. */
export function isRetryableTxError(err: unknown): boolean {
  const code = driverCode(err);
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT';
}
