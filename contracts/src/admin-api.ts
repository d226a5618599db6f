import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { USER_SORT_FIELDS } from './auth-api.ts';
import { JOB_KINDS } from './job-message.ts';
import { NoteResult } from './note-result.ts';
import { MAX_OFFSET, SORT_FIELDS } from './paging.ts';
import { PRIORITIES } from './priorities.ts';
import { JOB_STATUSES, NOTE_STATUSES } from './statuses.ts';

/**
 * The admin API's shapes (docs/operations.md and docs/api.md). Lists answer `{data, total}` like the user API;
 * the console's own dataProvider maps react-admin's calls onto them.
 */
const literals = <T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const MAX_PAGE = 100;

/** `sort` is a field name, `-` prefix for descending (as on /api/notes). */
const sortOf = (fields: readonly string[], fallback: string) =>
  Type.String({
    pattern: `^-?(${fields.join('|')})$`,
    default: fallback,
    description: `one of ${fields.join(', ')}; \`-\` prefix for descending`,
  });

/** Paging (docs/data.md): `offset` for the first pages, then the previous page's `next_cursor`. */
const Page = {
  limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 25 }),
  offset: Type.Integer({
    minimum: 0,
    maximum: MAX_OFFSET,
    default: 0,
    description: `At most ${MAX_OFFSET}; page further with \`cursor\`.`,
  }),
  cursor: Type.Optional(
    Type.String({ minLength: 1, maxLength: 2048, description: "The previous page's `next_cursor` (same sort)." }),
  ),
};
const Text = Type.String({ minLength: 1, maxLength: 200 });
const Id = Type.String({ minLength: 1, maxLength: 64 });

export const NOTE_SORTS = SORT_FIELDS;
export const NoteListQuery = Type.Object(
  {
    ...Page,
    sort: sortOf(NOTE_SORTS, '-created_at'),
    status: Type.Optional(literals(NOTE_STATUSES)),
    priority: Type.Optional(literals(PRIORITIES)),
    /** The owner: a user id, or an exact email when it contains `@`. */
    user: Type.Optional(Text),
    /** Words of title or body (docs/data.md, "Search"). */
    q: Type.Optional(Text),
  },
  { additionalProperties: false },
);
export type NoteListQuery = Static<typeof NoteListQuery>;

/** Orders an index holds (api/src/modules/notes/list-orders.ts). */
export const JOB_SORTS = ['created_at', 'updated_at', 'finished_at', 'priority', 'status', 'kind'] as const;
export type JobSortField = (typeof JOB_SORTS)[number];
export const JobListQuery = Type.Object(
  {
    ...Page,
    sort: sortOf(JOB_SORTS, '-created_at'),
    status: Type.Optional(literals(JOB_STATUSES)),
    kind: Type.Optional(literals(JOB_KINDS)),
    priority: Type.Optional(literals(PRIORITIES)),
    note_id: Type.Optional(Id),
    /** Words of the last error or the dead reason (docs/data.md, "Search"). */
    q: Type.Optional(Text),
  },
  { additionalProperties: false },
);
export type JobListQuery = Static<typeof JobListQuery>;

/** Orders an index holds for dead jobs (list-orders.ts); kind and priority are filters here. */
export const DLQ_SORTS = ['finished_at', 'created_at', 'updated_at'] as const;
export const DlqListQuery = Type.Object(
  {
    ...Page,
    sort: sortOf(DLQ_SORTS, '-finished_at'),
    kind: Type.Optional(literals(JOB_KINDS)),
    priority: Type.Optional(literals(PRIORITIES)),
    note_id: Type.Optional(Id),
    q: Type.Optional(Text),
  },
  { additionalProperties: false },
);
export type DlqListQuery = Static<typeof DlqListQuery>;

export const USER_SORTS = USER_SORT_FIELDS;
export const UserListQuery = Type.Object(
  {
    ...Page,
    sort: sortOf(USER_SORTS, '-created_at'),
    role: Type.Optional(literals(['user', 'admin', 'service'] as const)),
    disabled: Type.Optional(Type.Boolean()),
    /** Case-insensitive substring of email or name (users are few: docs/data.md). */
    q: Type.Optional(Text),
  },
  { additionalProperties: false },
);
export type UserListQuery = Static<typeof UserListQuery>;

export const AuditListQuery = Type.Object(
  {
    ...Page,
    sort: sortOf(['created_at', 'action'], '-created_at'),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    actor_id: Type.Optional(Id),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  { additionalProperties: false },
);
export type AuditListQuery = Static<typeof AuditListQuery>;

export const IdParams = Type.Object({ id: Id });
export const JobIdParams = Type.Object({ jobId: Id });

export const AdminNote = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  owner_email: Nullable(Type.String()),
  title: Type.String(),
  priority: literals(PRIORITIES),
  status: literals(NOTE_STATUSES),
  version: Type.Integer(),
  attempts: Type.Integer(),
  last_error: Nullable(Type.String()),
  created_at: DateTime,
  updated_at: DateTime,
  processed_at: Nullable(DateTime),
});
export type AdminNote = Static<typeof AdminNote>;

export const AdminJob = Type.Object({
  id: Type.String(),
  note_id: Type.String(),
  user_id: Type.String(),
  kind: literals(JOB_KINDS),
  priority: literals(PRIORITIES),
  status: literals(JOB_STATUSES),
  note_version: Type.Integer(),
  webhook_id: Nullable(Type.String()),
  attempts: Type.Integer(),
  last_error: Nullable(Type.String()),
  dead_reason: Nullable(Type.String()),
  created_at: DateTime,
  updated_at: DateTime,
  started_at: Nullable(DateTime),
  finished_at: Nullable(DateTime),
});
export type AdminJob = Static<typeof AdminJob>;

/** One note in full: its body, its result and its job history, newest job first. */
export const AdminNoteDetail = Type.Composite([
  AdminNote,
  Type.Object({ body: Type.String(), result: Nullable(NoteResult), jobs: Type.Array(AdminJob) }),
]);
export type AdminNoteDetail = Static<typeof AdminNoteDetail>;

/** A dead job: why (`reason`), after how many attempts, since when, and what it was for. */
export const DlqEntry = Type.Composite([
  AdminJob,
  Type.Object({
    reason: Nullable(Type.String()),
    dead_at: DateTime,
    note_title: Nullable(Type.String()),
    owner_email: Nullable(Type.String()),
  }),
]);
export type DlqEntry = Static<typeof DlqEntry>;

export const AdminUser = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: literals(['user', 'admin', 'service'] as const),
  disabled: Type.Boolean(),
  created_at: DateTime,
  updated_at: DateTime,
});
export type AdminUser = Static<typeof AdminUser>;

export const UserPatch = Type.Object(
  {
    role: Type.Optional(literals(['user', 'admin'] as const)),
    disabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UserPatch = Static<typeof UserPatch>;

export const AuditEntry = Type.Object({
  id: Type.Integer(),
  actor_id: Type.String(),
  actor_email: Nullable(Type.String()),
  action: Type.String(),
  target: Nullable(Type.String()),
  count: Type.Integer(),
  detail: Nullable(Type.Record(Type.String(), Type.Unknown())),
  created_at: DateTime,
});
export type AuditEntry = Static<typeof AuditEntry>;

export const DlqFilter = Type.Object(
  {
    kind: Type.Optional(literals(JOB_KINDS)),
    priority: Type.Optional(literals(PRIORITIES)),
    note_id: Type.Optional(Id),
    /** Words of the last error or the dead reason. */
    q: Type.Optional(Text),
  },
  { additionalProperties: false },
);

/**
 * Promote selected dead jobs (`job_ids`), or every dead job matching `filter`, or (neither) all
 * of them. `dry_run` counts what would move and moves nothing.
 */
export const PromoteBody = Type.Object(
  {
    job_ids: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: 1000, uniqueItems: true })),
    filter: Type.Optional(DlqFilter),
    dry_run: Type.Optional(Type.Boolean()),
    include_malformed: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type PromoteBody = Static<typeof PromoteBody>;

export const PromoteResult = Type.Object({
  dry_run: Type.Boolean(),
  /** Dead jobs selected in the database. */
  matched: Type.Integer(),
  /** Moved back to work (or, in a dry run, that would be). */
  promoted: Type.Integer(),
  /** Selected but left where they are: not dead, or dead-lettered as malformed. */
  skipped: Type.Integer(),
  /** Selected but their message was not found in notes.dlq. */
  missing: Type.Integer(),
  /** Could not be moved (publish not confirmed, database error); they stay in the DLQ. */
  failed: Type.Integer(),
  job_ids: Type.Array(Type.String()),
});
export type PromoteResult = Static<typeof PromoteResult>;

export const DiscardBody = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) },
  { additionalProperties: false },
);
export type DiscardBody = Static<typeof DiscardBody>;

export const DiscardResult = Type.Object({
  job_id: Type.String(),
  status: Type.Literal('discarded'),
  /** Messages of the job removed from notes.dlq (0 when it had none left). */
  removed_messages: Type.Integer(),
});
export type DiscardResult = Static<typeof DiscardResult>;

export const QueueInfo = Type.Object({
  name: Type.String(),
  role: literals(['work', 'retry', 'dead'] as const),
  /** Messages ready for delivery. */
  ready: Nullable(Type.Integer()),
  /** Delivered but not yet acked; null unless the broker's management API reports it. */
  unacked: Nullable(Type.Integer()),
  consumers: Nullable(Type.Integer()),
  error: Type.Optional(Type.String()),
});
export const QueuesResponse = Type.Object({
  connected: Type.Boolean(),
  queues: Type.Array(QueueInfo),
  /** Jobs the database holds as `processing`: a lower bound of unacked work. */
  in_flight_jobs: Type.Integer(),
});
export type QueuesResponse = Static<typeof QueuesResponse>;

const Counts = Type.Record(Type.String(), Type.Integer());
export const StatsResponse = Type.Object({
  notes: Type.Object({ total: Type.Integer(), by_status: Counts }),
  jobs: Type.Object({ total: Type.Integer(), by_status: Counts }),
  throughput: Type.Object({
    window_minutes: Type.Integer(),
    /** Jobs finished (any outcome) per minute, averaged over the window. */
    per_minute: Type.Number(),
    /** One bucket per minute, oldest first; `minute` is the bucket's start. */
    minutes: Type.Array(
      Type.Object({ minute: DateTime, finished: Type.Integer(), processed: Type.Integer(), dead: Type.Integer() }),
    ),
  }),
  dlq: Type.Object({
    /** Dead jobs in the database. */
    jobs: Type.Integer(),
    /** Messages in notes.dlq, or null when RabbitMQ can't be asked. */
    messages: Nullable(Type.Integer()),
  }),
  generated_at: DateTime,
});
export type StatsResponse = Static<typeof StatsResponse>;

/**
 * A page: `total` is exact when `total_exact`, else a lower bound ("more than 10,000");
 * `next_cursor` pages on (null on the last page), also given as a `Link: rel="next"` header.
 */
export const listOf = <T extends TSchema>(item: T) =>
  Type.Object({
    data: Type.Array(item),
    total: Type.Integer(),
    total_exact: Type.Boolean(),
    next_cursor: Nullable(Type.String()),
  });

export interface Page<T> {
  data: T[];
  total: number;
  total_exact: boolean;
  next_cursor: string | null;
}
