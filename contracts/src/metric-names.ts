/**
 * The one list of Prometheus metric and label names. The API and the consumers
 * build their registries from these; the dashboards and alerts in monitoring/ query them, and a
 * test checks that every name a dashboard or alert uses is one of these (or a RabbitMQ/process one).
 *
 * Conventions (prometheus.io/docs/practices/naming): base units (`_seconds`), `_total` only on
 * counters, and label values drawn from small closed sets: route templates, never raw URLs or ids.
 */
export const METRICS = {
  // API: HTTP (RED)
  httpRequests: 'http_requests_total',
  httpDuration: 'http_request_duration_seconds',
  // API: idempotency
  idempotentReplays: 'notes_idempotent_replays_total',
  idempotencyConflicts: 'notes_idempotency_conflicts_total',
  // API: outbox relay
  outboxBacklog: 'notes_outbox_backlog',
  outboxOldestAge: 'notes_outbox_oldest_age_seconds',
  outboxPublishDuration: 'notes_outbox_publish_duration_seconds',
  outboxPublished: 'notes_outbox_published_total',
  outboxPublishFailures: 'notes_outbox_publish_failures_total',
  // API: the failure inbox (docs/jobs.md)
  failureInboxLetters: 'notes_failure_inbox_letters',
  // API: caches (Redis fast paths) and jobs
  cacheHits: 'notes_cache_hits_total',
  cacheMisses: 'notes_cache_misses_total',
  jobsEnqueued: 'notes_jobs_enqueued_total',
  jobsRecorded: 'notes_jobs_recorded_total',
  // Consumers
  jobsProcessed: 'notes_jobs_processed_total',
  processingDuration: 'notes_job_processing_duration_seconds',
  queueWaitDuration: 'notes_job_queue_wait_seconds',
  retries: 'notes_job_retries_total',
  deadLettered: 'notes_jobs_dead_lettered_total',
  inFlight: 'notes_jobs_in_flight',
  queueDepth: 'notes_queue_messages',
  queueConsumers: 'notes_queue_consumers',
  webhookDuration: 'notes_webhook_request_duration_seconds',
  webhookDeferred: 'notes_webhook_deliveries_deferred_total',
  apiCallDuration: 'notes_api_call_duration_seconds',
} as const;
export type MetricName = (typeof METRICS)[keyof typeof METRICS];

export const LABELS = {
  method: 'method',
  /** The route template (`/api/notes/:id`), never the raw URL. */
  route: 'route',
  statusCode: 'status_code',
  kind: 'kind',
  priority: 'priority',
  outcome: 'outcome',
  reason: 'reason',
  queue: 'queue',
  /** Which idempotency path answered: `key` (Idempotency-Key header) or `hash` (payload window). */
  mode: 'mode',
  cache: 'cache',
  /** Process role, set as a default label on each registry (`api` / `consumer`). */
  service: 'service',
} as const;
export type LabelName = (typeof LABELS)[keyof typeof LABELS];

/**
 * Closed sets of label values. A value outside these is a bug in the caller, not a new series.
 * `processed`: the handler succeeded and the API recorded it; `retried`: sent to a wait queue;
 * `dead`: sent to the DLQ; `skipped`: acked without work (duplicate or stale delivery).
 */
export const JOB_OUTCOMES = ['processed', 'retried', 'dead', 'skipped'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** What the API did with a consumer's callback. */
export const RECORD_OUTCOMES = ['processed', 'failed', 'dead', 'stale', 'duplicate'] as const;
export type RecordOutcome = (typeof RECORD_OUTCOMES)[number];

/** Why a message went to the DLQ. */
export const DEAD_REASONS = ['max_attempts', 'malformed', 'permanent', 'poison', 'rejected'] as const;
export type DeadReason = (typeof DEAD_REASONS)[number];

export const IDEMPOTENCY_MODES = ['key', 'hash'] as const;
export type IdempotencyMode = (typeof IDEMPOTENCY_MODES)[number];

/** `payload_mismatch` is the 422 (same key, other payload); `in_flight` the 409. */
export const IDEMPOTENCY_CONFLICTS = ['payload_mismatch', 'in_flight'] as const;
export type IdempotencyConflict = (typeof IDEMPOTENCY_CONFLICTS)[number];

/** Histogram buckets, in seconds. Wide where waits include retry back-off. */
export const BUCKETS = {
  http: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  publish: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  processing: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  queueWait: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
} as const;
