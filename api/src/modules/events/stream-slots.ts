import type { RedisGuard } from '../../platform/redis/redis-guard.ts';

/**
 * Live event streams per user, counted across every API instance (docs/isolation.md). Each
 * user has a sorted set of open streams scored by their lease's end; a stream renews its lease
 * while it lives and removes itself when it ends. An instance that dies without saying goodbye
 * leaves leases that lapse within LEASE_MS, so its slots come back on their own.
 *
 * acquire: drop lapsed leases, then add ours only if fewer than `max` remain: one script, so two
 * instances racing for the last slot can't both get it.
 */
const SCRIPT = `
local op = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if op == 'acquire' then
  local lease = tonumber(ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
  redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], lease)
  return 1
end
if op == 'renew' then
  local lease = tonumber(ARGV[3])
  local kept = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + lease, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], lease)
  return kept
end
if op == 'release' then
  return redis.call('ZREM', KEYS[1], ARGV[2])
end
return redis.error_reply('unknown stream-slot op ' .. tostring(op))
`;

const COMMAND = 'notesStreamSlots';
/** How long a slot outlives its last renewal. Streams renew at every heartbeat (well inside it). */
export const LEASE_MS = 45_000;

type ScriptFn = (key: string, ...args: (string | number)[]) => Promise<number>;

export const streamSlotsKey = (userId: string) => `sse:${userId}`;

export class StreamSlots {
  readonly #guard: RedisGuard;

  constructor(
    guard: RedisGuard,
    private readonly max: number,
    private readonly leaseMs = LEASE_MS,
  ) {
    this.#guard = guard;
    const { redis } = guard;
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: SCRIPT });
  }

  #call(userId: string, ...args: (string | number)[]): Promise<number> {
    return this.#guard.run((redis) =>
      (redis as unknown as Record<string, ScriptFn>)[COMMAND]!(streamSlotsKey(userId), ...args),
    );
  }

  /** True when the stream got a slot. Throws RedisUnavailableError when Redis can't be asked. */
  async acquire(userId: string, streamId: string): Promise<boolean> {
    return (await this.#call(userId, 'acquire', streamId, this.leaseMs, this.max)) === 1;
  }

  /** False when the lease had lapsed and someone else may hold the slot now. */
  async renew(userId: string, streamId: string): Promise<boolean> {
    return (await this.#call(userId, 'renew', streamId, this.leaseMs)) === 1;
  }

  async release(userId: string, streamId: string): Promise<void> {
    await this.#call(userId, 'release', streamId);
  }
}
