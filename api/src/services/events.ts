import { NOTE_EVENT_TYPES, type NoteEventType } from '@notes/contracts';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

// The event types are a wire format: contracts holds them.
export { NOTE_EVENT_TYPES, type NoteEventType };

/** Events kept per user for `Last-Event-ID` resumption (contract: ≥ 1,000 or 1 hour). */
export const EVENT_RETENTION_COUNT = 1000;
export const EVENT_RETENTION_SECONDS = 3600;

/** The Redis stream holding one user's events (the client adds the key prefix). */
export const eventStreamKey = (userId: string) => `events:${userId}`;

/**
 * The stream's TTL is refreshed at most this often per user and process, not on every event;
 * the TTL is longer by as much, so a stream still lives at least EVENT_RETENTION_SECONDS after
 * its last event.
 */
const EXPIRE_REFRESH_MS = 60_000;
const STREAM_TTL_SECONDS = EVENT_RETENTION_SECONDS + EXPIRE_REFRESH_MS / 1000;
const REFRESHED_MAX = 10_000;

/**
 * Publishes a user's live events into a Redis stream per user, so any API instance can serve any
 * user's SSE connection and a reconnect resumes from the stream id. Publishing happens after the
 * write has committed and never fails it: a Redis outage costs live events, not writes.
 */
export class EventPublisher {
  /** When each user's stream TTL was last set by this process. */
  readonly #refreshed = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
  ) {}

  /** `json`: `data` already serialised, if the caller has it (a write's answer is the same note). */
  async publish(userId: string, type: NoteEventType, data: unknown, json?: string): Promise<void> {
    const key = eventStreamKey(userId);
    try {
      const add = this.redis.xadd(
        key,
        'MAXLEN',
        '~',
        String(EVENT_RETENTION_COUNT),
        '*',
        'type',
        type,
        'data',
        json ?? JSON.stringify(data),
      );
      // Sent right after the XADD (same pipeline), so a new stream gets its TTL at once.
      await Promise.all([add, this.#refreshTtl(key, userId)]);
    } catch (err) {
      this.#refreshed.delete(userId);
      this.logger.warn({ err, type, user_id: userId }, 'live event not published (redis unavailable)');
    }
  }

  async #refreshTtl(key: string, userId: string): Promise<void> {
    const now = Date.now();
    if (now - (this.#refreshed.get(userId) ?? 0) < EXPIRE_REFRESH_MS) return;
    if (this.#refreshed.size >= REFRESHED_MAX) this.#refreshed.clear();
    this.#refreshed.set(userId, now);
    await this.redis.expire(key, STREAM_TTL_SECONDS);
  }
}
