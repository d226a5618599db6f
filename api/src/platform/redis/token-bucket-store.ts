import type { RedisGuard } from './redis-guard.ts';

/**
 * A token bucket in Redis, shared by every API instance (docs/isolation.md). @fastify/rate-limit's
 * own Redis store is a fixed window, which lets a client send twice its limit across a window
 * edge and cannot express "rate R with bursts of B". This store implements the bucket as GCRA
 * (the generic cell rate algorithm): one key per bucket holding the theoretical arrival time,
 * updated by one Lua script, so concurrent requests on any instance never overspend it. Redis's
 * own clock is used, so instances with skewed clocks agree.
 *
 * It plugs into @fastify/rate-limit as a custom store: `max` is the burst, `timeWindow` the time
 * a full bucket takes to refill (burst / rate). `incr` reports `current` as the tokens in use
 * (over `max` means refused) and `ttl` as the milliseconds until the next token when refused,
 * or until the bucket is full again when allowed.
 */
const SCRIPT = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
local allow_at = next_tat - burst * interval
if allow_at > now then
  return {burst + 1, math.ceil((allow_at - now) / 1000)}
end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
local left = math.floor((now - allow_at) / interval)
return {burst - left, math.ceil((next_tat - now) / 1000)}
`;

const COMMAND = 'notesTokenBucket';

type ScriptFn = (key: string, interval: number, burst: number) => Promise<[number, number]>;

export interface BucketState {
  /** Tokens in use after this request; above `max` means the request was refused. */
  current: number;
  /** Refused: ms until a token frees up. Allowed: ms until the bucket is full again. */
  ttl: number;
}

type Callback = (err: Error | null, res: BucketState | null) => void;

export class TokenBucketStore {
  readonly #guard: RedisGuard;

  constructor(
    guard: RedisGuard,
    private readonly prefix = 'rl:',
  ) {
    this.#guard = guard;
    const { redis } = guard;
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: SCRIPT });
  }

  /**
   * Takes one token. `timeWindow` is the full refill time in ms and `max` the burst, so the
   * interval between tokens is timeWindow / max. Fails (RedisUnavailableError) when Redis can't
   * be asked; the caller decides what that means.
   */
  incr(key: string, cb: Callback, timeWindow: number, max: number): void {
    // In microseconds (Redis's TIME has them): a rate above 1,000/s still has a whole interval.
    const interval = Math.max(1, Math.round((timeWindow * 1000) / Math.max(1, max)));
    this.#guard
      .run((redis) => (redis as unknown as Record<string, ScriptFn>)[COMMAND]!(this.prefix + key, interval, max))
      .then(
        ([current, ttl]) => cb(null, { current: Number(current), ttl: Number(ttl) }),
        (err: Error) => cb(err, null),
      );
  }

  /** @fastify/rate-limit gives each route-level limit a child store; ours are keyed by the caller. */
  child(routeOptions: { routeInfo?: { method?: string; url?: string } }): TokenBucketStore {
    const route = routeOptions.routeInfo?.url ? `${routeOptions.routeInfo.method}${routeOptions.routeInfo.url}:` : '';
    return new TokenBucketStore(this.#guard, `${this.prefix}${route}`);
  }
}
