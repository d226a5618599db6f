import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { Config } from '@notes/contracts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { TooManyRequestsError } from '../errors/index.ts';
import type { RedisGuard } from '../redis/redis-guard.ts';
import { TokenBucketStore } from '../redis/token-bucket-store.ts';

/**
 * Request-rate limits (docs/isolation.md, "Limits and their defaults"):
 * - per user, on writes: `USER_WRITE_RATE` per second with bursts of `USER_WRITE_BURST`;
 * - per client address, on registration and on login, each its own bucket:
 *   `AUTH_ADDRESS_RATE_PER_MINUTE` with bursts of `AUTH_ADDRESS_BURST`.
 *
 * @fastify/rate-limit supplies the plumbing (key generation, IPv6 /64 grouping of addresses);
 * the buckets are ours (platform/redis/token-bucket-store.ts), in Redis so every API instance shares
 * them. Answers carry the IETF httpapi-ratelimit-headers fields `RateLimit-Policy` and
 * `RateLimit`; over the limit, 429 problem+json with `Retry-After`.
 *
 * Fail-open: when Redis can't be asked, the request goes ahead unlimited (and a warning is
 * logged at most every 10 s). A Redis outage already limits what a write may do (idempotency),
 * and refusing every write because the limiter is blind would turn a cache outage into a full
 * one.
 */

type Limiter = (request: FastifyRequest) => Promise<{
  isAllowed: boolean;
  remaining?: number;
  ttl?: number;
  isExceeded?: boolean;
}>;

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook for a route plugin whose writes count against the caller's write rate (after auth). */
    limitUserWrites: Hook;
    /** onRequest hook limiting one route per client address (`register`, `login`). */
    limitPerAddress: (route: 'register' | 'login') => Hook;
  }
}

interface Policy {
  name: string;
  /** Tokens in a full bucket. */
  burst: number;
  /** Milliseconds for an empty bucket to fill. */
  windowMs: number;
  /** The most tokens an instance leases from the bucket at once (platform/redis/token-leases.ts). */
  leaseTokens: number;
}

const WARN_EVERY_MS = 10_000;
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Per-user write buckets are leased (docs/isolation.md, "Per-user write rate"): an instance takes
 * up to a quarter of the burst at once and spends it locally, so Redis is asked about once per
 * lease instead of once per write. Per-address buckets are not: they are asked rarely (each
 * request hashes a password), and exactly as before.
 */
const WRITE_LEASE_SHARE = 0.25;

/** A bucket, or null when the limit is off (a rate or burst of 0). */
function policy(name: string, perSecond: number, burst: number, leaseTokens = 1): Policy | null {
  if (perSecond <= 0 || burst <= 0) return null;
  return { name, burst, windowMs: (burst / perSecond) * 1000, leaseTokens };
}

export default fp(
  async function rateLimit(app: FastifyInstance, opts: { config: Config; guard: RedisGuard; logger: Logger }) {
    const { limits } = opts.config;
    const { guard } = opts;
    await app.register(fastifyRateLimit, {
      global: false,
      // The plugin constructs its store itself; ours keeps its buckets under `rl:`.
      store: class extends TokenBucketStore {
        constructor() {
          super(guard, 'rl:');
        }
      } as never,
    });

    let lastWarn = 0;
    const failOpen = (err: unknown) => {
      if (Date.now() - lastWarn < WARN_EVERY_MS) return;
      lastWarn = Date.now();
      opts.logger.warn({ err }, 'rate limiter unavailable (redis); requests go ahead unlimited');
    };

    const hook = (p: Policy | null, key: (request: FastifyRequest) => string, detail: string): Hook => {
      if (!p) return async () => {};
      const limiter = app.createRateLimit({
        max: p.burst,
        timeWindow: p.windowMs,
        keyGenerator: key,
        // Passed through to the store's child for this limiter (TokenBucketStore.child).
        leaseTokens: p.leaseTokens,
      } as Parameters<FastifyInstance['createRateLimit']>[0]) as unknown as Limiter;
      const policyHeader = `"${p.name}";q=${p.burst};w=${Math.max(1, Math.ceil(p.windowMs / 1000))}`;
      return async (request, reply) => {
        let result: Awaited<ReturnType<Limiter>>;
        try {
          result = await limiter(request);
        } catch (err) {
          failOpen(err);
          return;
        }
        if (result.isAllowed) return;
        const seconds = Math.max(0, Math.ceil((result.ttl ?? 0) / 1000));
        reply.header('ratelimit-policy', policyHeader);
        reply.header('ratelimit', `"${p.name}";r=${result.remaining ?? 0};t=${seconds}`);
        if (result.isExceeded) throw new TooManyRequestsError((result.ttl ?? 1000) / 1000, detail);
      };
    };

    const userWrites = hook(
      policy(
        'writes',
        limits.userWriteRate,
        limits.userWriteBurst,
        Math.max(1, Math.floor(limits.userWriteBurst * WRITE_LEASE_SHARE)),
      ),
      (request) => `w:${request.user.id}`,
      `Too many writes: at most ${limits.userWriteRate} per second per user, in bursts of ${limits.userWriteBurst}.`,
    );
    app.decorate('limitUserWrites', async (request: FastifyRequest, reply: FastifyReply) => {
      if (READ_METHODS.has(request.method)) return;
      await userWrites(request, reply);
    });

    const perAddress = policy('address', limits.authAddressRatePerMinute / 60, limits.authAddressBurst);
    const addressHooks = {
      register: hook(
        perAddress,
        (request) => `register:${normalizeIP(request.ip)}`,
        'Too many registrations from this address.',
      ),
      login: hook(perAddress, (request) => `login:${normalizeIP(request.ip)}`, 'Too many logins from this address.'),
    };
    app.decorate('limitPerAddress', (route: 'register' | 'login') => addressHooks[route]);
  },
  { name: 'rate-limit' },
);
