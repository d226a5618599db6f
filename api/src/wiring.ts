import { AmqpConnection, type Config, type RecordOutcome } from '@notes/contracts';
import type { RecordResult } from '@notes/contracts/callbacks';
import type { App, AppDeps } from './app-types.ts';
import { AdminService } from './modules/admin/admin-service.ts';
import { AuthService } from './modules/auth/auth-service.ts';
import { LoginThrottle } from './modules/auth/login-throttle.ts';
import { FailureActions } from './modules/dlq/failure-actions.ts';
import { FailureInbox } from './modules/dlq/failure-inbox.ts';
import { countLetters } from './modules/dlq/failure-inbox-repository.ts';
import { EventPublisher } from './modules/events/events.ts';
import { StreamSlots } from './modules/events/stream-slots.ts';
import { IdempotencyService } from './modules/idempotency/idempotency.ts';
import { IdempotencyStore } from './modules/idempotency/idempotency-store.ts';
import { JobCallbacks } from './modules/jobs/job-callbacks.ts';
import { JobOperations } from './modules/jobs/job-operations.ts';
import { NoteCache } from './modules/notes/note-cache.ts';
import { NotesService } from './modules/notes/notes-service.ts';
import { WebhooksService } from './modules/webhooks/webhooks-service.ts';
import { createDatabase } from './platform/db/client.ts';
import { ServiceUnavailableError } from './platform/errors/index.ts';
import { createLogger } from './platform/logger.ts';
import { createApiMetrics } from './platform/metrics.ts';
import { connectRedis, createRedis } from './platform/redis/redis.ts';
import { RedisGuard } from './platform/redis/redis-guard.ts';
import { DlqDrainer } from './workers/dlq-drainer.ts';
import { LiveEventRelay } from './workers/live-event-relay.ts';
import { startMaintenance } from './workers/maintenance.ts';
import { OutboxRelay } from './workers/outbox-relay.ts';

/*
 * The one place that builds the API (docs/architecture.md): clients, shared helpers and workers
 * in createDeps, the services in createServices. Nothing else constructs a service; routes get
 * the ones they use from routes.ts.
 */

export type Wired = AppDeps & {
  /** Starts the background workers that only the API process runs: the DLQ drainer, then maintenance. */
  startWorkers(): void;
  /** Stops the workers in reverse (maintenance, drainer, live events, relay), then closes the clients. */
  close(): Promise<void>;
};

/**
 * Builds the API's clients in dependency order and starts the relays (outbox, then live events),
 * which every write nudges; `startWorkers()` adds the DLQ drainer and maintenance (main.ts).
 * Used by main.ts and by the integration tests, so both run the same wiring.
 */
export async function createDeps(config: Config): Promise<Wired> {
  const logger = createLogger(config, 'api');
  const database = createDatabase(config);
  const redis = createRedis(config);
  await connectRedis(redis).catch((err) => logger.warn({ err }, 'redis not reachable at start; continuing'));
  // One guard and one note cache per client: everything on the request path shares them.
  const redisGuard = new RedisGuard(redis);
  const noteCache = new NoteCache(redisGuard);
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
    noteCache,
  });
  metrics.setFailureInboxProbe(() => countLetters(database.db));
  amqp.start();
  outbox.start();
  liveEvents.start();

  const deps: AppDeps = {
    config,
    logger,
    database,
    redis,
    redisGuard,
    noteCache,
    amqp,
    events,
    outbox,
    liveEvents,
    metrics,
  };
  let workers: { stop(): Promise<void> }[] = [];
  return {
    ...deps,
    startWorkers() {
      if (workers.length > 0) return;
      // notes.dlq is only the transport: dead messages live in the failure inbox (docs/jobs.md).
      const drainer = new DlqDrainer(deps);
      drainer.start();
      workers = [drainer, startMaintenance(deps)];
    },
    async close() {
      for (const worker of workers.reverse()) await worker.stop();
      workers = [];
      await liveEvents.stop();
      await outbox.stop();
      await amqp.stop();
      redis.disconnect();
      await database.close();
    },
  };
}

/** The metric's closed set is coarser than the answer: gone or settled jobs count as stale or duplicate. */
const METRIC_OUTCOME: Record<RecordResult, RecordOutcome> = {
  processed: 'processed',
  failed: 'failed',
  dead: 'dead',
  stale: 'stale',
  deleted: 'stale',
  unknown: 'stale',
  duplicate: 'duplicate',
  finished: 'duplicate',
};

/** Every service, built once per app with what it uses; routes.ts hands each route plugin its own. */
export interface Services {
  notes: NotesService;
  auth: AuthService;
  webhooks: WebhooksService;
  streamSlots: StreamSlots;
  jobCallbacks: JobCallbacks;
  jobOperations: JobOperations;
  admin: AdminService;
  failures: FailureActions;
}

/**
 * Builds the services once the auth plugin is on `app` (the auth and admin services sign tokens
 * and drop a user's cached state through it).
 */
export function createServices(deps: AppDeps, app: App): Services {
  const { config, database, logger, metrics, amqp } = deps;
  const idempotency = new IdempotencyService({
    config,
    database,
    logger,
    metrics,
    store: new IdempotencyStore(deps.redisGuard),
  });
  const notes = new NotesService({ ...deps, idempotency, cache: deps.noteCache });
  const auth = new AuthService({
    database,
    throttle: new LoginThrottle(deps.redis, { logger }),
    signToken: app.signToken,
    forgetUser: app.forgetUserState,
    tokenTtlSeconds: config.auth.jwtExpiresInSeconds,
  });
  const webhooks = new WebhooksService({ database, config });
  const streamSlots = new StreamSlots(deps.redisGuard, config.limits.sseMaxStreamsPerUser);
  const jobCallbacks = new JobCallbacks({
    database,
    logger,
    liveEvents: deps.liveEvents,
    outbox: deps.outbox,
    invalidateNotes: (userId) => deps.noteCache.invalidate(userId),
    onRecorded: (job, outcome) =>
      metrics.jobsRecorded.inc({ kind: job.kind, priority: job.priority, outcome: METRIC_OUTCOME[outcome] }),
    onEnqueued: (job, count) => metrics.jobsEnqueued.inc(job, count),
  });
  const jobOperations = new JobOperations({ config, database, logger, connection: () => amqp.connection });
  const connection = () => {
    const conn = amqp.connection;
    if (!conn) throw new ServiceUnavailableError('RabbitMQ is not connected; try again in a moment.');
    return conn;
  };
  const inbox = new FailureInbox({ config, database, logger, connection });
  const admin = new AdminService({
    config,
    database,
    amqp,
    logger,
    inbox,
    forgetUserState: (id) => app.forgetUserState(id),
  });
  const failures = new FailureActions(inbox);
  return { notes, auth, webhooks, streamSlots, jobCallbacks, jobOperations, admin, failures };
}
