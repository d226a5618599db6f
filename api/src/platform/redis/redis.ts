import type { Config } from '@notes/contracts';
import { Redis } from 'ioredis';

/**
 * Redis for request paths: fail fast instead of queueing while disconnected, so a Redis outage
 * costs a request about a second at most (docs/guarantees.md), never a hang.
 */
export function createRedis(config: Config, name = 'api'): Redis {
  const redis = new Redis(config.redis.url, {
    keyPrefix: config.redis.keyPrefix,
    connectionName: `notes-${name}`,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // A hung Redis costs a request this long once, then the guard skips Redis (redis-guard.ts).
    // 250 ms was too tight on a busy 2-core machine: Redis, starved of CPU for a moment, answered
    // late, was taken for an outage, and unkeyed writes got 503s (`npm run soak`).
    commandTimeout: 500,
    connectTimeout: 1000,
    lazyConnect: true,
    // Commands issued in the same event-loop turn (many requests' claims, records, cache bumps
    // and events) go out as one write and come back in one read: far fewer syscalls under load.
    enableAutoPipelining: true,
    // Keep trying to reconnect in the background, at most every 2 s.
    retryStrategy: (times) => Math.min(100 * 2 ** times, 2000),
  });
  // Errors surface on the commands; an unhandled 'error' event would only add noise.
  redis.on('error', () => {});
  return redis;
}

/** Connects if reachable; a Redis that is down at start-up is not fatal once we are running. */
export async function connectRedis(redis: Redis): Promise<void> {
  if (redis.status === 'wait') await redis.connect();
}
