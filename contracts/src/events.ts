/**
 * The live events a user's SSE stream carries (`GET /api/events`): `event:` is one of these
 * types, `data:` the note as the API shows it (`{id}` for `note.deleted`), `id:` resumable with
 * `Last-Event-ID`. The API publishes them; clients (the console among them) read them.
 */
export const NOTE_EVENT_TYPES = [
  'note.created',
  'note.updated',
  'note.deleted',
  'note.processed',
  'note.dead',
] as const;
export type NoteEventType = (typeof NOTE_EVENT_TYPES)[number];
