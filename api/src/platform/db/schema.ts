import { JOB_KINDS, JOB_STATUSES, NOTE_STATUSES, type NoteResult, PRIORITIES, ROLES } from '@notes/contracts';
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
  tinyint,
  varbinary,
  varchar,
} from 'drizzle-orm/mysql-core';
import { binaryVarchar, id, ts } from './schema-columns.ts';

/**
 * The drizzle schema: the one definition of the tables. Migrations in api/drizzle/ are generated
 * from it (`npm run db:generate -w @notes/api`) and committed. Ids are UUIDv7 strings made in the
 * app (MariaDB has no RETURNING); times are UTC with millisecond precision.
 */
// The enums are wire formats too (callbacks, admin API, console): contracts holds the lists.
export { JOB_STATUSES, type JobStatus, NOTE_STATUSES, type NoteStatus, ROLES, type Role } from '@notes/contracts';

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

/**
 * What `notes.reserve` holds while a note waits for its result: about the size of a result (its
 * JSON and `processed_at`), so the completion's update, which empties it, does not grow the row.
 */
export const RESULT_RESERVE = ' '.repeat(240);

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
    /**
     * Room for the result while a note waits for it (docs/data.md, "Write cost"): written with
     * RESULT_RESERVE when the note is queued, emptied by the completion that writes the result,
     * so the row does not grow on its full page. Never read.
     */
    reserve: varbinary('reserve', { length: 255 }),
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
 * table, not every job (docs/data.md, "Search"). The writer keeps it, in the transaction that
 * writes the job (job-errors.ts); FULLTEXT `job_errors_ft` (last_error, dead_reason) is in
 * api/drizzle/0009_job_errors.sql.
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

// The pipeline's own tables, in a file of their own so each stays short.
export * from './schema-delivery.ts';
