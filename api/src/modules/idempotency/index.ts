/** What other modules may import from this one (docs/architecture.md); the rest of the folder is private to it. */
export {
  IdempotencyService,
  RETRY,
  WriteClaim,
  type WriteOutcome,
  type WriteRequest,
  type WriteResponse,
} from './idempotency.ts';
