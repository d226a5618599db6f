import { BUCKETS, DEAD_REASONS, JOB_KINDS, JOB_OUTCOMES, LABELS, METRICS, PRIORITIES } from '@notes/contracts';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** One queue's state as `channel.checkQueue()` reports it. */
export interface QueueStat {
  queue: string;
  messages: number;
  consumers: number;
}

/** Reads the queues' depth; the consumer process supplies it (see setQueueProbe). */
export type QueueProbe = () => Promise<readonly QueueStat[]>;

const PROBE_TIMEOUT_MS = 2000;

/**
 * The consumers' Prometheus metrics, on a registry of their own (tests run several consumers in
 * one process). Serve `registry.metrics()` with `registry.contentType` at /metrics.
 *
 * Callers (names from contracts/src/metric-names.ts):
 *   jobsProcessed.inc({kind, priority, outcome})  — once per delivery settled (JOB_OUTCOMES)
 *   processingDuration.observe({kind}, seconds)   — handler time, including the API callback
 *   queueWaitDuration.observe({kind, priority}, seconds) — delivery time minus message created_at
 *   retries.inc({kind})                           — a delivery sent to a wait queue
 *   deadLettered.inc({kind, reason})              — a delivery sent to notes.dlq (DEAD_REASONS)
 *   inFlight.inc() / inFlight.dec()               — around each handler
 *   webhookDuration.observe({status_code}, s)     — one outbound webhook request ('error' on no answer)
 *   deferred.inc()                                — a delivery parked because its endpoint was at WEBHOOK_MAX_IN_FLIGHT
 *   apiCallDuration.observe({route, status_code}, s) — one callback into the API (route template)
 *   setQueueProbe(probe)                          — queue depth/consumers, read at scrape time
 */
export function createConsumerMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ [LABELS.service]: 'consumer' });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  let probe: QueueProbe | null = null;
  let reading: Promise<void> | null = null;
  // Queue depth is read when Prometheus scrapes (a collect callback), so it is never staler than
  // the scrape and costs nothing between scrapes. Both queue gauges share one read per scrape; a
  // slow or failing probe keeps the last values.
  function readQueues(): Promise<void> {
    reading ??= readOnce().finally(() => {
      reading = null;
    });
    return reading;
  }
  async function readOnce(): Promise<void> {
    if (!probe) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const stats = await Promise.race([
        probe(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('queue probe timed out')), PROBE_TIMEOUT_MS);
        }),
      ]);
      for (const s of stats) {
        queueDepth.set({ queue: s.queue }, s.messages);
        queueConsumers.set({ queue: s.queue }, s.consumers);
      }
    } catch {
      // Keep the previous values; the broker being down shows on the health endpoint instead.
    } finally {
      clearTimeout(timer);
    }
  }

  const queueDepth = new Gauge({
    name: METRICS.queueDepth,
    help: 'Messages in a queue (ready, as seen by checkQueue), by queue.',
    labelNames: [LABELS.queue],
    registers,
    collect: readQueues,
  });
  const queueConsumers = new Gauge({
    name: METRICS.queueConsumers,
    help: 'Consumers attached to a queue, by queue.',
    labelNames: [LABELS.queue],
    registers,
    collect: readQueues,
  });

  const metrics = {
    registry,
    jobsProcessed: new Counter({
      name: METRICS.jobsProcessed,
      help: 'Deliveries settled, by job kind, priority and outcome.',
      labelNames: [LABELS.kind, LABELS.priority, LABELS.outcome],
      registers,
    }),
    processingDuration: new Histogram({
      name: METRICS.processingDuration,
      help: 'Handler time per delivery in seconds (work plus the API callback), by job kind.',
      labelNames: [LABELS.kind],
      buckets: [...BUCKETS.processing],
      registers,
    }),
    queueWaitDuration: new Histogram({
      name: METRICS.queueWaitDuration,
      help: 'Seconds from the job message being created to its delivery, by kind and priority.',
      labelNames: [LABELS.kind, LABELS.priority],
      buckets: [...BUCKETS.queueWait],
      registers,
    }),
    retries: new Counter({
      name: METRICS.retries,
      help: 'Deliveries scheduled for a delayed retry, by job kind.',
      labelNames: [LABELS.kind],
      registers,
    }),
    deadLettered: new Counter({
      name: METRICS.deadLettered,
      help: 'Deliveries sent to the dead-letter queue, by job kind and reason.',
      labelNames: [LABELS.kind, LABELS.reason],
      registers,
    }),
    inFlight: new Gauge({
      name: METRICS.inFlight,
      help: 'Deliveries being handled right now.',
      registers,
    }),
    deferred: new Counter({
      name: METRICS.webhookDeferred,
      help: 'Webhook deliveries parked in notes.webhooks.deferred because their endpoint was at its in-flight limit.',
      registers,
    }),
    webhookDuration: new Histogram({
      name: METRICS.webhookDuration,
      help: 'Outbound webhook request time in seconds, by status code (error when none).',
      labelNames: [LABELS.statusCode],
      buckets: [...BUCKETS.http],
      registers,
    }),
    apiCallDuration: new Histogram({
      name: METRICS.apiCallDuration,
      help: 'Callback requests into the API in seconds, by route template and status code.',
      labelNames: [LABELS.route, LABELS.statusCode],
      buckets: [...BUCKETS.http],
      registers,
    }),
    queueDepth,
    queueConsumers,
    /** Installs the function that reads queue depths at scrape time (null removes it). */
    setQueueProbe(next: QueueProbe | null): void {
      probe = next;
    },
  };

  // Closed-set series start at zero so rate() and increase() see the first event.
  for (const kind of JOB_KINDS) {
    metrics.retries.inc({ kind }, 0);
    for (const reason of DEAD_REASONS) metrics.deadLettered.inc({ kind, reason }, 0);
    for (const priority of PRIORITIES) {
      for (const outcome of JOB_OUTCOMES) metrics.jobsProcessed.inc({ kind, priority, outcome }, 0);
    }
  }
  return metrics;
}

export type ConsumerMetrics = ReturnType<typeof createConsumerMetrics>;
