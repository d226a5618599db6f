import { AmqpConnection, type Config } from '@notes/contracts';
import type { AppDeps } from './app-types.ts';
import { countLetters } from './modules/dlq/failure-inbox-repository.ts';
import { EventPublisher } from './modules/events/events.ts';
import { invalidateUserCache } from './modules/notes/note-cache.ts';
import { createDatabase } from './platform/db/client.ts';
import { createLogger } from './platform/logger.ts';
import { createApiMetrics } from './platform/metrics.ts';
import { connectRedis, createRedis } from './platform/redis/redis.ts';
import { LiveEventRelay } from './workers/live-event-relay.ts';
import { OutboxRelay } from './workers/outbox-relay.ts';

/**
 * Builds the API's clients in dependency order; `close()` closes them in reverse. Used by
 * main.ts and by the integration tests, so both run the same wiring.
 */
export async function createDeps(config: Config): Promise<AppDeps & { close(): Promise<void> }> {
  const logger = createLogger(config, 'api');
  const database = createDatabase(config);
  const redis = createRedis(config);
  await connectRedis(redis).catch((err) => logger.warn({ err }, 'redis not reachable at start; continuing'));
  const amqp = new AmqpConnection(config.amqp.urls, { name: 'notes-api', logger });
  const events = new EventPublisher(redis, logger, config.limits.eventStreamMaxBytes);
  const metrics = createApiMetrics();
  const outbox = new OutboxRelay(
    { config, database, amqp, logger },
    {
      onBatch: ({ published, failed, durationSeconds }) => {
        metrics.outboxPublished.inc(published);
        metrics.outboxPublishFailures.inc(failed);
        metrics.outboxPublishDuration.observe(durationSeconds);
      },
    },
  );
  metrics.setOutboxProbe(() => outbox.state());
  const liveEvents = new LiveEventRelay({
    config,
    database,
    events,
    logger,
    invalidateNotes: (userId) => invalidateUserCache(redis, userId),
  });
  metrics.setFailureInboxProbe(() => countLetters(database.db));
  amqp.start();
  outbox.start();
  liveEvents.start();
  return {
    config,
    logger,
    database,
    redis,
    amqp,
    events,
    outbox,
    liveEvents,
    metrics,
    async close() {
      await liveEvents.stop();
      await outbox.stop();
      await amqp.stop();
      redis.disconnect();
      await database.close();
    },
  };
}
