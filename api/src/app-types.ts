import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AmqpConnection, Config } from '@notes/contracts';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EventPublisher } from './modules/events/events.ts';
import type { NoteCache } from './modules/notes/note-cache.ts';
import type { Database } from './platform/db/client.ts';
import type { ApiMetrics } from './platform/metrics.ts';
import type { RedisGuard } from './platform/redis/redis-guard.ts';
import type { LiveEventRelay } from './workers/live-event-relay.ts';
import type { OutboxRelay } from './workers/outbox-relay.ts';

/*
 * The app's types, apart from app.ts: routes, plugins, services and the error handler need them,
 * and app.ts imports those modules to build the app, so taking the types from app.ts would close
 * an import cycle (docs/architecture.md, "Dependency rules").
 */

/** Everything the app needs from outside, built by main.ts (or a test) and closed by it. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  database: Database;
  /** Fail-fast Redis for request paths (see platform/redis/redis.ts). */
  redis: Redis;
  /** The outage breaker every request-path Redis user shares (platform/redis/redis-guard.ts). */
  redisGuard: RedisGuard;
  /** The users' cached note reads, dropped after every write to a user's notes. */
  noteCache: NoteCache;
  amqp: AmqpConnection;
  /** Live events for SSE (modules/events/events.ts). */
  events: EventPublisher;
  /** Publishes the outbox; services nudge it after a commit that wrote outbox rows. */
  outbox: OutboxRelay;
  /** Publishes the outbox's live events; services nudge it after a commit that wrote one. */
  liveEvents: LiveEventRelay;
  /** Prometheus metrics (served at /metrics). */
  metrics: ApiMetrics;
}

/** The app as route plugins see it: TypeBox schemas type the handlers. */
export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;
