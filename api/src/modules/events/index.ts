/** What other modules may import from this one (docs/architecture.md); the rest of the folder is private to it. */
export { type EventPayload, eventInsert, readEventPayload } from './event-rows.ts';
export type { EventPublisher, NoteEventType, StreamEvent } from './events.ts';
