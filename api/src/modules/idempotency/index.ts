/** What other modules may import from this one (docs/architecture.md); the rest of the folder is private to it. */
export { isRetryableTxError } from './fences-repository.ts';
export {
  IdempotencyService,
  RETRY,
  WriteClaim,
  type WriteOutcome,
  type WriteRequest,
  type WriteResponse,
} from './idempotency.ts';
