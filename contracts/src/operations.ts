import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { JOB_KINDS } from './job-message.ts';
import { PRIORITIES } from './priorities.ts';

/**
 * Wire shapes of day-2 operations (docs/jobs.md): what a consumer reports about each attempt
 * with its callback, the pause state consumers poll, and the admin API's DTOs for job detail,
 * the failure inbox and control. The API validates with them; consumers, the console and the
 * CLI type their calls with them.
 */

const literals = <T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** Bytes of a webhook endpoint's answer kept with the attempt. */
export const RESPONSE_EXCERPT_BYTES = 1024;

/**
 * What a consumer knows about the attempt it reports, sent with /complete and /fail. Every field
 * is optional: an older consumer that sends none still has its outcome recorded.
 */
export const AttemptReport = Type.Object(
  {
    started_at: Type.Optional(DateTime),
    duration_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })),
    /** The error's class name (`WebhookDeliveryError`, `TypeError`); only for failures. */
    error_class: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    /** The webhook endpoint's HTTP status, when it answered. */
    http_status: Type.Optional(Type.Integer({ minimum: 100, maximum: 999 })),
    /** The first 1 KiB of the endpoint's answer (UTF-8, cut on a character boundary). */
    response_excerpt: Type.Optional(Type.String({ maxLength: RESPONSE_EXCERPT_BYTES })),
    trace_id: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$' })),
  },
  { additionalProperties: false },
);
export type AttemptReport = Static<typeof AttemptReport>;

/** The pause state every consumer polls (GET /internal/control). */
export const ControlState = Type.Object({ paused: Type.Array(literals(JOB_KINDS)) });
export type ControlState = Static<typeof ControlState>;

export const ATTEMPT_OUTCOMES = ['processed', 'failed', 'dead'] as const;

export const AttemptView = Type.Object({
  number: Type.Integer(),
  started_at: Nullable(DateTime),
  finished_at: DateTime,
  outcome: literals(ATTEMPT_OUTCOMES),
  error_class: Nullable(Type.String()),
  error_message: Nullable(Type.String()),
  http_status: Nullable(Type.Integer()),
  response_excerpt: Nullable(Type.String()),
  duration_ms: Nullable(Type.Integer()),
  trace_id: Nullable(Type.String()),
});
export type AttemptView = Static<typeof AttemptView>;

const JOB_STATUS_VALUES = ['queued', 'processing', 'processed', 'failed', 'dead', 'discarded', 'skipped'] as const;

/** GET /api/admin/jobs/:id: the job, its message (`payload`) and its attempts, oldest first. */
export const JobDetail = Type.Object({
  id: Type.String(),
  kind: literals(JOB_KINDS),
  note_id: Type.String(),
  user_id: Type.String(),
  status: literals(JOB_STATUS_VALUES),
  priority: literals(PRIORITIES),
  attempts: Type.Integer(),
  last_error: Nullable(Type.String()),
  /** The job's message as the consumers get it (for a dead job: the dead copy, headers aside). */
  payload: Type.Unknown(),
  created_at: DateTime,
  updated_at: DateTime,
  note_version: Type.Integer(),
  webhook_id: Nullable(Type.String()),
  dead_reason: Nullable(Type.String()),
  started_at: Nullable(DateTime),
  finished_at: Nullable(DateTime),
  history: Type.Array(AttemptView),
});
export type JobDetail = Static<typeof JobDetail>;

/** POST /api/admin/jobs/:id/retry answers 202 with this. */
export const RetryResult = Type.Object({ id: Type.String(), status: literals(JOB_STATUS_VALUES) });
export type RetryResult = Static<typeof RetryResult>;

export const FailureGroup = Type.Object({
  group_id: Type.String(),
  kind: Type.String(),
  error_class: Type.String(),
  /** The normalised message shared by the group. */
  message: Type.String(),
  count: Type.Integer(),
  first_seen: DateTime,
  last_seen: DateTime,
});
export type FailureGroup = Static<typeof FailureGroup>;

export const FailureGroupsQuery = Type.Object(
  { kind: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
  { additionalProperties: false },
);
export type FailureGroupsQuery = Static<typeof FailureGroupsQuery>;

export const FailureGroups = Type.Object({ data: Type.Array(FailureGroup) });
export type FailureGroups = Static<typeof FailureGroups>;

export const FailureFilter = Type.Object(
  {
    kind: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** Case-insensitive substring of the dead reason. */
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    user_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** Dead for at least this many hours. */
    older_than_hours: Type.Optional(Type.Number({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);
export type FailureFilter = Static<typeof FailureFilter>;

/**
 * What to promote or discard: one of a group, chosen job ids, a filter, or `all: true`.
 * `dry_run` lists what would move and moves nothing.
 */
export const FailureSelection = Type.Object(
  {
    group_id: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
    job_ids: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 10_000, uniqueItems: true }),
    ),
    filter: Type.Optional(FailureFilter),
    all: Type.Optional(Type.Boolean()),
    dry_run: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type FailureSelection = Static<typeof FailureSelection>;

/** `moved` for a promote, `discarded` for a discard; `job_ids` are the first 100 matched. */
export const FailureActionResult = Type.Object({
  matched: Type.Integer(),
  moved: Type.Optional(Type.Integer()),
  discarded: Type.Optional(Type.Integer()),
  dry_run: Type.Boolean(),
  job_ids: Type.Array(Type.String()),
});
export type FailureActionResult = Static<typeof FailureActionResult>;

export const ControlRow = Type.Object({
  kind: literals(JOB_KINDS),
  paused: Type.Boolean(),
  changed_at: Nullable(DateTime),
  changed_by: Nullable(Type.String()),
});
export type ControlRow = Static<typeof ControlRow>;

export const ControlList = Type.Object({ kinds: Type.Array(ControlRow) });
export type ControlList = Static<typeof ControlList>;

export const ControlPatch = Type.Object({ paused: Type.Boolean() }, { additionalProperties: false });
export type ControlPatch = Static<typeof ControlPatch>;

export const KindParams = Type.Object({ kind: literals(JOB_KINDS) });
export type KindParams = Static<typeof KindParams>;
