/** What other modules may import from this one (docs/architecture.md); the rest of the folder is private to it. */
export { accessIndex, auditOrder, type JobScope, jobOrder, noteOrder, seeksOn, userOrder } from './list-orders.ts';
export type { GenerationSet, NoteCache } from './note-cache.ts';
export { findNote, findNoteViews, type NoteViewRow, toNote } from './notes-repository.ts';
export type { Job, Note, SortField } from './schemas.ts';
