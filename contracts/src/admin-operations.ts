import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { JOB_KINDS } from './job-message.ts';

export { JOB_KINDS, type JobKind } from './job-message.ts';

/**
 * The admin API's day-2 operations (docs/operations.md): a job with its attempts, retry now,
 * the failure inbox and its promote/discard, pause/resume per kind, and the console's settings.
 * The API validates and serialises with these schemas; the console takes its types from them.
 * Browser-safe (TypeBox only): the console imports `@notes/contracts/admin`.
 */
const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Kind = Type.Union(JOB_KINDS.map((k) => Type.Literal(k)));

/** One try of a job. Webhook attempts carry the endpoint's HTTP status and the first 1 KiB it answered. */
export const JobAttempt = Type.Object({
  number: Type.Integer({ minimum: 1 }),
  started_at: DateTime,
  finished_at: Nullable(DateTime),
  outcome: Nullable(Type.String({ description: 'processed, failed, dead, … (null while running)' })),
  error_class: Nullable(Type.String()),
  error_message: Nullable(Type.String()),
  http_status: Nullable(Type.Integer()),
  response_excerpt: Nullable(Type.String({ maxLength: 1024 })),
  duration_ms: Nullable(Type.Number({ minimum: 0 })),
  trace_id: Nullable(Type.String()),
});
export type JobAttempt = Static<typeof JobAttempt>;

/** GET /api/admin/jobs/:id — the job, its payload and its attempts, oldest first. */
export const JobDetail = Type.Object({
  id: Type.String(),
  kind: Kind,
  note_id: Type.String(),
  user_id: Type.String(),
  status: Type.String(),
  priority: Type.String(),
  attempts: Type.Integer({ minimum: 0 }),
  last_error: Nullable(Type.String()),
  payload: Type.Unknown(),
  created_at: DateTime,
  updated_at: DateTime,
  history: Type.Array(JobAttempt),
});
export type JobDetail = Static<typeof JobDetail>;

/** POST /api/admin/jobs/:id/retry → 202. */
export const RetryJobResponse = Type.Object({ id: Type.String(), status: Type.String() });
export type RetryJobResponse = Static<typeof RetryJobResponse>;

/** Dead jobs of one kind that failed the same way (error class + normalised message). */
export const FailureGroup = Type.Object({
  group_id: Type.String(),
  kind: Kind,
  error_class: Type.String(),
  message: Type.String(),
  count: Type.Integer({ minimum: 0 }),
  first_seen: DateTime,
  last_seen: DateTime,
});
export type FailureGroup = Static<typeof FailureGroup>;

/** GET /api/admin/failures?kind= */
export const FailureGroupList = Type.Object({ data: Type.Array(FailureGroup) });
export type FailureGroupList = Static<typeof FailureGroupList>;

export const FailureFilter = Type.Object(
  {
    kind: Type.Optional(Kind),
    /** Case-insensitive text of the error. */
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    user_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    older_than_hours: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type FailureFilter = Static<typeof FailureFilter>;

/**
 * POST /api/admin/failures/promote and /discard: one selection (a group, ids, a filter, or
 * everything with `all`), optionally as a dry run that changes nothing.
 */
export const FailureActionRequest = Type.Object(
  {
    group_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    job_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 1000 })),
    filter: Type.Optional(FailureFilter),
    all: Type.Optional(Type.Boolean()),
    dry_run: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type FailureActionRequest = Static<typeof FailureActionRequest>;

/** `moved` for a promote, `discarded` for a discard; `job_ids` are those matched (or moved). */
export const FailureActionResult = Type.Object({
  matched: Type.Integer({ minimum: 0 }),
  moved: Type.Optional(Type.Integer({ minimum: 0 })),
  discarded: Type.Optional(Type.Integer({ minimum: 0 })),
  job_ids: Type.Array(Type.String()),
});
export type FailureActionResult = Static<typeof FailureActionResult>;

/** Whether consumers take work of a kind; kept across restarts. */
export const KindControl = Type.Object({
  kind: Kind,
  paused: Type.Boolean(),
  changed_at: Nullable(DateTime),
  changed_by: Nullable(Type.String()),
});
export type KindControl = Static<typeof KindControl>;

/** GET /api/admin/control */
export const ControlList = Type.Object({ kinds: Type.Array(KindControl) });
export type ControlList = Static<typeof ControlList>;

/** PUT /api/admin/control/:kind */
export const ControlUpdate = Type.Object({ paused: Type.Boolean() }, { additionalProperties: false });
export type ControlUpdate = Static<typeof ControlUpdate>;

/** GET /api/admin/config — what the console needs to know of the server's settings. */
export const AdminConsoleConfig = Type.Object({
  /** A trace viewer URL with `{trace_id}` in it, or null when none is configured. */
  trace_url_template: Nullable(Type.String()),
});
export type AdminConsoleConfig = Static<typeof AdminConsoleConfig>;

/** The trace viewer link for one trace id, or null without a template or an id. */
export function traceUrl(template: string | null | undefined, traceId: string | null | undefined): string | null {
  if (!template || !traceId) return null;
  return template.replaceAll('{trace_id}', encodeURIComponent(traceId));
}
