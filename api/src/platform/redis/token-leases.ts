/**
 * Local leases on a shared token bucket (docs/isolation.md, "Per-user write rate"): an instance
 * takes up to `maxTokens` tokens from the bucket in one call and spends them here, so the shared
 * bucket is asked about once per lease rather than once per request.
 *
 * Taking the tokens before spending them is not enough on its own: while an instance holds them,
 * the bucket refills, and tokens it would have had to throw away (it was full) come back on top
 * of those held, so a burst could exceed the bucket by what is held. So a lease is worth no more
 * than the bucket's debt that covers it: the bucket said how long until it is full again after
 * the grant, and from any moment on the lease spends at most one token per refill interval of
 * that time still to run. With that, however many instances lease from one bucket, the tokens they hold and the
 * bucket's own never add up to more than a full bucket, and the requests admitted in any window
 * never exceed the burst plus the rate times the window (token-leases.test.ts checks it). On one
 * instance nothing is lost (but a token to rounding, for less than a refill interval): a token
 * that lapses from a lease is one the bucket has refilled. With several, a request can be refused
 * early while other instances hold tokens: at most `maxTokens` each, each lease worth one token
 * less every refill interval.
 *
 * Only one call per bucket is in flight at a time; requests that find no token left wait for it
 * and share its answer: when the bucket had no token for them, they are all refused, with the
 * time until the bucket's next token. A request that comes later asks again (so when Redis has
 * gone away meanwhile, it goes ahead: fail-open). Times here are this process's monotonic clock,
 * in milliseconds; the bucket's own times, in microseconds, are durations by the bucket's clock.
 */

/** What the shared bucket answered when asked for up to `want` tokens. */
export interface Grant {
  /** Tokens taken from the bucket for this lease (0 to `want`). */
  granted: number;
  /** µs until the bucket is full again, after the grant. */
  debtUs: number;
  /** µs until the bucket next holds a whole token, when the grant left it without one; else 0. */
  waitUs: number;
}

/** The bucket's shape: `burst` tokens, one every `intervalUs` microseconds. */
export interface Bucket {
  intervalUs: number;
  burst: number;
}

export type Taken =
  /** `remaining`: tokens left (this lease's and the bucket's); `ttlMs`: until the bucket is full. */
  | { allowed: true; remaining: number; ttlMs: number }
  /** `ttlMs`: until the bucket next has a token. */
  | { allowed: false; remaining: 0; ttlMs: number };

export type TakeFromBucket = (key: string, want: number, bucket: Bucket) => Promise<Grant>;

interface Lease {
  /** Unspent tokens, never more than `floor(debt still to run / interval)` when spent. */
  tokens: number;
  /** When the bucket was asked (before it answered: so never later than the bucket's own "now"). */
  at: number;
  /** The bucket's debt after the grant: µs until it is full again. */
  debtUs: number;
  /** The call in flight. */
  pending: Promise<Answer> | null;
}

/** A call's answer: the lease it renewed, tokens granted, and the time before which the bucket has no token (0: not known). */
interface Answer {
  lease: Lease;
  granted: number;
  refusedUntil: number;
}

/** Leases worth nothing are forgotten at most this often. */
const SWEEP_MS = 1000;

export class TokenLeases {
  readonly #leases = new Map<string, Lease>();
  #lastSweep: number;

  /** `maxTokens`: the most one lease takes (1: every request asks the bucket). */
  constructor(
    private readonly takeFromBucket: TakeFromBucket,
    private readonly maxTokens: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#lastSweep = now();
  }

  /** Takes one token for `key`. Rejects when the bucket can't be asked; the caller decides what that means. */
  async take(key: string, bucket: Bucket): Promise<Taken> {
    this.#sweep();
    // Set once this request has waited for an answer from the bucket: no token before this time.
    let refusedUntil = 0;
    for (;;) {
      const lease = this.#leases.get(key);
      if (lease?.pending) {
        refusedUntil = (await lease.pending).refusedUntil;
        continue;
      }
      const t = this.now();
      if (lease) {
        // What lapsed stays lapsed: from now on the lease spends no more than the debt still to run.
        lease.tokens = Math.min(lease.tokens, Math.floor(this.#debtUs(lease, t) / bucket.intervalUs));
        if (lease.tokens >= 1) {
          lease.tokens--;
          return this.#allowed(lease, t, bucket);
        }
      }
      if (t < refusedUntil) return { allowed: false, remaining: 0, ttlMs: Math.max(1, Math.ceil(refusedUntil - t)) };
      const answer = await this.#renew(key, lease, t, bucket);
      // The first token of a lease is this request's, spent as the bucket granted it.
      if (answer.granted > 0) return this.#allowed(answer.lease, this.now(), bucket);
      refusedUntil = answer.refusedUntil;
    }
  }

  /**
   * Asks the bucket for a new lease, which replaces the old one; every request for `key` waits for
   * the answer. The lease keeps the tokens granted but one, the asking request's.
   */
  #renew(key: string, old: Lease | undefined, t: number, bucket: Bucket): Promise<Answer> {
    const lease: Lease = old ?? { tokens: 0, at: t, debtUs: 0, pending: null };
    this.#leases.set(key, lease);
    const pending = this.takeFromBucket(key, this.maxTokens, bucket).then(
      (grant): Answer => {
        lease.pending = null;
        lease.tokens = Math.max(0, grant.granted - 1);
        lease.at = t;
        lease.debtUs = grant.debtUs;
        // `t` is no later than the bucket's "now", so this never refuses past the next token.
        return { lease, granted: grant.granted, refusedUntil: grant.waitUs > 0 ? t + grant.waitUs / 1000 : 0 };
      },
      (err: unknown) => {
        lease.pending = null;
        lease.tokens = 0;
        throw err;
      },
    );
    lease.pending = pending;
    return pending;
  }

  /** The bucket's debt still to run, as this lease knows it (other instances may have added to it). */
  #debtUs(lease: Lease, t: number): number {
    return Math.max(0, lease.debtUs - (t - lease.at) * 1000);
  }

  #allowed(lease: Lease, t: number, bucket: Bucket): Taken {
    const debtUs = this.#debtUs(lease, t);
    const usable = Math.min(lease.tokens, Math.floor(debtUs / bucket.intervalUs));
    const inBucket = bucket.burst - Math.ceil(debtUs / bucket.intervalUs);
    return { allowed: true, remaining: Math.max(0, inBucket + usable), ttlMs: Math.ceil(debtUs / 1000) };
  }

  /** Forgets leases worth nothing any more, at most once every SWEEP_MS. */
  #sweep() {
    const t = this.now();
    if (t - this.#lastSweep < SWEEP_MS) return;
    this.#lastSweep = t;
    for (const [key, lease] of this.#leases) {
      if (!lease.pending && (t - lease.at) * 1000 >= lease.debtUs) this.#leases.delete(key);
    }
  }
}
