/**
 * The one retry for database work InnoDB refused as a whole (docs/guarantees.md): a deadlock
 * victim, or a lock wait that timed out. Either way the statement (in autocommit) or the
 * transaction (rolled back by drizzle when the callback throws) left nothing behind, so running it
 * again from the start is safe. Callers pass the unit that was rolled back: one statement, or the
 * function that opens the whole transaction, never a statement inside a transaction.
 */

export const ROLLED_BACK_TRIES = 3;

/** The driver's error code (ER_…), through drizzle's and our own wrappers (`cause`). */
export function driverCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (typeof e.code === 'string' && e.code.startsWith('ER_')) return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

/** A duplicate key (ER_DUP_ENTRY, errno 1062). */
export function isDuplicateKey(err: unknown): boolean {
  return driverCode(err) === 'ER_DUP_ENTRY';
}

/** A deadlock or lock-wait timeout: the work was rolled back and may run again. */
export function isRolledBack(err: unknown): boolean {
  const code = driverCode(err);
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT';
}

/**
 * Runs `work` (one statement, or one whole transaction) and runs it again when InnoDB rolled it
 * back, at most `tries` times in all. `also` names more errors that mean "rolled back, run again"
 * for this caller (the callbacks' processed-message keys); `onRetry` hears each retry.
 */
export async function retryRolledBack<T>(
  work: (attempt: number) => Promise<T>,
  opts: { tries?: number; also?: (err: unknown) => boolean; onRetry?: (err: unknown, attempt: number) => void } = {},
): Promise<T> {
  const tries = opts.tries ?? ROLLED_BACK_TRIES;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (attempt >= tries || !(isRolledBack(err) || opts.also?.(err))) throw err;
      opts.onRetry?.(err, attempt);
    }
  }
}
