import { JOB_KINDS, NoteResult, PRIORITIES, SORT_FIELDS, type SortField } from '@notes/contracts';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { MAX_OFFSET } from '../../platform/db/keyset.ts';
import { JOB_STATUSES, NOTE_STATUSES } from '../../platform/db/schema.ts';

/**
 * The notes resource: one TypeBox schema per shape drives request validation, response
 * serialisation, the TypeScript types and the OpenAPI document (docs/api.md).
 */

/** 1–200 code points after trimming (the route trims before validating; docs/api.md). */
export const TITLE_MAX_CODE_POINTS = 200;
/** The body is at most 64 KiB of UTF-8 (docs/api.md); bytes are checked before validation. */
export const BODY_MAX_BYTES = 65_536;
export const LIST_DEFAULT_LIMIT = 20;
export const LIST_MAX_LIMIT = 100;
export const DEFAULT_SORT = '-created_at';

/** Fields the server owns: a request naming one is a 400 that names it. */
export const READ_ONLY_FIELDS = [
  'id',
  'status',
  'version',
  'result',
  'attempts',
  'last_error',
  'created_at',
  'updated_at',
  'processed_at',
] as const;

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const PrioritySchema = literals(PRIORITIES);
export const NoteStatusSchema = literals(NOTE_STATUSES);
const Timestamp = Type.String({ format: 'date-time' });

const Title = Type.String({
  minLength: 1,
  maxLength: TITLE_MAX_CODE_POINTS,
  description: 'Trimmed before validation and stored trimmed; 1–200 code points.',
});
// maxLength counts code points; the byte limit (≤ 65,536 UTF-8 bytes) is checked separately.
const Body = Type.String({ maxLength: BODY_MAX_BYTES, description: 'At most 65,536 UTF-8 bytes.' });

/** Registered with addSchema under `$id`, so OpenAPI shows it once (definition in @notes/contracts). */
export const NoteResultSchema = Type.Object(NoteResult.properties, { $id: 'NoteResult', additionalProperties: false });

export const NoteSchema = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    body: Type.String(),
    priority: PrioritySchema,
    status: NoteStatusSchema,
    version: Type.Integer({ minimum: 1 }),
    result: Type.Union([Type.Unsafe<Static<typeof NoteResultSchema>>(Type.Ref('NoteResult')), Type.Null()]),
    attempts: Type.Integer(),
    last_error: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
    updated_at: Timestamp,
    processed_at: Type.Union([Timestamp, Type.Null()]),
  },
  { $id: 'Note', additionalProperties: false },
);
export type Note = Static<typeof NoteSchema>;

export const CreateNoteBodySchema = Type.Object(
  { title: Title, body: Type.Optional(Body), priority: Type.Optional(PrioritySchema) },
  { additionalProperties: false },
);
export type CreateNoteBody = Static<typeof CreateNoteBodySchema>;

export const UpdateNoteBodySchema = Type.Object(
  { title: Type.Optional(Title), body: Type.Optional(Body), priority: Type.Optional(PrioritySchema) },
  { additionalProperties: false, minProperties: 1, description: 'At least one field; `{}` is a 400.' },
);
export type UpdateNoteBody = Static<typeof UpdateNoteBodySchema>;

export const NoteParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

// The sort fields are a wire format the admin API shares: contracts holds them.
export { SORT_FIELDS, type SortField };

const SORTS = SORT_FIELDS.flatMap((f) => [f, `-${f}`]);

export const ListNotesQuerySchema = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: LIST_MAX_LIMIT, default: LIST_DEFAULT_LIMIT }),
    offset: Type.Integer({
      minimum: 0,
      maximum: MAX_OFFSET,
      default: 0,
      description: `For small pages; at most ${MAX_OFFSET}. Page further with \`cursor\` (docs/data.md).`,
    }),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        description: 'The `next_cursor` of the previous page (same sort); not with `offset`.',
      }),
    ),
    sort: Type.Union(
      SORTS.map((s) => Type.Literal(s)),
      { default: DEFAULT_SORT, description: 'A field name; a leading `-` sorts descending.' },
    ),
    status: Type.Optional(NoteStatusSchema),
    priority: Type.Optional(PrioritySchema),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'Words of title or body: every word of 3 or more characters must start a word of the note, ' +
          'case- and accent-insensitively (docs/data.md).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ListNotesQuery = Static<typeof ListNotesQuerySchema>;

export const NoteListSchema = Type.Object({
  data: Type.Array(Type.Unsafe<Note>(Type.Ref('Note'))),
  total: Type.Integer({ description: 'Exact when `total_exact`; otherwise a lower bound (10,000).' }),
  total_exact: Type.Boolean(),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page.' }),
});
export type NoteList = Static<typeof NoteListSchema>;

export const JobSchema = Type.Object(
  {
    id: Type.String(),
    note_id: Type.String(),
    kind: literals(JOB_KINDS),
    priority: PrioritySchema,
    status: literals(JOB_STATUSES),
    note_version: Type.Integer(),
    webhook_id: Type.Union([Type.String(), Type.Null()]),
    attempts: Type.Integer(),
    last_error: Type.Union([Type.String(), Type.Null()]),
    dead_reason: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
    updated_at: Timestamp,
    started_at: Type.Union([Timestamp, Type.Null()]),
    finished_at: Type.Union([Timestamp, Type.Null()]),
  },
  { $id: 'Job', additionalProperties: false },
);
export type Job = Static<typeof JobSchema>;

export const JobHistoryQuerySchema = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: LIST_MAX_LIMIT, default: LIST_MAX_LIMIT }),
    offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  },
  { additionalProperties: false },
);
export const JobHistorySchema = Type.Object({
  data: Type.Array(Type.Unsafe<Job>(Type.Ref('Job'))),
  total: Type.Integer(),
});

/** Headers a write may carry (section 5 and 11). Other headers are allowed. */
export const WriteHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'Scoped to the caller, kept 24 h.' }),
  ),
});
export const ConditionalWriteHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  'if-match': Type.Optional(Type.String({ maxLength: 1024, description: 'An ETag `"<version>"`, a list, or `*`.' })),
});

/** Shared schemas registered with `addSchema`, so the OpenAPI document shows them once. */
export const SHARED_NOTE_SCHEMAS: TSchema[] = [NoteResultSchema, NoteSchema, JobSchema];
