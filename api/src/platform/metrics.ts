import {
  BUCKETS,
  IDEMPOTENCY_CONFLICTS,
  IDEMPOTENCY_MODES,
  JOB_KINDS,
  LABELS,
  METRICS,
  PRIORITIES,
  RECORD_OUTCOMES,
} from '@notes/contracts';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The API's Prometheus metrics. Each call builds a NEW registry (never prom-client's global one):
 * tests build several apps in one process and each must count on its own.
 *
 * Callers (names from contracts/src/metric-names.ts):
 *   httpRequests / httpDuration       — only platform/http/http-metrics.ts
 *   idempotentReplays.inc({mode})     — a replayed response ('key' | 'hash')
 *   idempotencyConflicts.inc({reason}) — 'payload_mismatch' (422) | 'in_flight' (409)
 *   setOutboxProbe(probe)             — outboxBacklog / outboxOldestAge, read at scrape time
 *   outboxPublishDuration.observe(seconds) / outboxPublished.inc(n) / outboxPublishFailures.inc(n)
 *                                     — the relay, per batch (OutboxRelayHooks.onBatch)
 *   cacheHits/cacheMisses.inc({cache})  — Redis fast paths, cache = a short fixed name
 *   jobsEnqueued.inc({kind, priority}) — a job + outbox row committed
 *   jobsRecorded.inc({kind, priority, outcome}) — a consumer callback recorded (RECORD_OUTCOMES)
 */
/** What the outbox holds now; `oldestAgeSeconds` is 0 when it is empty. */
export interface OutboxState {
  backlog: number;
  oldestAgeSeconds?: number;
}
export type OutboxProbe = () => Promise<number | OutboxState>;

const PROBE_TIMEOUT_MS = 2000;

export function createApiMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ [LABELS.service]: 'api' });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const httpLabels = [LABELS.method, LABELS.route, LABELS.statusCode] as const;
  // Exemplars (trace ids) link a latency bucket to its trace in Tempo; only the OpenMetrics
  // exposition carries them (renderMetrics in @notes/contracts). prom-client refuses exemplars on a
  // text-format registry at construction, so this one is registered by hand: the text format
  // simply leaves them out. With exemplars on, observe() takes {labels, value, exemplarLabels}.
  const httpDuration = new Histogram({
    name: METRICS.httpDuration,
    help: 'HTTP request duration in seconds, by method, route template and status code.',
    labelNames: httpLabels,
    buckets: [...BUCKETS.http],
    enableExemplars: true,
    registers: [],
  });
  registry.registerMetric(httpDuration);

  // The outbox is read when Prometheus scrapes (one query per scrape, shared by both gauges), so
  // the backlog is exact at scrape time whatever the relay is doing. A slow or failing probe
  // (database down) keeps the last values rather than failing the scrape.
  let outboxProbe: OutboxProbe | null = null;
  let inboxProbe: (() => Promise<number>) | null = null;
  let reading: Promise<void> | null = null;
  const readOutbox = (): Promise<void> => {
    reading ??= readOutboxOnce().finally(() => {
      reading = null;
    });
    return reading;
  };
  async function readOutboxOnce(): Promise<void> {
    if (!outboxProbe) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const state = await Promise.race([
        outboxProbe(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('outbox probe timed out')), PROBE_TIMEOUT_MS);
        }),
      ]);
      const { backlog, oldestAgeSeconds = 0 } = typeof state === 'number' ? { backlog: state } : state;
      outboxBacklog.set(backlog);
      outboxOldestAge.set(backlog === 0 ? 0 : oldestAgeSeconds);
    } catch {
      // Keep the previous values.
    } finally {
      clearTimeout(timer);
    }
  }
  const outboxBacklog = new Gauge({
    name: METRICS.outboxBacklog,
    help: 'Outbox rows not yet published, read at scrape time.',
    registers,
    collect: readOutbox,
  });
  const outboxOldestAge = new Gauge({
    name: METRICS.outboxOldestAge,
    help: 'Age in seconds of the oldest unpublished outbox row (0 when empty), read at scrape time.',
    registers,
    collect: readOutbox,
  });

  const metrics = {
    registry,
    httpRequests: new Counter({
      name: METRICS.httpRequests,
      help: 'HTTP requests answered, by method, route template and status code.',
      labelNames: httpLabels,
      registers,
    }),
    httpDuration,
    idempotentReplays: new Counter({
      name: METRICS.idempotentReplays,
      help: 'Writes answered by replaying the first response, by mode (key or hash).',
      labelNames: [LABELS.mode],
      registers,
    }),
    idempotencyConflicts: new Counter({
      name: METRICS.idempotencyConflicts,
      help: 'Idempotency-Key conflicts: payload_mismatch (422) or in_flight (409).',
      labelNames: [LABELS.reason],
      registers,
    }),
    outboxBacklog,
    outboxOldestAge,
    outboxPublishDuration: new Histogram({
      name: METRICS.outboxPublishDuration,
      help: 'Time to publish one outbox batch and receive the broker’s confirms, in seconds.',
      buckets: [...BUCKETS.publish],
      registers,
    }),
    outboxPublished: new Counter({
      name: METRICS.outboxPublished,
      help: 'Outbox rows published and confirmed by the broker.',
      registers,
    }),
    outboxPublishFailures: new Counter({
      name: METRICS.outboxPublishFailures,
      help: 'Outbox publishes that were nacked, returned, timed out or failed to send.',
      registers,
    }),
    cacheHits: new Counter({
      name: METRICS.cacheHits,
      help: 'Redis cache hits, by cache.',
      labelNames: [LABELS.cache],
      registers,
    }),
    cacheMisses: new Counter({
      name: METRICS.cacheMisses,
      help: 'Redis cache misses, by cache.',
      labelNames: [LABELS.cache],
      registers,
    }),
    jobsEnqueued: new Counter({
      name: METRICS.jobsEnqueued,
      help: 'Jobs written with their outbox row, by kind and priority.',
      labelNames: [LABELS.kind, LABELS.priority],
      registers,
    }),
    jobsRecorded: new Counter({
      name: METRICS.jobsRecorded,
      help: 'Job outcomes recorded from consumer callbacks, by kind, priority and outcome.',
      labelNames: [LABELS.kind, LABELS.priority, LABELS.outcome],
      registers,
    }),
    /** Dead jobs waiting in the failure inbox (docs/jobs.md), read at scrape time. */
    failureInbox: new Gauge({
      name: METRICS.failureInboxLetters,
      help: 'Dead messages in the failure inbox (the database; notes.dlq is only their transport), read at scrape time.',
      registers,
      async collect() {
        if (!inboxProbe) return;
        try {
          this.set(await inboxProbe());
        } catch {
          // Keep the previous value.
        }
      },
    }),
    setFailureInboxProbe(next: (() => Promise<number>) | null): void {
      inboxProbe = next;
    },
    /** Installs the function that reads the outbox state at scrape time (null removes it). */
    setOutboxProbe(next: OutboxProbe | null): void {
      outboxProbe = next;
    },
  };

  // Start every closed-set series at zero so rate() and absent-series alerts work from the
  // first scrape, not from the first event.
  for (const mode of IDEMPOTENCY_MODES) metrics.idempotentReplays.inc({ mode }, 0);
  for (const reason of IDEMPOTENCY_CONFLICTS) metrics.idempotencyConflicts.inc({ reason }, 0);
  for (const kind of JOB_KINDS) {
    for (const priority of PRIORITIES) {
      metrics.jobsEnqueued.inc({ kind, priority }, 0);
      for (const outcome of RECORD_OUTCOMES) metrics.jobsRecorded.inc({ kind, priority, outcome }, 0);
    }
  }
  return metrics;
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
