import { envSchema } from 'env-schema';
import { type Component, ConfigError, checkSecrets, parseTrustProxy } from './config-checks.ts';
import { Env } from './config-env.ts';
import { QUORUM_DELIVERY_LIMIT, type QueueType } from './quorum-topology.ts';

export { type Component, ConfigError, isLoopbackHost } from './config-checks.ts';
export { CONFIG_VARIABLES } from './config-env.ts';

/**
 * The only reader of the environment. Every process (api, consumers, scripts) calls
 * `loadConfig()` once at start-up and passes the frozen result down. The variables' schema is
 * config-env.ts; the checks across variables are config-checks.ts.
 */

export type { QueueType };

const DEV_JWT_SECRET = 'dev-only-secret-change-me-dev-only-secret';
/**
 * The development service key pair: committed, so accepted only where JWT_SECRET's development
 * default is (a loopback HOST outside production). service-token.test.ts checks they match.
 */
export const DEV_SERVICE_PRIVATE_KEY = 'vNvIv2IaDk81F0oS-ub_jhSDFLzUjvcwght3syfs_sg';
export const DEV_SERVICE_PUBLIC_KEY = 'csBttq4ReIe2KL2rIrFyuipA2BU_MTaOpaxvBhlMEgE';

export interface Config {
  env: Env['NODE_ENV'];
  logLevel: Env['LOG_LEVEL'];
  database: { url: string; name: string; serverUrl: string; poolSize: number; callbackPoolSize: number };
  redis: { url: string; keyPrefix: string };
  /** `url` is the first node; `urls` every node named (a cluster's). */
  amqp: { url: string; urls: readonly string[]; queueType: QueueType };
  http: { host: string; port: number };
  /** V8 heap flags the API process is started with (scripts/start.ts, the API image). */
  apiSemiSpaceMb: number;
  consumer: { port: number; prefetch: number; processes: number; maxDeliveries: number; apiUrl: string };
  auth: { jwtSecret: string; jwtExpiresInSeconds: number; usingDevSecret: boolean };
  /** Ed25519 keys of the service identity (base64url); the development pair when unset. */
  service: {
    privateKey: string;
    publicKeys: readonly string[];
    /** SERVICE_PRIVATE_KEY unset: signing with the development key. */
    signsWithDevKey: boolean;
    /** SERVICE_PUBLIC_KEYS unset: accepting the development key. */
    acceptsDevKey: boolean;
  };
  admin: { email: string; password: string; promoteExisting: boolean } | null;
  /** Bearer token `/metrics` requires; null: served to loopback clients only. */
  metricsToken: string | null;
  retryDelaysMs: readonly number[];
  /** Attempts a job gets in all: one per retry delay plus the first. */
  maxAttempts: number;
  idempotencyWindowSeconds: number;
  webhook: { timeoutMs: number; allowPrivateNetworks: boolean; maxInFlight: number; concurrency: number };
  shutdownTimeoutMs: number;
  otlpEndpoint: string | null;
  traceUrlTemplate: string | null;
  outboxPollMs: number;
  retentionHours: number;
  /** docs/jobs.md, "Retention". */
  jobRetentionHours: number;
  deadRetentionDays: number;
  /** Per-user and per-address limits (docs/isolation.md). A rate of 0 turns that limit off. */
  limits: {
    userWriteRate: number;
    userWriteBurst: number;
    authAddressRatePerMinute: number;
    authAddressBurst: number;
    sseMaxStreamsPerUser: number;
    passwordHashQueue: number;
    eventStreamMaxBytes: number;
    idempotencyMaxBytesPerUser: number;
  };
  /** Fastify's `trustProxy`: which forwarded addresses count as the client's. */
  trustProxy: boolean | number | string[];
}

/**
 * Validates the environment and returns a frozen config. Throws a ConfigError whose message
 * names every bad variable.
 */
export function loadConfig(
  source: Record<string, string | undefined> = process.env,
  options: { component?: Component } = {},
): Config {
  const env: Record<string, string> = {};
  for (const key of Object.keys(Env.properties)) {
    const value = source[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  let e: Env;
  try {
    e = envSchema<Env>({ schema: Env, data: env, dotenv: false, ajv: undefined });
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message.replaceAll('env/', '')}`);
  }
  checkSecrets(e, options.component ?? 'script');
  if ((e.ADMIN_EMAIL === undefined) !== (e.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('invalid configuration: ADMIN_EMAIL and ADMIN_PASSWORD must be set together');
  }
  if (e.QUEUE_TYPE === 'quorum' && e.MAX_DELIVERIES > QUORUM_DELIVERY_LIMIT - 2) {
    throw new ConfigError(
      `invalid configuration: MAX_DELIVERIES must be at most ${QUORUM_DELIVERY_LIMIT - 2} with QUEUE_TYPE=quorum (the broker's own limit is ${QUORUM_DELIVERY_LIMIT})`,
    );
  }
  if ((e.API_SEMI_SPACE_MB & (e.API_SEMI_SPACE_MB - 1)) !== 0) {
    throw new ConfigError('invalid configuration: API_SEMI_SPACE_MB must be a power of two (1, 2, 4, …, 64)');
  }
  const dbUrl = new URL(e.DATABASE_URL);
  const name = dbUrl.pathname.slice(1);
  const server = new URL(e.DATABASE_URL);
  server.pathname = '/';
  const retryDelaysMs = Object.freeze(e.RETRY_DELAYS_MS.split(',').map(Number));
  const amqpUrls = e.AMQP_URL.split(',').map((u) => u.trim());

  return deepFreeze({
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    database: {
      url: e.DATABASE_URL,
      name,
      serverUrl: server.toString(),
      poolSize: e.DB_POOL_SIZE,
      callbackPoolSize: e.DB_CALLBACK_POOL_SIZE,
    },
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX },
    amqp: { url: amqpUrls[0] as string, urls: amqpUrls, queueType: e.QUEUE_TYPE },
    http: { host: e.HOST, port: e.PORT },
    apiSemiSpaceMb: e.API_SEMI_SPACE_MB,
    consumer: {
      port: e.CONSUMER_PORT,
      prefetch: e.CONSUMER_PREFETCH,
      processes: e.CONSUMER_PROCESSES,
      maxDeliveries: e.MAX_DELIVERIES,
      apiUrl: e.API_URL.replace(/\/+$/, ''),
    },
    auth: {
      jwtSecret: e.JWT_SECRET ?? DEV_JWT_SECRET,
      jwtExpiresInSeconds: e.JWT_EXPIRES_IN_SECONDS,
      usingDevSecret: e.JWT_SECRET === undefined,
    },
    service: {
      privateKey: e.SERVICE_PRIVATE_KEY ?? DEV_SERVICE_PRIVATE_KEY,
      publicKeys: e.SERVICE_PUBLIC_KEYS ? e.SERVICE_PUBLIC_KEYS.split(',') : [DEV_SERVICE_PUBLIC_KEY],
      signsWithDevKey: e.SERVICE_PRIVATE_KEY === undefined,
      acceptsDevKey: e.SERVICE_PUBLIC_KEYS === undefined,
    },
    admin:
      e.ADMIN_EMAIL && e.ADMIN_PASSWORD
        ? { email: e.ADMIN_EMAIL, password: e.ADMIN_PASSWORD, promoteExisting: e.ADMIN_PROMOTE_EXISTING }
        : null,
    metricsToken: e.METRICS_TOKEN ?? null,
    retryDelaysMs,
    maxAttempts: retryDelaysMs.length + 1,
    idempotencyWindowSeconds: e.IDEMPOTENCY_WINDOW_SECONDS,
    webhook: {
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      allowPrivateNetworks: e.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
      maxInFlight: e.WEBHOOK_MAX_IN_FLIGHT,
      concurrency: e.WEBHOOK_CONCURRENCY,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT ?? null,
    traceUrlTemplate: e.TRACE_URL_TEMPLATE ?? null,
    outboxPollMs: e.OUTBOX_POLL_MS,
    retentionHours: e.RETENTION_HOURS,
    jobRetentionHours: e.JOB_RETENTION_HOURS,
    deadRetentionDays: e.DEAD_RETENTION_DAYS,
    limits: {
      userWriteRate: e.USER_WRITE_RATE,
      userWriteBurst: e.USER_WRITE_BURST,
      authAddressRatePerMinute: e.AUTH_ADDRESS_RATE_PER_MINUTE,
      authAddressBurst: e.AUTH_ADDRESS_BURST,
      sseMaxStreamsPerUser: e.SSE_MAX_STREAMS_PER_USER,
      passwordHashQueue: e.PASSWORD_HASH_QUEUE,
      eventStreamMaxBytes: e.EVENT_STREAM_MAX_BYTES,
      idempotencyMaxBytesPerUser: e.IDEMPOTENCY_MAX_BYTES_PER_USER,
    },
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * For a process's entry point: the config, or the ConfigError's message on stderr and exit 1
 * (a bad value stops the process naming the variable, docs/configuration.md).
 */
export function loadConfigOrExit(
  source: Record<string, string | undefined> = process.env,
  options: { component?: Component } = {},
): Config {
  try {
    return loadConfig(source, options);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
