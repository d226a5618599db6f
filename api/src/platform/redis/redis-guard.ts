import { type Redis, ReplyError } from 'ioredis';

/** Redis could not be used for this call; the caller decides what that means (bypass, 503, …). */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/** After a failed call, skip Redis for this long instead of paying the command timeout again. */
const COOLDOWN_MS = 1000;

/**
 * A small circuit breaker around the request-path Redis client. The client already fails fast
 * (no offline queue, 500 ms command timeout), but one request makes several Redis calls
 * (idempotency claim, cache, completion): once a call has failed, the others fail at once, so a
 * hung Redis costs a request one timeout, not four (docs/guarantees.md: about a second at most).
 *
 * One guard per client, built by the wiring (wiring.ts) and handed to the idempotency store, the
 * note cache, the stream slots and the rate limiter, so they share what they learn of an outage.
 */
export class RedisGuard {
  private openUntil = 0;

  constructor(readonly redis: Redis) {}

  get available(): boolean {
    return this.redis.status === 'ready' && Date.now() >= this.openUntil;
  }

  async run<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
    if (!this.available) throw new RedisUnavailableError(`redis is ${this.redis.status}`);
    try {
      return await fn(this.redis);
    } catch (err) {
      // An error reply (e.g. a script error) means Redis answered: it is up, the call was wrong.
      if (!(err instanceof ReplyError)) this.openUntil = Date.now() + COOLDOWN_MS;
      throw new RedisUnavailableError((err as Error).message, { cause: err });
    }
  }
}
