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

export type ClaimResult = { claimed: true } | { claimed: false; record: IdempotencyRecord; ttlMs: number };

/**
 * One script, three operations, each atomic:
 * - claim: get-or-set. Returns the existing record and its remaining TTL, or sets an in-flight
 *   record with our token and a lease and returns nothing. (A SET NX followed by a GET races.)
 * - complete: replaces our in-flight record with the response. A lapsed lease (no record) is
 *   filled too: the write has committed, so the response is the truth. Someone else's token is
 *   left alone.
 * - release: deletes the record only if it is still our in-flight claim.
 */
const SCRIPT = `
local cur = redis.call('GET', KEYS[1])
local op = ARGV[1]
if op == 'claim' then
  if cur then return {cur, redis.call('PTTL', KEYS[1])} end
  redis.call('SET', KEYS[1], cjson.encode({s = 'inflight', t = ARGV[2], f = ARGV[3]}), 'PX', ARGV[4])
  return {}
end
local mine = false
if cur then
  local ok, rec = pcall(cjson.decode, cur)
  mine = ok and type(rec) == 'table' and rec.s == 'inflight' and rec.t == ARGV[2]
end
if op == 'complete' then
  if mine or not cur then
    redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
    return 1
  end
  return 0
end
if op == 'release' then
  if mine then redis.call('DEL', KEYS[1]) return 1 end
  return 0
end
return redis.error_reply('unknown idempotency op ' .. tostring(op))
`;

/**
 * complete, within the user's byte budget (docs/isolation.md): KEYS[2] counts the bytes of the
 * records this user stored since the counter started; it lives as long as the longest record
 * (24 h), so at most `budget` bytes are stored per window and at most twice that is alive at
 * once. Over the budget the record is stored slim (no body); if even that doesn't fit, nothing
 * is stored and our claim is removed: the database fence answers repeats.
 */
const COMPLETE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
local mine = false
if cur then
  local ok, rec = pcall(cjson.decode, cur)
  mine = ok and type(rec) == 'table' and rec.s == 'inflight' and rec.t == ARGV[1]
end
if cur and not mine then return 0 end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
local budget = tonumber(ARGV[5])
local rec = ARGV[2]
if used + #rec + #KEYS[1] > budget then rec = ARGV[3] end
local cost = #rec + #KEYS[1]
if used + cost > budget then
  if mine then redis.call('DEL', KEYS[1]) end
  return 2
end
redis.call('SET', KEYS[1], rec, 'PX', ARGV[4])
if not redis.call('SET', KEYS[2], cost, 'NX', 'EX', ARGV[6]) then redis.call('INCRBY', KEYS[2], cost) end
return 1
`;

const COMMAND = 'notesIdempotency';
const COMPLETE_COMMAND = 'notesIdempotencyComplete';
export const idempotencyBytesKey = (userId: string) => `idem-bytes:${userId}`;

type ScriptFn = (key: string, ...args: (string | number)[]) => Promise<unknown>;

export const idempotencyRedisKey = (userId: string, keyHash: string) => `idem:${userId}:${keyHash}`;

export class IdempotencyStore {
  private readonly guard: RedisGuard;

  constructor(guard: RedisGuard) {
    this.guard = guard;
    const { redis } = guard;
    // defineCommand runs EVALSHA and falls back to EVAL after a Redis restart (NOSCRIPT).
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: SCRIPT });
    if (!(COMPLETE_COMMAND in redis)) redis.defineCommand(COMPLETE_COMMAND, { numberOfKeys: 2, lua: COMPLETE_SCRIPT });
  }

  private call(key: string, ...args: (string | number)[]): Promise<unknown> {
    return this.guard.run((redis) => (redis as unknown as Record<string, ScriptFn>)[COMMAND]!(key, ...args));
  }

  /** Throws RedisUnavailableError when Redis cannot be asked. */
  async claim(key: string, fingerprint: string, token: string, leaseMs: number): Promise<ClaimResult> {
    const reply = (await this.call(key, 'claim', token, fingerprint, leaseMs)) as [string, number] | [];
    if (reply.length === 0) return { claimed: true };
    const [raw, ttlMs] = reply;
    return { claimed: false, record: JSON.parse(raw) as IdempotencyRecord, ttlMs: Number(ttlMs) };
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
    await this.guard.run((redis) =>
      (redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>)[COMPLETE_COMMAND]!(
        key,
        idempotencyBytesKey(userId),
        token,
        JSON.stringify(record),
        JSON.stringify(slim),
        ttlMs,
        budget.bytes,
        budget.windowSeconds,
      ),
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

  async release(key: string, token: string): Promise<void> {
    await this.call(key, 'release', token);
  }
}
