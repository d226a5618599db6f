import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export const NOTE_EVENT_TYPES = [
  'note.created',
  'note.updated',
  'note.deleted',
  'note.processed',
  'note.dead',
] as const;
export type NoteEventType = (typeof NOTE_EVENT_TYPES)[number];

/** Events kept per user for `Last-Event-ID` resumption (contract: ≥ 1,000 or 1 hour). */
export const EVENT_RETENTION_COUNT = 1000;
export const EVENT_RETENTION_SECONDS = 3600;

/** The Redis stream holding one user's events (the client adds the key prefix). */
export const eventStreamKey = (userId: string) => `events:${userId}`;

/**
 * Publishes a user's live events into a Redis stream per user, so any API instance can serve any
 * user's SSE connection and a reconnect resumes from the stream id. Publishing happens after the
 * write has committed and never fails it: a Redis outage costs live events, not writes.
 */
export class EventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
  ) {}

  async publish(userId: string, type: NoteEventType, data: unknown): Promise<void> {
    const key = eventStreamKey(userId);
    try {
      await this.redis
        .multi()
        .xadd(key, 'MAXLEN', '~', String(EVENT_RETENTION_COUNT), '*', 'type', type, 'data', JSON.stringify(data))
        .expire(key, EVENT_RETENTION_SECONDS)
        .exec();
    } catch (err) {
      this.logger.warn({ err, type, user_id: userId }, 'live event not published (redis unavailable)');
    }
  }
}
