import { type Static, Type } from '@sinclair/typebox';
import { JOB_KINDS } from './job-message.ts';
import { NoteResult } from './note-result.ts';
import { AttemptReport } from './operations.ts';
import { PRIORITIES } from './priorities.ts';
import { JOB_STATUSES, NOTE_STATUSES } from './statuses.ts';

/**
 * The internal callback routes the consumers call (service identity only). One schema per shape
 * drives validation, serialisation and the handler types.
 */

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const JobIdParams = Type.Object({ jobId: Type.String({ minLength: 1, maxLength: 64 }) });
export type JobIdParams = Static<typeof JobIdParams>;

const Attempt = Type.Integer({ minimum: 1, maximum: 1000, description: 'The 1-based attempt (x-notes-attempt).' });
/**
 * Which pass through the pipeline this delivery belongs to: '0' for the first, the
 * `x-notes-promoted-at` header for a job promoted back from the DLQ. It scopes the
 * processed-message keys, so a promoted job's callbacks are not mistaken for the old run's.
 */
const Run = Type.Optional(Type.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9:._-]+$' }));

/**
 * True when this message is a first copy: not a redelivery, not counted as one (x-notes-deliveries),
 * not put back while the API was unreachable (x-notes-requeued). A first copy of a job another
 * delivery is running in the same run and attempt is a duplicate publish (the outbox relay sends
 * again what it could not mark sent): it must not run the job a second time. Any other copy may
 * be the one left after a crash and runs.
 */
const FirstCopy = Type.Optional(Type.Boolean());

export const StartBody = Type.Object(
  { attempt: Attempt, run: Run, first_copy: FirstCopy },
  { additionalProperties: false },
);
export type StartBody = Static<typeof StartBody>;

/** What the consumer knows about the attempt (contracts: AttemptReport), kept in job_attempts. */
const Report = AttemptReport.properties;

export const CompleteBody = Type.Object(
  { attempt: Attempt, run: Run, result: Type.Optional(NoteResult), ...Report },
  { additionalProperties: false },
);
export type CompleteBody = Static<typeof CompleteBody>;

export const FailBody = Type.Object(
  {
    attempt: Attempt,
    run: Run,
    /** The error of this attempt (last_error). */
    error: Type.String({ minLength: 1, maxLength: 4000 }),
    /** True when the message went to the DLQ: the job becomes dead. */
    final: Type.Boolean(),
    /** Why it is dead (`max_attempts: …`, `malformed: …`, `poison: …`); defaults to `error`. */
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 4000 })),
    /**
     * webhook.deliver only: the endpoint answered `410 Gone`, so the API disables it and enqueues
     * no more deliveries to it (docs/isolation.md).
     */
    webhook_gone: Type.Optional(Type.Boolean()),
    ...Report,
  },
  { additionalProperties: false },
);
export type FailBody = Static<typeof FailBody>;

const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);

export const InternalJob = Type.Object({
  id: Type.String(),
  kind: literals(JOB_KINDS),
  status: literals(JOB_STATUSES),
  note_id: Type.String(),
  note_version: Type.Integer(),
  user_id: Type.String(),
  priority: literals(PRIORITIES),
  attempts: Type.Integer(),
  webhook_id: Type.Union([Type.String(), Type.Null()]),
});
export type InternalJob = Static<typeof InternalJob>;

/** The note as the public API shows it (also the webhook payload's `data` and the live event). */
export const InternalNote = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  title: Type.String(),
  body: Type.String(),
  priority: literals(PRIORITIES),
  status: literals(NOTE_STATUSES),
  version: Type.Integer(),
  result: Type.Union([NoteResult, Type.Null()]),
  attempts: Type.Integer(),
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: DateTime,
  updated_at: DateTime,
  processed_at: NullableDateTime,
});
export type InternalNote = Static<typeof InternalNote>;

export const InternalWebhook = Type.Object({
  id: Type.String(),
  url: Type.String(),
  secret: Type.String(),
  events: Type.Array(Type.String()),
});
export type InternalWebhook = Static<typeof InternalWebhook>;

/**
 * Why a job must not run: its note changed, it or its endpoint is gone, it is already settled, or
 * another delivery is running it (`running`: this copy is a duplicate, see `first_copy`).
 */
export const SKIP_REASONS = ['stale', 'deleted', 'finished', 'unknown', 'running', 'disabled'] as const;

export type SkipReason = (typeof SKIP_REASONS)[number];

export const StartResponse = Type.Object({
  proceed: Type.Boolean(),
  reason: Type.Optional(literals(SKIP_REASONS)),
  job: Type.Optional(InternalJob),
  note: Type.Optional(InternalNote),
  webhook: Type.Optional(InternalWebhook),
});
export type StartResponse = Static<typeof StartResponse>;

/**
 * What the API did with a complete/fail callback. `recorded: false` means nothing changed: a
 * duplicate (already recorded), a stale or deleted note (the job is marked skipped), a job
 * already settled, or an unknown job. The consumer acks in every case.
 */
export const RECORD_RESULTS = [
  'processed',
  'failed',
  'dead',
  'stale',
  'deleted',
  'duplicate',
  'finished',
  'unknown',
] as const;
export type RecordResult = (typeof RECORD_RESULTS)[number];

export const RecordResponse = Type.Object({
  recorded: Type.Boolean(),
  outcome: literals(RECORD_RESULTS),
});
export type RecordResponse = Static<typeof RecordResponse>;

/*
 * The batch routes: one request and one transaction for many jobs. Each item is the single
 * route's body plus `job_id`; each answer is the single route's answer plus `job_id`, in the
 * order of the request. Items are applied in order, as if sent one by one (a job may appear twice).
 */

export const MAX_BATCH = 500;

/**
 * The W3C trace context of the job the item belongs to (its consume span): a batch request is a
 * trace of its own, so the jobs it enqueues (webhook deliveries) continue the item's trace instead.
 */
const Traceparent = Type.Optional(Type.String({ pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$' }));
const JobId = Type.String({ minLength: 1, maxLength: 64 });
const batchOf = <T extends ReturnType<typeof Type.Object>>(item: T) =>
  Type.Object({ jobs: Type.Array(item, { minItems: 1, maxItems: MAX_BATCH }) }, { additionalProperties: false });

export const StartItem = Type.Object(
  { job_id: JobId, ...StartBody.properties, traceparent: Traceparent },
  { additionalProperties: false },
);
export type StartItem = Static<typeof StartItem>;
export const CompleteItem = Type.Object(
  { job_id: JobId, ...CompleteBody.properties, traceparent: Traceparent },
  { additionalProperties: false },
);
export type CompleteItem = Static<typeof CompleteItem>;
export const FailItem = Type.Object(
  { job_id: JobId, ...FailBody.properties, traceparent: Traceparent },
  { additionalProperties: false },
);
export type FailItem = Static<typeof FailItem>;

export const StartBatchBody = batchOf(StartItem);
export type StartBatchBody = Static<typeof StartBatchBody>;
export const CompleteBatchBody = batchOf(CompleteItem);
export type CompleteBatchBody = Static<typeof CompleteBatchBody>;
export const FailBatchBody = batchOf(FailItem);
export type FailBatchBody = Static<typeof FailBatchBody>;

export const StartItemResponse = Type.Object({ job_id: Type.String(), ...StartResponse.properties });
export type StartItemResponse = Static<typeof StartItemResponse>;
export const StartBatchResponse = Type.Object({ results: Type.Array(StartItemResponse) });
export type StartBatchResponse = Static<typeof StartBatchResponse>;

/**
 * A batch item can be refused on its own (`rejected`, with `error`: what the single route answers
 * with 400, e.g. a note.process completion without a result); the rest of the batch still applies.
 */
export const ITEM_RESULTS = [...RECORD_RESULTS, 'rejected'] as const;
export type ItemResult = (typeof ITEM_RESULTS)[number];
export const RecordItemResponse = Type.Object({
  job_id: Type.String(),
  recorded: Type.Boolean(),
  outcome: literals(ITEM_RESULTS),
  error: Type.Optional(Type.String()),
});
export type RecordItemResponse = Static<typeof RecordItemResponse>;
export const RecordBatchResponse = Type.Object({ results: Type.Array(RecordItemResponse) });
export type RecordBatchResponse = Static<typeof RecordBatchResponse>;

/**
 * The mixed batch route (`POST /internal/jobs/callbacks`): starts, completions and failures of
 * many jobs in one request and one transaction, which is what the consumers send under load. Each
 * list is what its own batch route takes, and is answered the same way, in its order. The lists
 * are applied completions first, then failures, then starts: items of one request are
 * concurrent, so any order is one they could have arrived in, and this one finishes work first.
 */
const listOf = <T extends ReturnType<typeof Type.Object>>(item: T) =>
  Type.Optional(Type.Array(item, { maxItems: MAX_BATCH }));
export const CallbacksBody = Type.Object(
  { start: listOf(StartItem), complete: listOf(CompleteItem), fail: listOf(FailItem) },
  { additionalProperties: false, minProperties: 1 },
);
export type CallbacksBody = Static<typeof CallbacksBody>;
export const CallbacksResponse = Type.Object({
  start: Type.Array(StartItemResponse),
  complete: Type.Array(RecordItemResponse),
  fail: Type.Array(RecordItemResponse),
});
export type CallbacksResponse = Static<typeof CallbacksResponse>;
