import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '@notes/contracts';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Database } from '../../platform/db/client.ts';
import type { RowInsert, WriteTx } from '../../platform/db/sql-writer.ts';
import {
  IdempotencyConflictError,
  IdempotencyInFlightError,
  ServiceUnavailableError,
} from '../../platform/errors/index.ts';
import type { ApiMetrics } from '../../platform/metrics.ts';
import { RedisUnavailableError } from '../../platform/redis/redis-guard.ts';
import {
  completeFence,
  deleteExpiredFence,
  type FencedResponse,
  type FenceKey,
  type FenceRow,
  fenceInsert,
  findFence,
  isDuplicateKey,
  isRetryableTxError,
} from './fences-repository.ts';
import { type IdempotencyRecord, IdempotencyStore, idempotencyRedisKey } from './idempotency-store.ts';

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
const MAX_TX_ATTEMPTS = 3;

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

/** What a write returns from inside its transaction; `afterCommit` runs only if this request committed. */
export interface WriteEffect {
  response: WriteResponse;
  afterCommit?: () => Promise<void>;
}

/**
 * How a write runs inside its fence:
 * - `planned`: every row and the answer are known before it runs (ids and times are made in the
 *   app), so it can share a transaction with other writes (platform/db/group-commit.ts). Built once.
 * - `locked`: it reads (and locks) first; its statements are sent with the read and the commit.
 */
export type FencedWrite =
  | { planned: () => { inserts: RowInsert[]; effect: WriteEffect } }
  | { locked: (tx: WriteTx) => Promise<WriteEffect> };

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

/** The answer as the fence and the Redis record keep it: the body serialised once, for both. */
function stored(response: WriteResponse): FencedResponse {
  return {
    status: response.status,
    body: response.body === null ? null : (response.json ?? JSON.stringify(response.body)),
    location: response.location,
  };
}

type FencedResult = { effect: WriteEffect; stored: FencedResponse } | { replay: WriteResponse; ttlSeconds: number };

export class IdempotencyService {
  private readonly store: IdempotencyStore;

  constructor(
    private readonly deps: { config: Config; database: Database; redis: Redis; logger: Logger; metrics: ApiMetrics },
  ) {
    this.store = new IdempotencyStore(deps.redis);
  }

  /**
   * Runs `write` at most once per key: in one transaction with the fence row, or not at all
   * (a replay, a 409, a 422 or a 503). A write that throws rolls back and releases the claim, so
   * a retry runs again.
   */
  async execute(req: WriteRequest, write: FencedWrite): Promise<WriteOutcome> {
    const { idempotentReplays, idempotencyConflicts } = this.deps.metrics;
    try {
      const outcome = await this.#execute(req, write);
      if (outcome.replayed) idempotentReplays.inc({ mode: req.key === undefined ? 'hash' : 'key' });
      return outcome;
    } catch (err) {
      if (err instanceof IdempotencyConflictError) idempotencyConflicts.inc({ reason: 'payload_mismatch' });
      if (err instanceof IdempotencyInFlightError) idempotencyConflicts.inc({ reason: 'in_flight' });
      throw err;
    }
  }

  async #execute(req: WriteRequest, write: FencedWrite): Promise<WriteOutcome> {
    const fingerprint = fingerprintOf(req);
    const fence: FenceKey = { userId: req.userId, keyHash: keyHashOf(req, fingerprint) };
    const ttlSeconds = req.key === undefined ? this.deps.config.idempotencyWindowSeconds : KEYED_TTL_SECONDS;
    const redisKey = idempotencyRedisKey(req.userId, fence.keyHash);
    const token = randomUUID();

    let claimed = false;
    try {
      const claim = await this.store.claim(redisKey, fingerprint, token, LEASE_MS);
      if (!claim.claimed) {
        const { record } = claim;
        // In flight (perhaps left so by a Redis pause), or a slim record whose body the fence keeps.
        const askFence = record.s === 'inflight' || record.x === 1;
        if (askFence && record.f === fingerprint) {
          const settled = await this.settledInFlight(fence, fingerprint, redisKey);
          if (settled) return settled;
          if (record.s === 'done') {
            // The fence is gone (its window passed): the slim record must not outlive it.
            await this.store.drop(redisKey).catch(() => {});
            throw new IdempotencyInFlightError(1);
          }
        }
        return this.answerFromRecord(record, fingerprint);
      }
      claimed = true;
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      if (req.key === undefined) {
        throw new ServiceUnavailableError(
          'Duplicate detection is unavailable; retry shortly or send an Idempotency-Key.',
          REDIS_DOWN_RETRY_AFTER_SECONDS,
        );
      }
      this.deps.logger.warn({ err }, 'idempotency store unavailable; keyed write fenced by the database only');
    }

    let result: FencedResult;
    try {
      result = await this.runFenced(fence, fingerprint, ttlSeconds, write);
    } catch (err) {
      if (claimed) await this.store.release(redisKey, token).catch(() => {});
      throw err;
    }
    if ('replay' in result) {
      // The fast path lost this one (Redis restarted, or a lease lapsed): fill it again.
      await this.remember(redisKey, req.userId, token, fingerprint, stored(result.replay), result.ttlSeconds);
      return { response: result.replay, replayed: true };
    }
    // Issued in one tick, so they travel in one pipeline (the client auto-pipelines): the record
    // first, then the write's own after-commit work (cache bump, live event).
    const { effect } = result;
    await Promise.all([
      this.remember(redisKey, req.userId, token, fingerprint, result.stored, ttlSeconds),
      effect.afterCommit?.(),
    ]);
    return { response: effect.response, replayed: false, json: result.stored.body };
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

  /** The transaction: fence first (a duplicate waits here), then the write, with the response in the fence. */
  private async runFenced(
    fence: FenceKey,
    fingerprint: string,
    ttlSeconds: number,
    write: FencedWrite,
  ): Promise<FencedResult> {
    const planned = 'planned' in write ? write.planned() : null;
    const plannedAnswer = planned && stored(planned.effect.response);
    for (let attempt = 1; ; attempt++) {
      const now = new Date();
      const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
      try {
        if (planned && plannedAnswer) {
          const row = fenceInsert({ ...fence, fingerprint, now, expiresAt, response: plannedAnswer });
          await this.deps.database.commits.submit([row, ...planned.inserts], `${fence.userId}:${fence.keyHash}`);
          return { effect: planned.effect, stored: plannedAnswer };
        }
        const { locked } = write as Extract<FencedWrite, { locked: unknown }>;
        return await this.deps.database.writer.transaction(async (tx) => {
          tx.insert(fenceInsert({ ...fence, fingerprint, now, expiresAt, response: null }));
          const effect = await locked(tx);
          const answer = stored(effect.response);
          tx.defer(completeFence(fence, answer));
          return { effect, stored: answer };
        });
      } catch (err) {
        // The write's other rows have fresh app-made keys: a duplicate key is the fence's.
        if (isDuplicateKey(err)) {
          // Read outside the rolled-back transaction: the row committed before our insert failed.
          const row = await findFence(this.deps.database.db, fence);
          if (row && row.expiresAt > now) {
            // The fast path keeps it only as long as the fence does (the window started earlier).
            const left = Math.ceil((row.expiresAt.getTime() - now.getTime()) / 1000);
            return { replay: this.replayOf(row, fingerprint), ttlSeconds: left };
          }
          // Gone or expired: remove an expired row in its own statement and try again. (Deleting it
          // inside the transaction after the failed insert would upgrade a shared lock that a
          // concurrent duplicate also holds, and deadlock.)
          if (row) await deleteExpiredFence(this.deps.database.db, fence, now);
          if (attempt < MAX_TX_ATTEMPTS) continue;
          throw new IdempotencyInFlightError(1);
        }
        if (isRetryableTxError(err) && attempt < MAX_TX_ATTEMPTS) continue;
        throw err;
      }
    }
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
  private async remember(
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
