import type { RedisGuard } from '../../platform/redis/redis-guard.ts';

/**
 * Read cache for a user's notes: single notes (`GET /api/notes/:id`) and the first page of the
 * default list. Everything of a user hangs off a generation counter:
 *
 * - a read takes the generation, then the entry (in that order, in one pipelined round trip); an
 *   entry counts only if it was filled at the generation read (and is younger than
 *   ENTRY_MAX_AGE_MS). A read that began before a write answered may see the old note; one that
 *   begins after it reads the new generation and misses;
 * - a miss remembers the generation it saw BEFORE querying the database and fills at that
 *   generation, so a fill that raced a write lands at a dead generation and is never served;
 * - every write for the user, after its commit, sets a new generation: one command, no MULTI.
 *   Entries of older generations are never served and expire with the hash.
 *
 * Redis failing never fails a request: reads go to the database. An invalidation that could not
 * reach Redis is retried before this process serves from the cache again; ENTRY_MAX_AGE_MS bounds
 * what another process could serve meanwhile.
 */
export const ENTRY_MAX_AGE_MS = 60_000;
const GENERATION_TTL_SECONDS = 7 * 24 * 60 * 60;

const genKey = (userId: string) => `nc:${userId}:gen`;
/** Generations only need to differ: a per-process prefix and a counter, never reused. */
const GEN_PREFIX = `${process.pid.toString(36)}.${Math.random().toString(36).slice(2, 8)}.`;
let genSeq = 0;
const entriesKey = (userId: string) => `nc:${userId}:entries`;

export const noteField = (noteId: string) => `note:${noteId}`;
export const DEFAULT_LIST_FIELD = 'list:default';

/** `SET key value EX ttlSeconds`: a user's new generation. */
export interface GenerationSet {
  key: string;
  value: string;
  ttlSeconds: number;
}

/** A hit, or a miss that says at which generation to fill (null: do not fill). */
export type CacheRead<T> = { hit: true; value: T } | { hit: false; generation: string | null };

interface Entry {
  g: string;
  at: number;
  v: unknown;
}

export class NoteCache {
  private readonly guard: RedisGuard;
  /** Users whose invalidation did not reach Redis; nothing is served from the cache until it does. */
  private readonly pending = new Set<string>();

  /** One per Redis client (wiring.ts), so the routes and the pipeline's callbacks share the pending set. */
  constructor(guard: RedisGuard) {
    this.guard = guard;
    guard.redis.on('ready', () => void this.flushPending());
  }

  async read<T>(userId: string, field: string): Promise<CacheRead<T>> {
    try {
      if (this.pending.size > 0 && !(await this.flushPending())) return { hit: false, generation: null };
      const [gen, raw] = await this.guard.run((r) =>
        Promise.all([r.get(genKey(userId)), r.hget(entriesKey(userId), field)]),
      );
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
        Promise.all([
          r.hset(entriesKey(userId), field, JSON.stringify(entry)),
          r.pexpire(entriesKey(userId), ENTRY_MAX_AGE_MS),
        ]),
      )
      .catch(() => {});
  }

  /** Call after every committed change to a user's notes. Never throws. */
  async invalidate(userId: string): Promise<void> {
    if (!(await this.bump(userId))) this.pending.add(userId);
  }

  /**
   * The invalidation as a SET for a caller to send inside a script of its own (the live-event
   * relay sends it with the user's events, so it lands before them). Call `invalidate` instead
   * when that script could not run.
   */
  nextGeneration(userId: string): GenerationSet {
    return { key: genKey(userId), value: `${GEN_PREFIX}${++genSeq}`, ttlSeconds: GENERATION_TTL_SECONDS };
  }

  private async bump(userId: string): Promise<boolean> {
    try {
      const { key, value, ttlSeconds } = this.nextGeneration(userId);
      await this.guard.run((r) => r.set(key, value, 'EX', ttlSeconds));
      return true;
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
