import { isDuplicateKey, isRolledBack, ROLLED_BACK_TRIES } from '../../platform/db/retry.ts';
import type { RowInsert, SqlWriter, Statement, WriteTx } from '../../platform/db/sql-writer.ts';
import { IdempotencyInFlightError } from '../../platform/errors/index.ts';
import { completeFence, type FencedResponse, type FenceKey, fenceInsert } from './fences-repository.ts';

/** A write as idempotency sees it (docs/api.md, "Idempotency"). */
export interface WriteRequest {
  userId: string;
  method: string;
  /** The concrete path (`/api/notes/<id>`), without the query string. */
  path: string;
  /** The validated body (undefined for DELETE). */
  body: unknown;
  ifMatch?: string | undefined;
  key?: string | undefined;
}

/** What a write answered: replayed verbatim (status, body, Location) to a repeat. */
export interface WriteResponse {
  status: number;
  body: unknown;
  location: string | null;
  /** `body` serialised, when the write has done it already (it is then not done again). */
  json?: string;
}

export interface WriteOutcome {
  response: WriteResponse;
  replayed: boolean;
  /** The body as JSON when it is at hand already (serialised once for the fence and Redis). */
  json?: string | null;
}

/** Attempts of one write's transaction (a deadlock victim, or an expired fence in the way). */
const MAX_TX_ATTEMPTS = ROLLED_BACK_TRIES;

/** What a claim asks of the idempotency service (idempotency.ts) on its way through the commit. */
export interface ClaimSteps {
  remember(
    redisKey: string,
    userId: string,
    token: string,
    fingerprint: string,
    response: FencedResponse,
    ttlSeconds: number,
  ): Promise<void>;
  duplicate(
    key: FenceKey,
    fingerprint: string,
    now: Date,
  ): Promise<{ replay: WriteResponse; ttlSeconds: number } | 'expired'>;
  release(redisKey: string, fingerprint: string, token: string): Promise<void>;
  countReplay(req: WriteRequest): void;
  counted(err: unknown): unknown;
}

/** The answer as the fence and the Redis record keep it: the body serialised once, for both. */
export function storedResponse(response: WriteResponse): FencedResponse {
  return {
    status: response.status,
    body: response.body === null ? null : (response.json ?? JSON.stringify(response.body)),
    location: response.location,
  };
}

/** What a failed commit leaves the write to do: run it again, or answer this (a replay). */
export const RETRY = Symbol('retry');

/** What a write's transaction body made: its answer (for the fence) and whatever else its caller wants back. */
export interface TxBodyResult<T> {
  response: WriteResponse;
  value: T;
}

/** How `WriteClaim.transaction` ended: committed (the caller finishes with `committed()`), or settled without. */
export type TxOutcome<T> = ({ committed: true } & TxBodyResult<T>) | { committed: false; outcome: WriteOutcome };

/**
 * A claimed key, carried by its write through the commit (docs/guarantees.md). The write puts
 * `fence()` first in its transaction (a create with its answer, through group commit; a write
 * that reads first with none, completed by `completeFence()` before its COMMIT), then reports
 * how the commit went: `committed()` remembers the answer in Redis, `failed()` says whether to
 * run again or answers with the first request's replay, and releases the claim otherwise.
 */
export class WriteClaim {
  #attempt = 0;
  #now = new Date();
  private readonly req: WriteRequest;
  private readonly fingerprint: string;
  private readonly key: FenceKey;
  private readonly redisKey: string;
  private readonly token: string;
  private readonly ttlSeconds: number;
  /** False when Redis was down and a keyed write goes ahead on the fence alone. */
  private readonly claimed: boolean;

  constructor(
    private readonly service: ClaimSteps,
    claim: {
      req: WriteRequest;
      fingerprint: string;
      key: FenceKey;
      redisKey: string;
      token: string;
      ttlSeconds: number;
      claimed: boolean;
    },
  ) {
    ({
      req: this.req,
      fingerprint: this.fingerprint,
      key: this.key,
      redisKey: this.redisKey,
      token: this.token,
      ttlSeconds: this.ttlSeconds,
      claimed: this.claimed,
    } = claim);
  }

  /** Equal for two writes of the same key: group commit never puts them in one transaction. */
  get groupKey(): string {
    return `${this.key.userId}:${this.key.keyHash}`;
  }

  /** The fence row for this attempt: with the answer when it is known up front, else status 0. */
  fence(response: WriteResponse | null): RowInsert {
    this.#attempt++;
    this.#now = new Date();
    const expiresAt = new Date(this.#now.getTime() + this.ttlSeconds * 1000);
    const stored = response && storedResponse(response);
    return fenceInsert({ ...this.key, fingerprint: this.fingerprint, now: this.#now, expiresAt, response: stored });
  }

  /** Fills in the answer of a fence inserted with none, in the same transaction. */
  completeFence(response: WriteResponse): Statement {
    return completeFence(this.key, storedResponse(response));
  }

  /**
   * A write that reads first, in a transaction of `writer` until it commits or has its outcome.
   * Each attempt opens a fresh transaction with this claim's fence (no answer yet) first; `body`
   * reads, locks and queues the write's statements and says its answer, which completes the
   * fence before the COMMIT. A failed attempt is rolled back and `failed()` decides: another
   * attempt, a replay of the first request's answer, or the error thrown.
   */
  async transaction<T>(writer: SqlWriter, body: (tx: WriteTx) => Promise<TxBodyResult<T>>): Promise<TxOutcome<T>> {
    for (;;) {
      let tx: WriteTx | undefined;
      try {
        tx = await writer.begin();
        tx.insert(this.fence(null));
        const done = await body(tx);
        tx.defer(this.completeFence(done.response));
        await tx.commit();
        return { committed: true, ...done };
      } catch (err) {
        await tx?.rollback();
        const next = await this.failed(err);
        if (next !== RETRY) return { committed: false, outcome: next };
      }
    }
  }

  /** After the COMMIT: the answer goes to Redis (best effort; the fence holds it anyway). */
  async committed(response: WriteResponse): Promise<WriteOutcome> {
    const stored = storedResponse(response);
    await this.service.remember(this.redisKey, this.req.userId, this.token, this.fingerprint, stored, this.ttlSeconds);
    return { response, replayed: false, json: stored.body };
  }

  /**
   * After a failed commit (rolled back). A duplicate key is the fence's (the write's other rows
   * have fresh app-made keys): the first request committed, so its answer is replayed; an
   * expired fence is removed and the write runs again. A deadlock runs again too, a few times.
   * Anything else releases the claim, so a retry runs again, and is thrown.
   */
  async failed(err: unknown): Promise<WriteOutcome | typeof RETRY> {
    const again = this.#attempt < MAX_TX_ATTEMPTS;
    try {
      if (isDuplicateKey(err)) {
        const settled = await this.service.duplicate(this.key, this.fingerprint, this.#now);
        if (settled === 'expired' && again) return RETRY;
        if (settled === 'expired') throw new IdempotencyInFlightError(1);
        // The fast path lost this one (Redis restarted, or a lease lapsed): fill it again.
        const stored = storedResponse(settled.replay);
        await this.service.remember(
          this.redisKey,
          this.req.userId,
          this.token,
          this.fingerprint,
          stored,
          settled.ttlSeconds,
        );
        this.service.countReplay(this.req);
        return { response: settled.replay, replayed: true };
      }
      if (isRolledBack(err) && again) return RETRY;
      throw err;
    } catch (thrown) {
      if (this.claimed) await this.service.release(this.redisKey, this.fingerprint, this.token);
      throw this.service.counted(thrown);
    }
  }
}
