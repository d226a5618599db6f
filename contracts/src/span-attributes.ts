/**
 * The one list of our own span attribute names (the OpenTelemetry counterpart of
 * metric-names.ts). Custom attributes live under `notes.` so they never collide with the
 * semantic conventions the instrumentations write (`messaging.*`, `http.*`, `db.*`). Tempo
 * searches and the tests use these names.
 */
export const SPAN_ATTRIBUTES = {
  jobId: 'notes.job.id',
  noteId: 'notes.note.id',
  jobKind: 'notes.job.kind',
  priority: 'notes.job.priority',
  /** 1 on the first delivery; the retry tiers count up from there. */
  attempt: 'notes.job.attempt',
} as const;
export type SpanAttributeName = (typeof SPAN_ATTRIBUTES)[keyof typeof SPAN_ATTRIBUTES];
