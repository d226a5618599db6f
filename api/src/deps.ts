import { AmqpConnection, type Config } from '@notes/contracts';
import type { AppDeps } from './app-types.ts';
import { createDatabase } from './db/client.ts';
import { createLogger } from './logger.ts';
import { createApiMetrics } from './metrics.ts';
import { connectRedis, createRedis } from './plugins/external/redis.ts';
import { countLetters } from './repositories/failure-inbox-repository.ts';
import { EventPublisher } from './services/events.ts';
import { LiveEventRelay } from './services/live-event-relay.ts';
import { invalidateUserCache } from './services/note-cache.ts';
import { OutboxRelay } from './services/outbox-relay.ts';

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
