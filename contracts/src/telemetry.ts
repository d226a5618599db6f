import { register } from 'node:module';
import type { Instrumentation } from '@opentelemetry/instrumentation';
// Only the config module: the package index would load amqplib and ioredis before the hook below
// is installed, and a library loaded before it is never instrumented.
import { type Config, loadConfig } from './config.ts';
import { shutdownTelemetry, TELEMETRY_KEY } from './trace-context.ts';

/**
 * OpenTelemetry tracing for a process, started from a preload file (api/src/telemetry.ts,
 * consumers/src/telemetry.ts) given to node with `--import`, BEFORE the entry file:
 *
 *   node --import tsx --import ./src/telemetry.ts src/main.ts
 *
 * In ESM, imports are hoisted, so starting the SDK inside main.ts instruments nothing. Tracing is
 * on only when OTEL_EXPORTER_OTLP_ENDPOINT is set (read through loadConfig); then spans go over
 * OTLP/HTTP to `<endpoint>/v1/traces`. The SDK itself reads the standard OTEL_* tuning variables
 * (OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf by default, http/json; OTEL_TRACES_SAMPLER; …).
 * Only traces are exported: metrics are prom-client's (/metrics), logs go to stdout for Alloy.
 */
export interface TelemetryOptions {
  /** `service.name` in Tempo: `notes-api`, `notes-consumers`. */
  serviceName: string;
  /**
   * Extra instrumentations (the API adds @fastify/otel). Pass a factory for one that hooks in as
   * soon as it is constructed: it is then built (and its package loaded) only when tracing is on,
   * and costs nothing off.
   */
  instrumentations?: Instrumentation[] | (() => Instrumentation[] | Promise<Instrumentation[]>);
  /** Exact URL paths whose server spans are dropped (scrapes and liveness probes are noise). */
  ignorePaths?: readonly string[];
}

export interface Telemetry {
  /** Flushes buffered spans and stops the SDK; idempotent. */
  shutdown(): Promise<void>;
}

/** The process's one SDK, so main.ts can flush it last on shutdown (shutdownTelemetry). */
let active: Telemetry | null = null;

/**
 * Starts tracing when configured; answers null (and installs nothing) when it is off. The SDK
 * and the instrumentation bundle are loaded only when it is on: loaded and unused they were
 * 60 MB of every process's memory (a consumer at rest: 101 MB with them, 41 MB without). The
 * preload awaits it, so the app is imported only after the SDK has started.
 */
export async function startTelemetry(
  options: TelemetryOptions,
  config: Config | null = loadConfigOrNull(),
): Promise<Telemetry | null> {
  if (active) return active;
  if (!config?.otlpEndpoint) return null;
  // The import-in-the-middle loader hook lets instrumentations patch ESM imports of the
  // libraries (see @opentelemetry/instrumentation's ESM notes). It must be in place before the app is imported.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const [{ getNodeAutoInstrumentations }, { NodeSDK, resources }] = await Promise.all([
    import('@opentelemetry/auto-instrumentations-node'),
    import('@opentelemetry/sdk-node'),
  ]);
  const extra =
    typeof options.instrumentations === 'function'
      ? await options.instrumentations()
      : (options.instrumentations ?? []);

  const ignored = new Set(options.ignorePaths ?? []);
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    // Explicit detectors: the cloud ones probe metadata endpoints over the network at start-up.
    resourceDetectors: [resources.envDetector, resources.hostDetector, resources.osDetector, resources.processDetector],
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      getNodeAutoInstrumentations({
        // Only what this system uses; the rest of the bundle stays off (and costs nothing).
        ...disableAllBut([
          '@opentelemetry/instrumentation-http',
          '@opentelemetry/instrumentation-undici',
          '@opentelemetry/instrumentation-mysql2',
          '@opentelemetry/instrumentation-ioredis',
          '@opentelemetry/instrumentation-amqplib',
          '@opentelemetry/instrumentation-pino',
        ]),
        '@opentelemetry/instrumentation-http': {
          ignoreIncomingRequestHook: (req) => ignored.has((req.url ?? '').split('?')[0] ?? ''),
        },
        // pino: add trace_id/span_id to each log line; don't also ship logs over OTLP.
        '@opentelemetry/instrumentation-pino': { disableLogSending: true },
      }),
      ...extra,
    ],
  });
  sdk.start();

  let stopping: Promise<void> | null = null;
  active = {
    shutdown() {
      stopping ??= sdk.shutdown().catch(() => {});
      return stopping;
    },
  };
  // Published for shutdownTelemetry() (trace-context.ts), which main.ts imports without loading
  // the SDK. A natural exit flushes too; a signal exit relies on main.ts calling it.
  (globalThis as Record<symbol, unknown>)[TELEMETRY_KEY] = active;
  process.once('beforeExit', () => void active?.shutdown());
  return active;
}

export { shutdownTelemetry };

/** Config errors are reported by main.ts (with the process's own message); tracing just stays off. */
function loadConfigOrNull(): Config | null {
  try {
    return loadConfig();
  } catch {
    return null;
  }
}

const BUNDLE = [
  '@opentelemetry/instrumentation-amqplib',
  '@opentelemetry/instrumentation-aws-lambda',
  '@opentelemetry/instrumentation-aws-sdk',
  '@opentelemetry/instrumentation-bunyan',
  '@opentelemetry/instrumentation-cassandra-driver',
  '@opentelemetry/instrumentation-connect',
  '@opentelemetry/instrumentation-cucumber',
  '@opentelemetry/instrumentation-dataloader',
  '@opentelemetry/instrumentation-dns',
  '@opentelemetry/instrumentation-express',
  '@opentelemetry/instrumentation-fs',
  '@opentelemetry/instrumentation-generic-pool',
  '@opentelemetry/instrumentation-graphql',
  '@opentelemetry/instrumentation-grpc',
  '@opentelemetry/instrumentation-hapi',
  '@opentelemetry/instrumentation-host-metrics',
  '@opentelemetry/instrumentation-http',
  '@opentelemetry/instrumentation-ioredis',
  '@opentelemetry/instrumentation-kafkajs',
  '@opentelemetry/instrumentation-knex',
  '@opentelemetry/instrumentation-koa',
  '@opentelemetry/instrumentation-lru-memoizer',
  '@opentelemetry/instrumentation-memcached',
  '@opentelemetry/instrumentation-mongodb',
  '@opentelemetry/instrumentation-mongoose',
  '@opentelemetry/instrumentation-mysql',
  '@opentelemetry/instrumentation-mysql2',
  '@opentelemetry/instrumentation-nestjs-core',
  '@opentelemetry/instrumentation-net',
  '@opentelemetry/instrumentation-openai',
  '@opentelemetry/instrumentation-oracledb',
  '@opentelemetry/instrumentation-pg',
  '@opentelemetry/instrumentation-pino',
  '@opentelemetry/instrumentation-redis',
  '@opentelemetry/instrumentation-restify',
  '@opentelemetry/instrumentation-router',
  '@opentelemetry/instrumentation-runtime-node',
  '@opentelemetry/instrumentation-socket.io',
  '@opentelemetry/instrumentation-tedious',
  '@opentelemetry/instrumentation-undici',
  '@opentelemetry/instrumentation-winston',
] as const;

function disableAllBut(keep: readonly string[]) {
  return Object.fromEntries(BUNDLE.filter((name) => !keep.includes(name)).map((name) => [name, { enabled: false }]));
}
