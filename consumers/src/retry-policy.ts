import type { Config, DeadReason } from '@notes/contracts';
import { ApiRejectedError, ApiUnavailableError, ChannelGoneError, PermanentJobError, PublishError } from './errors.ts';

/**
 * Retry policy as data: `classifyError` says what an error means, `retryDelayMs`
 * how long to wait, `decide` combines them with the attempt count.
 *
 * - retry:       an ordinary failure; try again after the next delay (dead after the last attempt)
 * - dead-letter: retrying cannot help; to notes.dlq now, with the reason
 * - requeue:     not the job's fault (API or broker trouble); back to the queue after a pause,
 *                without spending an attempt
 * - abandon:     the delivery's channel is gone; its tag is void and the broker redelivers it
 */
export type ErrorClass =
  | { action: 'retry' }
  | { action: 'dead-letter'; reason: DeadReason }
  | { action: 'requeue' }
  | { action: 'abandon' };

type ErrorType = abstract new (...args: never[]) => Error;
const TABLE: readonly [ErrorType, ErrorClass][] = [
  [ChannelGoneError, { action: 'abandon' }],
  [ApiUnavailableError, { action: 'requeue' }],
  [PublishError, { action: 'requeue' }],
  [ApiRejectedError, { action: 'dead-letter', reason: 'rejected' }],
  [PermanentJobError, { action: 'dead-letter', reason: 'permanent' }],
];

export function classifyError(err: unknown): ErrorClass {
  for (const [type, verdict] of TABLE) if (err instanceof type) return verdict;
  // Shutdown aborts the handler's signal: the work was interrupted, not failed.
  if (err instanceof Error && err.name === 'AbortError') return { action: 'requeue' };
  // The webhook delivery function marks what a retry cannot fix (a 4xx answer, a refused URL).
  if (err && typeof err === 'object' && (err as { retryable?: unknown }).retryable === false) {
    return { action: 'dead-letter', reason: 'permanent' };
  }
  return { action: 'retry' };
}

/** The wait before attempt `attempt + 1`: RETRY_DELAYS_MS[attempt - 1], the last one beyond the list. */
export function retryDelayMs(delays: readonly number[], attempt: number): number {
  if (delays.length === 0) throw new Error('RETRY_DELAYS_MS is empty');
  const index = Math.min(Math.max(attempt, 1), delays.length) - 1;
  return delays[index] as number;
}

export type Decision =
  | { action: 'retry'; delayMs: number }
  | { action: 'dead-letter'; reason: DeadReason }
  | { action: 'requeue' }
  | { action: 'abandon' };

/** What to do with a delivery whose attempt `attempt` (1-based) failed with `err`. */
export function decide(err: unknown, attempt: number, config: Pick<Config, 'maxAttempts' | 'retryDelaysMs'>): Decision {
  const verdict = classifyError(err);
  if (verdict.action !== 'retry') return verdict;
  if (attempt >= config.maxAttempts) return { action: 'dead-letter', reason: 'max_attempts' };
  return { action: 'retry', delayMs: retryDelayMs(config.retryDelaysMs, attempt) };
}
