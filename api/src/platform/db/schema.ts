import {
  ATTEMPT_OUTCOMES,
  JOB_KINDS,
  JOB_STATUSES,
  NOTE_STATUSES,
  type NoteResult,
  PRIORITIES,
  ROLES,
} from '@notes/contracts';
import {
  bigint,
  boolean,
  customType,
  datetime,
  index,
  int,
  json,
  mediumtext,
  mysqlEnum,
  mysqlTable,
  primaryKey,
  text,
  tinyint,
  varchar,
} from 'drizzle-orm/mysql-core';

/**
 * The drizzle schema: the one definition of the tables. Migrations in api/drizzle/ are generated
 * from it (`npm run db:generate -w @notes/api`) and committed. Ids are UUIDv7 strings made in the
 * app (MariaDB has no RETURNING); times are UTC with millisecond precision.
 */
const id = (name = 'id') => varchar(name, { length: 36 });
const ts = (name: string) => datetime(name, { mode: 'date', fsp: 3 });

// The enums are wire formats too (callbacks, admin API, console): contracts holds the lists.
export { JOB_STATUSES, type JobStatus, NOTE_STATUSES, type NoteStatus, ROLES, type Role } from '@notes/contracts';

/**
 * Emails are stored normalised (trim, NFC, lower case: users-repository.ts) and compared
 * byte for byte: the binary collation keeps `séc@…` and `sec@…` two accounts, where the
 * database's accent-insensitive default made them one (docs/security.md).
 */
const binaryVarchar = customType<{ data: string; config: { length: number } }>({
  dataType: (config) => `varchar(${config?.length ?? 255}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
});

export const users = mysqlTable(
  'users',
  {
    id: id().primaryKey(),
    email: binaryVarchar('email', { length: 320 }).notNull().unique('users_email_unique'),
    name: varchar('name', { length: 200 }).notNull(),
    passwordHash: varchar('password_hash', { length: 255 }).notNull(),
    role: mysqlEnum('role', ROLES).notNull().default('user'),
    disabled: boolean('disabled').notNull().default(false),
    /** Tokens carry it as `tv`; raising it revokes every token issued before (docs/security.md). */
    tokenVersion: int('token_version').notNull().default(0),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    // The console's user list by each sort (docs/data.md); email sorts on its unique key.
    index('users_created_idx').on(t.createdAt),
    index('users_name_idx').on(t.name),
    index('users_role_idx').on(t.role, t.createdAt),
  ],
);

export type { NoteResult } from '@notes/contracts';

export const notes = mysqlTable(
  'notes',
  {
    id: id().primaryKey(),
    userId: id('user_id').notNull(),
    title: varchar('title', { length: 200 }).notNull(),
    // 64 KiB of UTF-8 is one byte more than TEXT holds.
    body: mediumtext('body').notNull(),
    priority: mysqlEnum('priority', PRIORITIES).notNull().default('normal'),
    status: mysqlEnum('status', NOTE_STATUSES).notNull().default('queued'),
    version: int('version').notNull().default(1),
    result: json('result').$type<NoteResult | null>(),
    attempts: int('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    processedAt: ts('processed_at'),
  },
  // One index per list order (docs/data.md): a user's list by each sort, the console's list by
  // each sort, and the enum sorts tie-broken by created_at so one index serves both the sort and
  // the filter. FULLTEXT `notes_search_ft` (title, body) is in the migration: drizzle has no
  // FULLTEXT index type.
  (t) => [
    index('notes_user_created_idx').on(t.userId, t.createdAt),
    index('notes_user_updated_idx').on(t.userId, t.updatedAt),
    index('notes_user_title_idx').on(t.userId, t.title),
    index('notes_user_status_idx').on(t.userId, t.status, t.createdAt),
    index('notes_user_priority_idx').on(t.userId, t.priority, t.createdAt),
    index('notes_created_idx').on(t.createdAt),
    index('notes_updated_idx').on(t.updatedAt),
    index('notes_title_idx').on(t.title),
    index('notes_status_idx').on(t.status, t.createdAt),
    index('notes_priority_idx').on(t.priority, t.createdAt),
  ],
);

/** One row per unit of work; its history is a note's job history. */
export const jobs = mysqlTable(
  'jobs',
  {
    id: id().primaryKey(),
    noteId: id('note_id').notNull(),
    userId: id('user_id').notNull(),
    kind: mysqlEnum('kind', JOB_KINDS).notNull(),
    priority: mysqlEnum('priority', PRIORITIES).notNull(),
    status: mysqlEnum('status', JOB_STATUSES).notNull().default('queued'),
    noteVersion: int('note_version').notNull(),
    webhookId: id('webhook_id'),
    attempts: int('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** Why the job is dead: the last error, `malformed: …`, `poison: …` or an operator's reason. */
    deadReason: text('dead_reason'),
    /**
     * The run the job is in: null for the first, the promotion's token after a promote from the
     * failure inbox. Callbacks of another run are stale (docs/jobs.md, "Runs").
     */
    run: varchar('run', { length: 40 }),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
  },
  // Indexes per list order of the console (docs/data.md). `jobs_status_finished_idx` also
  // serves retention (finished jobs of a status, oldest first, in small batches) and
  // `jobs_finished_idx` covers the dashboard's per-minute throughput. The error texts are
  // searched in `job_errors` (below).
  (t) => [
    index('jobs_note_idx').on(t.noteId, t.createdAt),
    index('jobs_status_idx').on(t.status, t.createdAt),
    index('jobs_status_finished_idx').on(t.status, t.finishedAt),
    index('jobs_status_updated_idx').on(t.status, t.updatedAt),
    index('jobs_user_idx').on(t.userId),
    index('jobs_created_idx').on(t.createdAt),
    index('jobs_updated_idx').on(t.updatedAt),
    index('jobs_finished_idx').on(t.finishedAt, t.status),
    index('jobs_priority_idx').on(t.priority, t.createdAt),
    index('jobs_kind_idx').on(t.kind, t.createdAt),
  ],
);

/**
 * The jobs that carry error text (last_error or dead_reason), with the columns the console's job
 * lists filter and sort on, and the same order indexes as `jobs`: a job search reads this small
 * table, not every job (docs/data.md, "Search"). Triggers on `jobs` keep it, in the transaction
 * that writes the job (api/drizzle/0009_job_errors.sql); FULLTEXT `job_errors_ft` (last_error,
 * dead_reason) is in that migration too.
 */
export const jobErrors = mysqlTable(
  'job_errors',
  {
    id: id('job_id').primaryKey(),
    noteId: id('note_id').notNull(),
    kind: mysqlEnum('kind', JOB_KINDS).notNull(),
    priority: mysqlEnum('priority', PRIORITIES).notNull(),
    status: mysqlEnum('status', JOB_STATUSES).notNull(),
    lastError: text('last_error'),
    deadReason: text('dead_reason'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    finishedAt: ts('finished_at'),
  },
  (t) => [
    index('job_errors_note_idx').on(t.noteId, t.createdAt),
    index('job_errors_status_idx').on(t.status, t.createdAt),
    index('job_errors_status_finished_idx').on(t.status, t.finishedAt),
    index('job_errors_status_updated_idx').on(t.status, t.updatedAt),
    index('job_errors_created_idx').on(t.createdAt),
    index('job_errors_updated_idx').on(t.updatedAt),
    index('job_errors_finished_idx').on(t.finishedAt, t.status),
    index('job_errors_priority_idx').on(t.priority, t.createdAt),
    index('job_errors_kind_idx').on(t.kind, t.createdAt),
  ],
);

/**
 * Rows per status of notes and jobs, kept in the transaction that changes a row, so the dashboard
 * reads a few hundred rows instead of counting millions: the writer adds each transaction's
 * changes in one statement before its COMMIT (status-tally.ts); it is the API's only writer, and
 * the counter triggers are gone (api/drizzle/0008_one_writer.sql). Each connection adds
 * to its own shard (CONNECTION_ID() % 64): concurrent writers do not queue on one hot row; a
 * status's count is the sum of its shards. Retention's deletes count in shard 64, which no writer
 * uses (api/drizzle/0006_retention_counter_shard.sql).
 */
export const statusCounts = mysqlTable(
  'status_counts',
  {
    tableName: mysqlEnum('tbl', ['notes', 'jobs']).notNull(),
    status: varchar('status', { length: 16 }).notNull(),
    shard: tinyint('shard', { unsigned: true }).notNull(),
    n: bigint('n', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tableName, t.status, t.shard] })],
);

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
