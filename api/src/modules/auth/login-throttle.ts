import { createHash, randomUUID } from 'node:crypto';
import { normalizeEmail } from '@notes/contracts';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Login throttle (docs/security.md): per account (the normalised email) AND client address,
 * after `limit` failed logins within `windowMs`, further attempts are refused until the oldest
 * failure in the window ages out; and per client address across all accounts, after
 * `addressLimit` failures, so one address can't spray guesses over many accounts. A success
 * clears only its account+address window, never the address's budget (else an attacker would
 * reset it by logging in to an account of their own between guesses). The failures are a sliding window of timestamps (a sorted set per email+address),
 * so Retry-After is exact: the seconds until a slot frees.
 *
 * Redis holds the window so every API instance sees the same count, and it decides whenever it
 * answers. Each instance also records its own failures in memory, and that copy decides when
 * Redis can't answer. Why: with Redis down, failing open would hand an attacker unlimited
 * guesses for as long as the outage lasts, and failing closed would lock every user out of
 * login; the local window keeps the limit holding on this instance (with N instances an
 * attacker gets at most N × limit guesses), and because it is recorded all along it already
 * knows the failures from just before the outage. Its cost: a success on another instance
 * doesn't clear it, so during an outage it can be stricter than the shared window was.
 */

export interface LoginThrottleOptions {
  limit?: number;
  /** Failures one address may have within the window across all accounts. Default 50. */
  addressLimit?: number;
  windowMs?: number;
  /** Most email+address windows kept in memory; the oldest is dropped beyond it. */
  maxLocalKeys?: number;
  now?: () => number;
  logger?: Pick<Logger, 'warn'>;
}

export type ThrottleVerdict = { blocked: false } | { blocked: true; retryAfterSeconds: number };

/**
 * One atomic step on the window: drop what aged out, optionally record a failure (keeping at
 * most `limit` entries), and answer the count and the oldest timestamp still inside.
 * KEYS[1] window; ARGV: now, windowMs, limit, record (1/0), member.
 */
const WINDOW_SCRIPT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(limit + 1))
  redis.call('PEXPIRE', KEYS[1], window)
end
local n = redis.call('ZCARD', KEYS[1])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {n, oldest[2] or '0'}
`;

type WindowRedis = Redis & {
  loginWindow(
    key: string,
    now: number,
    windowMs: number,
    limit: number,
    record: 0 | 1,
    member: string,
  ): Promise<[number, string]>;
};

export class LoginThrottle {
  readonly limit: number;
  readonly addressLimit: number;
  readonly windowMs: number;
  private readonly maxLocalKeys: number;
  private readonly now: () => number;
  private readonly logger: Pick<Logger, 'warn'> | undefined;
  private readonly redis: WindowRedis;
  /** Failure timestamps per key, oldest first (Map order = least recently touched first). */
  private readonly local = new Map<string, number[]>();
  private lastWarnAt = 0;

  constructor(redis: Redis, options: LoginThrottleOptions = {}) {
    this.limit = options.limit ?? 10;
    this.addressLimit = options.addressLimit ?? 50;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.maxLocalKeys = options.maxLocalKeys ?? 100_000;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    if (!('loginWindow' in redis)) redis.defineCommand('loginWindow', { numberOfKeys: 1, lua: WINDOW_SCRIPT });
    this.redis = redis as WindowRedis;
  }

  /** Whether this account (a normalised email) may try to log in from this address now. */
  async check(email: string, address: string): Promise<ThrottleVerdict> {
    const now = this.now();
    const windows = this.windowsOf(email, address);
    const verdicts = await Promise.all(
      windows.map(async ({ key, limit }) => {
        const shared = await this.sharedWindow(key, now, false, limit);
        return this.verdict(now, shared ?? this.localWindow(key, now, false, limit), limit);
      }),
    );
    const blocked = verdicts.filter((v) => v.blocked);
    if (!blocked.length) return { blocked: false };
    return { blocked: true, retryAfterSeconds: Math.max(...blocked.map((v) => v.retryAfterSeconds)) };
  }

  async recordFailure(email: string, address: string): Promise<void> {
    const now = this.now();
    await Promise.all(
      this.windowsOf(email, address).map(async ({ key, limit }) => {
        this.localWindow(key, now, true, limit);
        await this.sharedWindow(key, now, true, limit);
      }),
    );
  }

  /** A successful login forgets that account+address's failures (not the address's budget). */
  async clear(email: string, address: string): Promise<void> {
    const key = accountKey(email, address);
    this.local.delete(key);
    try {
      await this.redis.del(key);
    } catch (err) {
      this.warnRedisDown(err);
    }
  }

  private windowsOf(email: string, address: string) {
    return [
      { key: accountKey(email, address), limit: this.limit },
      { key: addressKey(address), limit: this.addressLimit },
    ];
  }

  /** Blocked while the window is full; a slot frees when its oldest failure ages out. */
  private verdict(
    now: number,
    window: { count: number; oldest: number },
    limit: number,
  ): { blocked: false } | { blocked: true; retryAfterSeconds: number } {
    const freeAt = window.oldest + this.windowMs;
    if (window.count < limit || freeAt <= now) return { blocked: false };
    return { blocked: true, retryAfterSeconds: Math.max(1, Math.ceil((freeAt - now) / 1000)) };
  }

  /** null when Redis can't answer: the local window decides alone. */
  private async sharedWindow(key: string, now: number, record: boolean, limit: number) {
    try {
      const [count, oldest] = await this.redis.loginWindow(
        key,
        now,
        this.windowMs,
        limit,
        record ? 1 : 0,
        `${now}:${randomUUID()}`,
      );
      return { count: Number(count), oldest: Number(oldest) };
    } catch (err) {
      this.warnRedisDown(err);
      return null;
    }
  }

  private localWindow(key: string, now: number, record: boolean, limit: number) {
    const kept = (this.local.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (record) kept.push(now);
    while (kept.length > limit) kept.shift();
    this.local.delete(key); // re-inserted below, so Map order tracks recency
    if (kept.length) {
      this.local.set(key, kept);
      if (this.local.size > this.maxLocalKeys) {
        const first = this.local.keys().next();
        if (!first.done) this.local.delete(first.value);
      }
    }
    return { count: kept.length, oldest: kept[0] ?? 0 };
  }

  /** One warning a minute, not one per login, while Redis is down. */
  private warnRedisDown(err: unknown) {
    const now = this.now();
    if (now - this.lastWarnAt < 60_000) return;
    this.lastWarnAt = now;
    this.logger?.warn({ err }, 'login throttle: redis unavailable, counting failures in this process only');
  }
}

/**
 * Hashed so keys have a fixed length and hold no email address in clear. The email is
 * normalised here as well as by the caller: every spelling of one account is one window.
 */
function accountKey(email: string, address: string): string {
  const digest = createHash('sha256')
    .update(`${normalizeEmail(email)}\n${address}`)
    .digest('hex');
  return `login-failures:${digest}`;
}

function addressKey(address: string): string {
  return `login-failures:address:${createHash('sha256').update(address).digest('hex')}`;
}
