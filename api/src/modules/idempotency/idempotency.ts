import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '@notes/contracts';
import type { Logger } from 'pino';
import type { Database } from '../../platform/db/client.ts';
import {
  IdempotencyConflictError,
  IdempotencyInFlightError,
  ServiceUnavailableError,
} from '../../platform/errors/index.ts';
import type { ApiMetrics } from '../../platform/metrics.ts';
import { RedisUnavailableError } from '../../platform/redis/redis-guard.ts';
import {
  deleteExpiredFence,
  type FencedResponse,
  type FenceKey,
  type FenceRow,
  findFence,
} from './fences-repository.ts';
import { type IdempotencyRecord, type IdempotencyStore, idempotencyRedisKey } from './idempotency-store.ts';
import {
  type ClaimSteps,
  WriteClaim,
  type WriteOutcome,
  type WriteRequest,
  type WriteResponse,
} from './write-claim.ts';

export { RETRY, WriteClaim, type WriteOutcome, type WriteRequest, type WriteResponse } from './write-claim.ts';

/**
 * Idempotent writes (docs/guarantees.md and docs/api.md; IETF draft-ietf-httpapi-idempotency-key-header).
 *
 * Keyed: `Idempotency-Key`, scoped to the user, kept 24 h. Unkeyed: the request fingerprint is the
 * key, kept IDEMPOTENCY_WINDOW_SECONDS. Unkeyed writes only match unkeyed writes.
 *
 * Redis answers repeats fast and knows what is in flight (409). The database decides: the write's
 * own transaction first inserts a fence row (primary key user + key hash), so a duplicate waits
 * for the first transaction and then sees a duplicate key, under any concurrency, whatever Redis
 * says, and across a Redis restart. With Redis down, keyed writes go ahead on the fence alone;
 * unkeyed writes answer 503, because docs/api.md reserves the silent window for Redis.
 *
 * Round trips (issue 6): a write whose rows and answer are known up front (a create) inserts its
 * fence complete and goes through group commit, sharing a transaction with concurrent creates; a
 * write that must read first takes two round trips (platform/db/sql-writer.ts). After the commit, the
 * record, the cache bump and the live event are issued together: one pipelined Redis round trip.
 */

export const KEYED_TTL_SECONDS = 24 * 60 * 60;
/** How long a claim may stay in flight before another request may try (the fence still holds). */
export const LEASE_MS = 10_000;
const REDIS_DOWN_RETRY_AFTER_SECONDS = 2;

/** JSON with object keys sorted at every depth, so `{a,b}` and `{b,a}` hash alike. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** SHA-256 over method, path, user, canonical body and If-Match (section 11). */
export function fingerprintOf(req: WriteRequest): string {
  return sha256(
    canonicalJson({
      method: req.method.toUpperCase(),
      path: req.path,
      user: req.userId,
      body: req.body ?? null,
      if_match: req.ifMatch ?? null,
    }),
  );
}

/** The fence's key: a hash of the Idempotency-Key (kept apart from fingerprints), or the fingerprint. */
export function keyHashOf(req: WriteRequest, fingerprint: string): string {
  return req.key === undefined ? fingerprint : sha256(`idempotency-key\u0000${req.key}`);
}

export class IdempotencyService implements ClaimSteps {
  private readonly store: IdempotencyStore;

  constructor(
    private readonly deps: {
      config: Config;
      database: Database;
      logger: Logger;
      metrics: ApiMetrics;
      store: IdempotencyStore;
    },
  ) {
    this.store = deps.store;
  }

  /**
   * The first step of a write: its key is claimed in Redis (then the write carries the claim
   * through its commit), or the write is already answered: a replay, or a 409, 422 or 503 thrown.
   */
  async claim(req: WriteRequest): Promise<WriteClaim | WriteOutcome> {
    const fingerprint = fingerprintOf(req);
    const key: FenceKey = { userId: req.userId, keyHash: keyHashOf(req, fingerprint) };
    const ttlSeconds = req.key === undefined ? this.deps.config.idempotencyWindowSeconds : KEYED_TTL_SECONDS;
    const redisKey = idempotencyRedisKey(req.userId, key.keyHash);
    const token = randomUUID();
    const claim = (claimed: boolean) =>
      new WriteClaim(this, { req, fingerprint, key, redisKey, token, ttlSeconds, claimed });
    try {
      const answer = await this.store.claim(redisKey, fingerprint, token, LEASE_MS);
      if (answer.claimed) return claim(true);
      const { record } = answer;
      // In flight (perhaps left so by a Redis pause), or a slim record whose body the fence keeps.
      const askFence = record.s === 'inflight' || record.x === 1;
      if (askFence && record.f === fingerprint) {
        const settled = await this.settledInFlight(key, fingerprint, redisKey);
        if (settled) return this.replayed(req, settled);
        if (record.s === 'done') {
          // The fence is gone (its window passed): the slim record must not outlive it.
          await this.store.drop(redisKey).catch(() => {});
          throw new IdempotencyInFlightError(1);
        }
      }
      return this.replayed(req, this.answerFromRecord(record, fingerprint));
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw this.counted(err);
      if (req.key === undefined) {
        throw new ServiceUnavailableError(
          'Duplicate detection is unavailable; retry shortly or send an Idempotency-Key.',
          REDIS_DOWN_RETRY_AFTER_SECONDS,
        );
      }
      this.deps.logger.warn({ err }, 'idempotency store unavailable; keyed write fenced by the database only');
      return claim(false);
    }
  }

  private replayed(req: WriteRequest, outcome: WriteOutcome): WriteOutcome {
    this.countReplay(req);
    return outcome;
  }

  countReplay(req: WriteRequest): void {
    this.deps.metrics.idempotentReplays.inc({ mode: req.key === undefined ? 'hash' : 'key' });
  }

  /** Counts a refusal by its reason and hands it back to throw. */
  counted(err: unknown): unknown {
    const { idempotencyConflicts } = this.deps.metrics;
    if (err instanceof IdempotencyConflictError) idempotencyConflicts.inc({ reason: 'payload_mismatch' });
    if (err instanceof IdempotencyInFlightError) idempotencyConflicts.inc({ reason: 'in_flight' });
    return err;
  }

  /** A failed write gives its key back, so a retry runs again. */
  async release(redisKey: string, fingerprint: string, token: string): Promise<void> {
    await this.store.release(redisKey, fingerprint, token).catch(() => {});
  }

  /**
   * The fence that made this write's insert a duplicate, read outside the
   * rolled-back transaction (it committed before our insert failed): its answer, or 'expired'
   * once an expired row has been removed. (Deleting it inside the transaction after the failed
   * insert would upgrade a shared lock that a concurrent duplicate also holds, and deadlock.)
   */
  async duplicate(
    key: FenceKey,
    fingerprint: string,
    now: Date,
  ): Promise<{ replay: WriteResponse; ttlSeconds: number } | 'expired'> {
    const row = await findFence(this.deps.database.db, key);
    if (row && row.expiresAt > now) {
      // The fast path keeps it only as long as the fence does (the window started earlier).
      const left = Math.ceil((row.expiresAt.getTime() - now.getTime()) / 1000);
      return { replay: this.replayOf(row, fingerprint), ttlSeconds: left };
    }
    if (row) await deleteExpiredFence(this.deps.database.writer, key, now);
    return 'expired';
  }

  /**
   * Redis says in flight, but the first request may have committed and then failed to record its
   * answer (Redis paused or restarted between the claim and the completion): then its lease
   * would keep answering 409 for up to LEASE_MS. The fence decides: a committed fence is the
   * answer (replayed, and put back into Redis); none means the write really is still running.
   * Only in-flight hits and slim records pay this one primary-key read.
   */
  private async settledInFlight(fence: FenceKey, fingerprint: string, redisKey: string): Promise<WriteOutcome | null> {
    const row = await findFence(this.deps.database.db, fence);
    if (!row || row.expiresAt <= new Date()) return null;
    const replay = this.replayOf(row, fingerprint);
    const left = Math.ceil((row.expiresAt.getTime() - Date.now()) / 1000);
    // A stale claim is someone else's (its token died with the request): overwrite it. Slim (no
    // body): stored outside the byte budget's accounting, so it must stay small.
    const slim: IdempotencyRecord = {
      s: 'done',
      f: fingerprint,
      status: replay.status,
      body: null,
      location: replay.location,
      x: 1,
    };
    await this.store.overwrite(redisKey, slim, left * 1000).catch(() => {});
    return { response: replay, replayed: true };
  }

  private answerFromRecord(record: IdempotencyRecord, fingerprint: string): WriteOutcome {
    if (record.f !== fingerprint) throw new IdempotencyConflictError();
    // The lease is only the worst case; a write usually finishes in milliseconds, so ask for a
    // retry in a second rather than at the lease's end.
    if (record.s === 'inflight') throw new IdempotencyInFlightError(1);
    return {
      response: {
        status: record.status,
        body: record.body === null ? null : JSON.parse(record.body),
        location: record.location,
      },
      replayed: true,
      json: record.body,
    };
  }

  private replayOf(row: FenceRow, fingerprint: string): WriteResponse {
    if (row.fingerprint !== fingerprint) throw new IdempotencyConflictError();
    return {
      status: row.responseStatus,
      body: row.responseBody === null ? null : JSON.parse(row.responseBody),
      location: row.location ?? null,
    };
  }

  /** Best effort: a repeat that misses Redis is still answered from the fence. */
  async remember(
    redisKey: string,
    userId: string,
    token: string,
    fingerprint: string,
    response: FencedResponse,
    ttlSeconds: number,
  ): Promise<void> {
    const record: Extract<IdempotencyRecord, { s: 'done' }> = {
      s: 'done',
      f: fingerprint,
      status: response.status,
      body: response.body,
      location: response.location,
    };
    const budget = { bytes: this.deps.config.limits.idempotencyMaxBytesPerUser, windowSeconds: KEYED_TTL_SECONDS };
    await this.store.complete(redisKey, userId, token, record, ttlSeconds * 1000, budget).catch((err) => {
      this.deps.logger.warn({ err }, 'idempotency response not stored in redis; the fence still holds');
    });
  }
}
