import { type Static, Type } from '@sinclair/typebox';

/**
 * The environment variables every process reads (docs/configuration.md lists each one): their
 * schema, defaults and limits. config.ts validates the environment against it.
 */
const B64_KEY = '[A-Za-z0-9_-]{43}';

export const Env = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  DATABASE_URL: Type.String({ pattern: '^mysql://[^/]+/[A-Za-z0-9_]+$', default: 'mysql://root@127.0.0.1:3306/notes' }),
  DB_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 16 }),
  /** The consumers' callbacks' own connections, so finishing work never queues behind writes. */
  DB_CALLBACK_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 50, default: 4 }),
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' }),
  /** Every Redis key and channel starts with this; tests give each run its own. */
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', default: 'np:' }),
  /** One node, or the nodes of a cluster separated by commas (each process fails over among them). */
  AMQP_URL: Type.String({
    pattern: '^\\s*amqps?://[^,\\s]+\\s*(,\\s*amqps?://[^,\\s]+\\s*)*$',
    default: 'amqp://guest:guest@127.0.0.1:5672',
  }),
  /** `classic` (one node's priority queue) or `quorum` (replicated; docs/scaling.md). */
  QUEUE_TYPE: Type.Union([Type.Literal('classic'), Type.Literal('quorum')], { default: 'classic' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  CONSUMER_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9464 }),
  API_URL: Type.String({ pattern: '^https?://', default: 'http://127.0.0.1:3000' }),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  JWT_EXPIRES_IN_SECONDS: Type.Integer({ minimum: 60, default: 3600 }),
  /**
   * The service identity's Ed25519 keys (docs/security.md): consumers and scripts hold the
   * private key (base64url of the 32-byte seed), the API the public keys it accepts (base64url of
   * the 32-byte key, comma-separated: two during a rotation). `npm run service-key` makes a pair.
   */
  SERVICE_PRIVATE_KEY: Type.Optional(Type.String({ pattern: `^${B64_KEY}$` })),
  SERVICE_PUBLIC_KEYS: Type.Optional(Type.String({ pattern: `^${B64_KEY}(,${B64_KEY})*$` })),
  ADMIN_EMAIL: Type.Optional(Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$' })),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 8 })),
  /** Lets ADMIN_EMAIL promote an existing non-admin account (else start-up refuses). */
  ADMIN_PROMOTE_EXISTING: Type.Boolean({ default: false }),
  /** When set, `/metrics` (API and consumers) answers only `Authorization: Bearer <token>`. */
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  RETRY_DELAYS_MS: Type.String({ pattern: '^\\d{1,9}(,\\d{1,9})*$', default: '1000,5000,30000,120000' }),
  IDEMPOTENCY_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 86400, default: 30 }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 10000 }),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: Type.Boolean({ default: false }),
  /** Deliveries one endpoint may have in flight at once in a consumer process (docs/isolation.md). */
  WEBHOOK_MAX_IN_FLIGHT: Type.Integer({ minimum: 1, maximum: 1000, default: 8 }),
  /**
   * The webhook lane's prefetch and handler concurrency in a consumer process: deliveries run on
   * their own channel, beside (never instead of) CONSUMER_PREFETCH note-processing slots.
   */
  WEBHOOK_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 64 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10000 }),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** A trace viewer's URL with `{trace_id}` in it (e.g. Grafana Explore); the console links jobs' attempts there. */
  TRACE_URL_TEMPLATE: Type.Optional(Type.String({ pattern: '^https?://.*\\{trace_id\\}' })),
  /**
   * Consumers: unacked messages held at once; also the handler concurrency and the most callbacks
   * one batch can gather (priorities need it bounded; batching needs enough in flight to keep pace
   * while the API is busy with writes).
   */
  CONSUMER_PREFETCH: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  /**
   * The API process's V8 young-generation semi-space limit in MiB (`--max-semi-space-size`, a
   * power of two): larger means fewer scavenges and more resident memory (docs/configuration.md).
   */
  API_SEMI_SPACE_MB: Type.Integer({ minimum: 1, maximum: 64, default: 16 }),
  /** How many consumer processes `npm start` runs. */
  CONSUMER_PROCESSES: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
  /** A message delivered this many times without an outcome is parked in the DLQ as poison. */
  MAX_DELIVERIES: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
  OUTBOX_POLL_MS: Type.Integer({ minimum: 10, maximum: 60000, default: 1000 }),
  /** Sent outbox rows, expired fences and processed-message keys older than this are deleted. */
  RETENTION_HOURS: Type.Integer({ minimum: 1, maximum: 8760, default: 48 }),
  /** Finished jobs (processed, skipped, discarded) and their attempts are deleted after this. */
  JOB_RETENTION_HOURS: Type.Integer({ minimum: 1, maximum: 87600, default: 168 }),
  /** Dead jobs not promoted or discarded are deleted (with their dead letters) after this. */
  DEAD_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 30 }),
  /** Writes per second per user (token bucket refill), shared by every API instance; 0: off. */
  USER_WRITE_RATE: Type.Number({ minimum: 0, maximum: 1_000_000, default: 100 }),
  /** Writes a user may make at once before the rate applies (the bucket's size). */
  USER_WRITE_BURST: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 200 }),
  /** Registrations and logins per minute per client address (each its own bucket); 0: off. */
  AUTH_ADDRESS_RATE_PER_MINUTE: Type.Number({ minimum: 0, maximum: 1_000_000, default: 60 }),
  AUTH_ADDRESS_BURST: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 60 }),
  /**
   * Which forwarded addresses count as the client's (Fastify's trustProxy): empty or `false`
   * believes the socket only; `true` every proxy; a number, that many hops; otherwise a
   * comma-separated list of proxy addresses or CIDR ranges.
   */
  TRUST_PROXY: Type.String({ pattern: '^[A-Za-z0-9.:/, ]*$', default: '' }),
  /** Live event streams one user may hold open across all API instances. */
  SSE_MAX_STREAMS_PER_USER: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
  /** Password hashes waiting for a slot before register/login answer 503 + Retry-After. */
  PASSWORD_HASH_QUEUE: Type.Integer({ minimum: 0, maximum: 100_000, default: 64 }),
  /** Bytes of live events kept per user in Redis (oldest trimmed first). */
  EVENT_STREAM_MAX_BYTES: Type.Integer({ minimum: 65_536, maximum: 1_073_741_824, default: 8_388_608 }),
  /** Bytes of idempotency records kept per user in Redis (the database fence keeps the rest). */
  IDEMPOTENCY_MAX_BYTES_PER_USER: Type.Integer({ minimum: 65_536, maximum: 1_073_741_824, default: 4_194_304 }),
});
export type Env = Static<typeof Env>;

/** Every variable loadConfig reads, with its default: docs/configuration.md lists each one (a test checks). */
export const CONFIG_VARIABLES: readonly { name: string; default: unknown }[] = Object.freeze(
  Object.entries(Env.properties).map(([name, schema]) =>
    Object.freeze({ name, default: (schema as { default?: unknown }).default }),
  ),
);
