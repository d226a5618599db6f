import type { RedisGuard } from '../../platform/redis/redis-guard.ts';

/**
 * The Redis half of idempotency: the fast path that answers a repeat without touching the
 * database, and the only place that knows a request is still in flight. The database fence
 * (modules/idempotency/fences-repository.ts) is the real guarantee; this store may lose everything.
 */

/**
 * A record under `idem:<user>:<key hash>`. `x: 1` marks a slim record: the answer's body was
 * not kept in Redis (the user's byte budget was spent); a replay reads it from the fence.
 */
export type IdempotencyRecord =
  | { s: 'inflight'; t: string; f: string }
  | { s: 'done'; f: string; status: number; body: string | null; location: string | null; x?: 1 };

export type ClaimResult = { claimed: true } | { claimed: false; record: IdempotencyRecord };

/**
 * Our in-flight record, byte for byte: the claim stores it, and completing or releasing the claim
 * compares the stored value with it (its token is ours alone), so no script decodes JSON.
 */
const inflightRecord = (token: string, fingerprint: string) =>
  JSON.stringify({ s: 'inflight', t: token, f: fingerprint } satisfies IdempotencyRecord);

/** release: deletes the record only if it is still our in-flight claim. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`;

/**
 * complete, within the user's byte budget (docs/isolation.md): replaces our in-flight record
 * with the answer. A lapsed lease (no record) is filled too: the write has committed, so the
 * answer is the truth. Someone else's record is left alone.
 *
 * KEYS[2] counts the bytes of the records this user stored since the counter started; it lives
 * as long as the longest record (24 h) from its creation, so at most `budget` bytes are stored
 * per window and at most twice that is alive at once. Over the budget the record is stored slim
 * (no body); if even that doesn't fit, nothing is stored and our claim is removed: the database
 * fence answers repeats. The counter is added to first and given back when that went over (the
 * rare case), so an answer within the budget costs GET, INCRBY and SET (EXPIRE once a window).
 */
const COMPLETE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
local budget = tonumber(ARGV[5])
local rec = ARGV[2]
local cost = #rec + #KEYS[1]
local used = redis.call('INCRBY', KEYS[2], cost)
if used == cost then redis.call('EXPIRE', KEYS[2], ARGV[6]) end
if used > budget then
  rec = ARGV[3]
  local slim = #rec + #KEYS[1]
  used = redis.call('INCRBY', KEYS[2], slim - cost)
  if used > budget then
    redis.call('DECRBY', KEYS[2], slim)
    if cur then redis.call('DEL', KEYS[1]) end
    return 2
  end
end
redis.call('SET', KEYS[1], rec, 'PX', ARGV[4])
return 1
`;

const RELEASE_COMMAND = 'notesIdempotencyRelease';
const COMPLETE_COMMAND = 'notesIdempotencyComplete';
export const idempotencyBytesKey = (userId: string) => `idem-bytes:${userId}`;

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

export const idempotencyRedisKey = (userId: string, keyHash: string) => `idem:${userId}:${keyHash}`;

export class IdempotencyStore {
  private readonly guard: RedisGuard;

  constructor(guard: RedisGuard) {
    this.guard = guard;
    const { redis } = guard;
    // defineCommand runs EVALSHA and falls back to EVAL after a Redis restart (NOSCRIPT).
    if (!(RELEASE_COMMAND in redis)) redis.defineCommand(RELEASE_COMMAND, { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    if (!(COMPLETE_COMMAND in redis)) redis.defineCommand(COMPLETE_COMMAND, { numberOfKeys: 2, lua: COMPLETE_SCRIPT });
  }

  private script(name: string, ...args: (string | number)[]): Promise<unknown> {
    return this.guard.run((redis) => (redis as unknown as Record<string, ScriptFn>)[name]!(...args));
  }

  /**
   * Get-or-set in one command, atomic (a SET NX followed by a GET would race): sets our in-flight
   * record with a lease and answers claimed, or answers the record already there. SET with both
   * NX and GET needs Redis 7.0. Throws RedisUnavailableError when Redis cannot be asked.
   */
  async claim(key: string, fingerprint: string, token: string, leaseMs: number): Promise<ClaimResult> {
    const raw = (await this.guard.run((redis) =>
      redis.call('SET', key, inflightRecord(token, fingerprint), 'NX', 'GET', 'PX', leaseMs),
    )) as string | null;
    if (raw === null) return { claimed: true };
    return { claimed: false, record: JSON.parse(raw) as IdempotencyRecord };
  }

  /**
   * Replaces our in-flight claim (or a lapsed one) with the answer, within the user's byte budget
   * (`budget` bytes per `windowSeconds`); someone else's claim is left alone.
   */
  async complete(
    key: string,
    userId: string,
    token: string,
    record: Extract<IdempotencyRecord, { s: 'done' }>,
    ttlMs: number,
    budget: { bytes: number; windowSeconds: number },
  ): Promise<void> {
    const slim: IdempotencyRecord = { ...record, body: null, x: 1 };
    await this.script(
      COMPLETE_COMMAND,
      key,
      idempotencyBytesKey(userId),
      inflightRecord(token, record.f),
      JSON.stringify(record),
      JSON.stringify(slim),
      ttlMs,
      budget.bytes,
      budget.windowSeconds,
    );
  }

  /** Removes a record whatever it holds (a slim one whose fence is gone). */
  async drop(key: string): Promise<void> {
    await this.guard.run((redis) => redis.del(key));
  }

  /** Replaces whatever is there with a settled record (the database fence has the truth). */
  async overwrite(key: string, record: IdempotencyRecord, ttlMs: number): Promise<void> {
    await this.guard.run((redis) => redis.set(key, JSON.stringify(record), 'PX', ttlMs));
  }

  async release(key: string, fingerprint: string, token: string): Promise<void> {
    await this.script(RELEASE_COMMAND, key, inflightRecord(token, fingerprint));
  }
}
