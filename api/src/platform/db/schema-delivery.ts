import { ATTEMPT_OUTCOMES, PRIORITIES } from '@notes/contracts';
import {
  bigint,
  boolean,
  index,
  int,
  json,
  mediumtext,
  mysqlEnum,
  mysqlTable,
  primaryKey,
  text,
  varchar,
} from 'drizzle-orm/mysql-core';
import { id, ts } from './schema-columns.ts';

// The pipeline's own tables, re-exported by schema.ts (which holds users, notes, jobs and their
// counters): the outbox and live events, idempotency fences, processed messages, webhooks, the
// audit log, job attempts, dead letters and job controls.

/**
 * What an outbox row carries: a job message (RabbitMQ). `event` rows were live events, which have
 * a table of their own since migration 0010 (`live_events`); none is written any more.
 */
export const OUTBOX_KINDS = ['job', 'event'] as const;

/**
 * Transactional outbox: written in the same transaction as the job, published by the job relay,
 * then deleted. Several relays share it with SELECT … FOR UPDATE SKIP LOCKED.
 */
export const outbox = mysqlTable(
  'outbox',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    jobId: id('job_id').notNull(),
    /** The JobMessage, serialised once at write time. */
    payload: text('payload').notNull(),
    priority: mysqlEnum('priority', PRIORITIES).notNull(),
    /** W3C trace context of the write, so the trace continues through the relay. */
    traceparent: varchar('traceparent', { length: 128 }),
    createdAt: ts('created_at').notNull(),
    sentAt: ts('sent_at'),
    publishAttempts: int('publish_attempts').notNull().default(0),
    lastError: text('last_error'),
    /** Always `job` now (see OUTBOX_KINDS); the job relay selects only job rows. */
    kind: mysqlEnum('kind', OUTBOX_KINDS).notNull().default('job'),
  },
  (t) => [index('outbox_pending_idx').on(t.sentAt, t.kind, t.id)],
);

/**
 * Live events waiting for the live-event relay (docs/isolation.md, "Live events through the
 * outbox"): written in the write's own transaction, deleted once published to the user's Redis
 * stream. Every row here is unpublished, so the relay reads in primary-key order and the table
 * has no secondary index to maintain (api/drizzle/0010_live_events.sql). The id is the event's
 * id in the stream's repeat check, continuing the outbox's ids.
 */
export const liveEvents = mysqlTable('live_events', {
  id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
  /** The event as JSON: `{kind, user_id, type, data}`, or `note_id` instead of `data` for a large note. */
  payload: text('payload').notNull(),
  createdAt: ts('created_at').notNull(),
});

/**
 * The database half of idempotency: a unique (user, key) written in the write's own
 * transaction, holding the response to replay. `key_hash` is SHA-256 of the Idempotency-Key,
 * or of the request fingerprint for unkeyed writes (then `expires_at` closes the window).
 */
export const idempotencyFences = mysqlTable(
  'idempotency_fences',
  {
    userId: id('user_id').notNull(),
    keyHash: varchar('key_hash', { length: 64 }).notNull(),
    fingerprint: varchar('fingerprint', { length: 64 }).notNull(),
    responseStatus: int('response_status').notNull(),
    responseBody: mediumtext('response_body'),
    location: varchar('location', { length: 512 }),
    createdAt: ts('created_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.keyHash] }), index('fences_expires_idx').on(t.expiresAt)],
);

/** Callbacks record each message outcome once: the key is inserted in the update's transaction. */
export const processedMessages = mysqlTable(
  'processed_messages',
  {
    messageKey: varchar('message_key', { length: 191 }).primaryKey(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [index('processed_created_idx').on(t.createdAt)],
);

export const webhooks = mysqlTable(
  'webhooks',
  {
    id: id().primaryKey(),
    userId: id('user_id').notNull(),
    url: varchar('url', { length: 2048 }).notNull(),
    events: json('events').$type<string[]>().notNull(),
    /** `whsec_` + base64, per Standard Webhooks; shown to the user once. */
    secret: varchar('secret', { length: 128 }).notNull(),
    createdAt: ts('created_at').notNull(),
    /**
     * Set when the endpoint answered `410 Gone` (docs/isolation.md): no deliveries are enqueued
     * to it any more, and its owner and the admin see why.
     */
    disabledAt: ts('disabled_at'),
    disabledReason: varchar('disabled_reason', { length: 255 }),
  },
  (t) => [index('webhooks_user_idx').on(t.userId)],
);

/** Every admin action that changes state: who, what, when, how many. */
export const auditLog = mysqlTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    actorId: id('actor_id').notNull(),
    action: varchar('action', { length: 64 }).notNull(),
    target: varchar('target', { length: 255 }),
    count: int('count').notNull().default(0),
    detail: json('detail').$type<Record<string, unknown>>(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    index('audit_created_idx').on(t.createdAt),
    index('audit_action_idx').on(t.action, t.createdAt),
    index('audit_actor_idx').on(t.actorId, t.createdAt),
    index('audit_target_idx').on(t.target, t.createdAt),
  ],
);

export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * One row per attempt a consumer finished (docs/jobs.md, "Attempts"): written by the callback
 * that reports the outcome, in its transaction. Deleted with its job by retention.
 */
export const jobAttempts = mysqlTable(
  'job_attempts',
  {
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    jobId: id('job_id').notNull(),
    number: int('number').notNull(),
    run: varchar('run', { length: 40 }),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at').notNull(),
    outcome: mysqlEnum('outcome', ATTEMPT_OUTCOMES).notNull(),
    errorClass: varchar('error_class', { length: 100 }),
    errorMessage: text('error_message'),
    httpStatus: int('http_status'),
    /** The first 1 KiB of a webhook endpoint's answer. */
    responseExcerpt: text('response_excerpt'),
    durationMs: int('duration_ms'),
    traceId: varchar('trace_id', { length: 32 }),
  },
  (t) => [index('attempts_job_idx').on(t.jobId, t.id)],
);

/**
 * The failure inbox (docs/jobs.md): every message that reached notes.dlq, drained into the
 * database, so a selection costs the selection and not the queue. `body` is the message content
 * as base64 (a malformed message need not be text); `promote_run` marks a promotion under way.
 */
export const deadLetters = mysqlTable(
  'dead_letters',
  {
    id: id().primaryKey(),
    /** Null for a malformed message nobody can tie to a job. */
    jobId: varchar('job_id', { length: 64 }).unique('dead_letters_job_unique'),
    kind: varchar('kind', { length: 64 }).notNull(),
    priority: mysqlEnum('priority', PRIORITIES).notNull(),
    userId: varchar('user_id', { length: 64 }),
    groupId: varchar('group_id', { length: 16 }).notNull(),
    errorClass: varchar('error_class', { length: 100 }).notNull(),
    /** The error message, normalised (ids, numbers and times replaced) so alike failures group. */
    message: varchar('message', { length: 500 }).notNull(),
    reason: text('reason').notNull(),
    malformed: boolean('malformed').notNull().default(false),
    attempt: int('attempt').notNull().default(1),
    body: mediumtext('body').notNull(),
    headers: json('headers').$type<Record<string, unknown>>().notNull(),
    deadAt: ts('dead_at').notNull(),
    promoteRun: varchar('promote_run', { length: 40 }),
  },
  (t) => [
    index('dead_letters_group_idx').on(t.groupId, t.deadAt),
    index('dead_letters_kind_idx').on(t.kind, t.deadAt),
    index('dead_letters_user_idx').on(t.userId, t.deadAt),
    index('dead_letters_dead_at_idx').on(t.deadAt),
  ],
);

/** Pause/resume per job kind, read by every consumer (docs/jobs.md, "Control"). */
export const jobControls = mysqlTable('job_controls', {
  kind: varchar('kind', { length: 64 }).primaryKey(),
  paused: boolean('paused').notNull().default(false),
  changedAt: ts('changed_at').notNull(),
  changedBy: varchar('changed_by', { length: 255 }),
});
