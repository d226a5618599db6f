import type { Redis } from 'ioredis';
import { RedisGuard } from './redis-guard.ts';

/**
 * Read cache for a user's notes: single notes (`GET /api/notes/:id`) and the first page of the
 * default list. Everything of a user hangs off a generation counter:
 *
 * - a read takes the generation and the entry in one MULTI; an entry counts only if it was
 *   filled at the current generation (and is younger than ENTRY_MAX_AGE_MS);
 * - a miss remembers the generation it saw BEFORE querying the database and fills at that
 *   generation, so a fill that raced a write lands at a dead generation and is never served;
 * - every write for the user, after its commit, bumps the generation (and drops the entries).
 *
 * Redis failing never fails a request: reads go to the database. An invalidation that could not
 * reach Redis is retried before this process serves from the cache again; ENTRY_MAX_AGE_MS bounds
 * what another process could serve meanwhile.
 */
export const ENTRY_MAX_AGE_MS = 60_000;
const GENERATION_TTL_SECONDS = 7 * 24 * 60 * 60;

const genKey = (userId: string) => `nc:${userId}:gen`;
const entriesKey = (userId: string) => `nc:${userId}:entries`;

export const noteField = (noteId: string) => `note:${noteId}`;
export const DEFAULT_LIST_FIELD = 'list:default';

/** A hit, or a miss that says at which generation to fill (null: do not fill). */
export type CacheRead<T> = { hit: true; value: T } | { hit: false; generation: string | null };

interface Entry {
  g: string;
  at: number;
  v: unknown;
}

const caches = new WeakMap<Redis, NoteCache>();

export class NoteCache {
  private readonly guard: RedisGuard;
  /** Users whose invalidation did not reach Redis; nothing is served from the cache until it does. */
  private readonly pending = new Set<string>();

  private constructor(redis: Redis) {
    this.guard = RedisGuard.for(redis);
    redis.on('ready', () => void this.flushPending());
  }

  /** One cache per Redis client, so the routes and the pipeline's callbacks share the pending set. */
  static for(redis: Redis): NoteCache {
    let cache = caches.get(redis);
    if (!cache) {
      cache = new NoteCache(redis);
      caches.set(redis, cache);
    }
    return cache;
  }

  async read<T>(userId: string, field: string): Promise<CacheRead<T>> {
    try {
      if (this.pending.size > 0 && !(await this.flushPending())) return { hit: false, generation: null };
      const replies = await this.guard.run((r) => r.multi().get(genKey(userId)).hget(entriesKey(userId), field).exec());
      const [[genErr, gen], [entryErr, raw]] = replies as [
        [Error | null, string | null],
        [Error | null, string | null],
      ];
      if (genErr || entryErr) return { hit: false, generation: null };
      const generation = gen ?? '0';
      if (raw) {
        const entry = JSON.parse(raw) as Entry;
        if (entry.g === generation && Date.now() - entry.at < ENTRY_MAX_AGE_MS)
          return { hit: true, value: entry.v as T };
      }
      return { hit: false, generation };
    } catch {
      return { hit: false, generation: null };
    }
  }

  async fill(userId: string, field: string, generation: string | null, value: unknown): Promise<void> {
    if (generation === null) return;
    const entry: Entry = { g: generation, at: Date.now(), v: value };
    await this.guard
      .run((r) =>
        r
          .multi()
          .hset(entriesKey(userId), field, JSON.stringify(entry))
          .pexpire(entriesKey(userId), ENTRY_MAX_AGE_MS)
          .exec(),
      )
      .catch(() => {});
  }

  /** Call after every committed change to a user's notes. Never throws. */
  async invalidate(userId: string): Promise<void> {
    if (!(await this.bump(userId))) this.pending.add(userId);
  }

  private async bump(userId: string): Promise<boolean> {
    try {
      const replies = await this.guard.run((r) =>
        r.multi().incr(genKey(userId)).expire(genKey(userId), GENERATION_TTL_SECONDS).del(entriesKey(userId)).exec(),
      );
      return (replies ?? []).every(([err]) => !err);
    } catch {
      return false;
    }
  }

  /** True when nothing is pending any more. */
  private async flushPending(): Promise<boolean> {
    for (const userId of [...this.pending]) {
      if (!(await this.bump(userId))) return false;
      this.pending.delete(userId);
    }
    return true;
  }
}

/**
 * For the pipeline (recorded results, status changes) and any other writer of notes: call after
 * the commit. Never throws; a Redis outage is handled as described above.
 */
export function invalidateUserCache(redis: Redis, userId: string): Promise<void> {
  return NoteCache.for(redis).invalidate(userId);
}
