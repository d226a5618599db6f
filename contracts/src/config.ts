import { type Static, Type } from '@sinclair/typebox';
import { envSchema } from 'env-schema';
import { QUORUM_DELIVERY_LIMIT, type QueueType } from './quorum-topology.ts';

/**
 * The only reader of the environment. Every process (api, consumers, scripts) calls
 * `loadConfig()` once at start-up and passes the frozen result down.
 */
const B64_KEY = '[A-Za-z0-9_-]{43}';

const Env = Type.Object({
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
type Env = Static<typeof Env>;

export type { QueueType };

const DEV_JWT_SECRET = 'dev-only-secret-change-me-dev-only-secret';
/**
 * The development service key pair: committed, so accepted only where JWT_SECRET's development
 * default is (a loopback HOST outside production). service-token.test.ts checks they match.
 */
export const DEV_SERVICE_PRIVATE_KEY = 'vNvIv2IaDk81F0oS-ub_jhSDFLzUjvcwght3syfs_sg';
export const DEV_SERVICE_PUBLIC_KEY = 'csBttq4ReIe2KL2rIrFyuipA2BU_MTaOpaxvBhlMEgE';

/**
 * Which process is loading: the API (and `npm start`, which runs it) must not sign or accept
 * tokens with committed development keys where strangers can reach it; consumers must not
 * run in production with the development service key (the API would refuse every callback).
 */
export type Component = 'api' | 'consumers' | 'script';

/** Every variable loadConfig reads, with its default: docs/configuration.md lists each one (a test checks). */
export const CONFIG_VARIABLES: readonly { name: string; default: unknown }[] = Object.freeze(
  Object.entries(Env.properties).map(([name, schema]) =>
    Object.freeze({ name, default: (schema as { default?: unknown }).default }),
  ),
);

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

export class ConfigError extends Error {
  override name = 'ConfigError';
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

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * The development defaults are committed to the repository, so anyone can sign with them: they
 * are refused wherever a stranger could reach the API, whatever NODE_ENV says (docs/security.md).
 */
function checkSecrets(e: Env, component: Component): void {
  const exposed = e.NODE_ENV === 'production' || !isLoopbackHost(e.HOST);
  const why = e.NODE_ENV === 'production' ? 'NODE_ENV=production' : `HOST=${e.HOST} is not a loopback address`;
  if (component === 'api') {
    const missing = [
      e.JWT_SECRET ? null : 'JWT_SECRET (32+ random characters)',
      e.SERVICE_PUBLIC_KEYS ? null : 'SERVICE_PUBLIC_KEYS (`npm run service-key` makes a pair)',
    ].filter((m) => m !== null);
    if (exposed && missing.length) {
      throw new ConfigError(`invalid configuration: ${missing.join(' and ')} required: ${why}`);
    }
  }
  if (component === 'consumers' && e.NODE_ENV === 'production' && !e.SERVICE_PRIVATE_KEY) {
    throw new ConfigError(
      'invalid configuration: SERVICE_PRIVATE_KEY is required when NODE_ENV=production (`npm run service-key` makes a pair)',
    );
  }
}

/** `TRUST_PROXY` as Fastify's trustProxy takes it (see the schema's comment). */
function parseTrustProxy(value: string): boolean | number | string[] {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of list) {
    if (!/^[0-9a-f.:]+(\/\d{1,3})?$/.test(item)) {
      throw new ConfigError(`invalid configuration: TRUST_PROXY: ${item} is not an address or CIDR range`);
    }
  }
  return list;
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
