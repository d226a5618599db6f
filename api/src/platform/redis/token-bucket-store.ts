import type { RedisGuard } from './redis-guard.ts';
import { type Bucket, type Grant, TokenLeases } from './token-leases.ts';

/**
 * A token bucket in Redis, shared by every API instance (docs/isolation.md). @fastify/rate-limit's
 * own Redis store is a fixed window, which lets a client send twice its limit across a window
 * edge and cannot express "rate R with bursts of B". This store implements the bucket as GCRA
 * (the generic cell rate algorithm): one key per bucket holding the theoretical arrival time,
 * updated by one Lua script, so concurrent requests on any instance never overspend it. Redis's
 * own clock is used, so instances with skewed clocks agree.
 *
 * The script takes up to `want` tokens at once: the store leases them and spends them locally
 * (token-leases.ts), so a busy bucket costs one Redis call per lease, not one per request.
 *
 * It plugs into @fastify/rate-limit as a custom store: `max` is the burst, `timeWindow` the time
 * a full bucket takes to refill (burst / rate). `incr` reports `current` as the tokens in use
 * (over `max` means refused) and `ttl` as the milliseconds until the next token when refused,
 * or until the bucket is full again when allowed.
 */
const SCRIPT = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local free = burst - math.ceil((tat - now) / interval)
local granted = math.min(want, free)
if granted < 1 then
  return {0, tat - now, tat - (burst - 1) * interval - now}
end
tat = tat + granted * interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
local wait = 0
if granted == free then wait = tat - (burst - 1) * interval - now end
return {granted, tat - now, wait}
`;

const COMMAND = 'notesTokenBucket';

type ScriptFn = (key: string, interval: number, burst: number, want: number) => Promise<[number, number, number]>;

export interface BucketState {
  /** Tokens in use after this request; above `max` means the request was refused. */
  current: number;
  /** Refused: ms until a token frees up. Allowed: ms until the bucket is full again. */
  ttl: number;
}

type Callback = (err: Error | null, res: BucketState | null) => void;

export class TokenBucketStore {
  readonly #guard: RedisGuard;
  readonly #leases: TokenLeases;

  constructor(
    guard: RedisGuard,
    private readonly prefix = 'rl:',
    /** The most tokens one lease takes; 1 (no leases): every request asks Redis. */
    private readonly leaseTokens = 1,
  ) {
    this.#guard = guard;
    const { redis } = guard;
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: SCRIPT });
    this.#leases = new TokenLeases((key, want, bucket) => this.#take(key, want, bucket), leaseTokens);
  }

  /**
   * Takes one token. `timeWindow` is the full refill time in ms and `max` the burst, so the
   * interval between tokens is timeWindow / max. Fails (RedisUnavailableError) when Redis can't
   * be asked; the caller decides what that means.
   */
  incr(key: string, cb: Callback, timeWindow: number, max: number): void {
    // In microseconds (Redis's TIME has them): a rate above 1,000/s still has a whole interval.
    const bucket = { burst: max, intervalUs: Math.max(1, Math.round((timeWindow * 1000) / Math.max(1, max))) };
    this.#leases.take(this.prefix + key, bucket).then(
      (taken) => cb(null, { current: taken.allowed ? max - taken.remaining : max + 1, ttl: taken.ttlMs }),
      (err: Error) => cb(err, null),
    );
  }

  /**
   * @fastify/rate-limit gives each limiter a child store; ours are keyed by the caller, and a
   * limiter created with `leaseTokens` leases that many tokens at a time (token-leases.ts).
   */
  child(options: { routeInfo?: { method?: string; url?: string }; leaseTokens?: number }): TokenBucketStore {
    const route = options.routeInfo?.url ? `${options.routeInfo.method}${options.routeInfo.url}:` : '';
    return new TokenBucketStore(this.#guard, `${this.prefix}${route}`, options.leaseTokens ?? this.leaseTokens);
  }

  async #take(key: string, want: number, bucket: Bucket): Promise<Grant> {
    const [granted, debtUs, waitUs] = await this.#guard.run((redis) =>
      (redis as unknown as Record<string, ScriptFn>)[COMMAND]!(key, bucket.intervalUs, bucket.burst, want),
    );
    return { granted: Number(granted), debtUs: Number(debtUs), waitUs: Number(waitUs) };
  }
}
