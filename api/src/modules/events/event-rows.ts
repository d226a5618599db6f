import { liveEvents } from '../../platform/db/schema.ts';
import { type RowInsert, rowInsert } from '../../platform/db/sql-writer.ts';
import type { NoteEventType } from './events.ts';

/**
 * Live events through the outbox (docs/isolation.md): a write's event is a row of `live_events`
 * written in the write's own transaction, and the live-event relay publishes it to the user's
 * Redis stream, so an API that dies between its commit and the publication loses no event
 * (another instance's relay, or this one restarted, publishes it). A crash after the publication
 * and before the row is deleted publishes it again, and the stream takes it once (the publish
 * script remembers the user's recent event ids, events.ts).
 *
 * Events have their own table, apart from the job outbox, so a Redis outage never holds up jobs
 * and a RabbitMQ outage never holds up events, and each relay reads its table in key order.
 */
const KIND = 'live.event';

/** Where an inline event's data starts: `data` is the payload's last field, after the head. */
const DATA_FIELD = ',"data":';

/**
 * The payload of one live event: its head (kind, user, type), then a reference to its note, or,
 * for `note.deleted` (whose data is `{id}`, contracts/src/events.ts), its data inline. An event
 * carrying a note is always by reference: the note's row already holds it, and writing it again
 * (twice per note: created, processed) made a note's body most of what MariaDB parsed, logged and
 * purged (docs/isolation.md, "Live events through the outbox"). The relay reads the note when it
 * publishes: the newest version, which a client reading the note on this event would get anyway.
 *
 * Rows written inline by an earlier version (`…,"data":<note>}`) still publish as they are
 * (readEventPayload).
 */
export function eventPayload(userId: string, type: NoteEventType, noteId: string): string {
  const head = `{"kind":"${KIND}","user_id":${JSON.stringify(userId)},"type":"${type}"`;
  const id = JSON.stringify(noteId);
  return type === 'note.deleted' ? `${head}${DATA_FIELD}{"id":${id}}}` : `${head},"note_id":${id}}`;
}

/** An event payload as the relay needs it: the head parsed, the inline data left as JSON text. */
export interface EventPayload {
  userId: string;
  type: NoteEventType;
  /** The data as stored (JSON), or null for an event by reference. */
  dataJson: string | null;
  noteId: string | null;
}

/**
 * Reads eventPayload's format, and the inline one of earlier versions, without parsing the data and serialising it again (issue 13: that
 * was ~1% of a busy API's CPU). The head's values are JSON strings, in which a `"` is always
 * escaped, so the first `,"data":` is the field separator.
 */
export function readEventPayload(payload: string): EventPayload {
  const at = payload.indexOf(DATA_FIELD);
  const inline = at >= 0 && payload.endsWith('}');
  const head = JSON.parse(inline ? `${payload.slice(0, at)}}` : payload) as {
    user_id: string;
    type: NoteEventType;
    note_id?: string;
  };
  return {
    userId: head.user_id,
    type: head.type,
    dataJson: inline ? payload.slice(at + DATA_FIELD.length, -1) : null,
    noteId: head.note_id ?? null,
  };
}

/** The row carrying one live event about the note `noteId`. */
export function eventInsert(userId: string, type: NoteEventType, noteId: string): RowInsert {
  return rowInsert(liveEvents, { payload: eventPayload(userId, type, noteId), createdAt: new Date() });
}
