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
/** The payload column is TEXT: an event whose note doesn't fit is stored by reference. */
const MAX_INLINE_BYTES = 60_000;

/** The row carrying one live event; `json` is `data` serialised, when the caller has it. */
export function eventInsert(userId: string, type: NoteEventType, data: unknown, json?: string): RowInsert {
  const head = `{"kind":"${KIND}","user_id":${JSON.stringify(userId)},"type":"${type}"`;
  let payload = `${head},"data":${json ?? JSON.stringify(data)}}`;
  if (Buffer.byteLength(payload, 'utf8') > MAX_INLINE_BYTES) {
    // The relay reads the note when it publishes (the newest version, which a client reading
    // the note on this event would get anyway).
    payload = `${head},"note_id":${JSON.stringify((data as { id: string }).id)}}`;
  }
  return rowInsert(liveEvents, { payload, createdAt: new Date() });
}
