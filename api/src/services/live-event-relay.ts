import type { Config } from '@notes/contracts';
import type { Logger } from 'pino';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../db/client.ts';
import { outbox } from '../db/schema.ts';
import { type RowInsert, rowInsert, type Statement } from '../db/sql-writer.ts';
import { findNote, toNote } from '../repositories/notes-repository.ts';
import { type RelayRound, RelayWorker } from '../workers/relay-worker.ts';
import type { EventPublisher, NoteEventType } from './events.ts';

/**
 * Live events through the outbox (docs/isolation.md): a write's event is an outbox row written in
 * the write's own transaction, and this relay publishes it to the user's Redis stream, so an API
 * that dies between its commit and the publication loses no event (another instance's relay, or
 * this one restarted, publishes it). A crash after the publication and before the row is marked
 * sent publishes it again, and the stream takes it once (the publish script remembers the user's
 * recent event ids, events.ts).
 *
 * Event rows share the outbox table with job rows and are told apart by the row's `kind`
 * (`event`; their `job_id` is `ev-` and 32 hex digits, the event's id). The job relay takes only
 * job rows and this relay only event rows, so a Redis outage never holds up jobs and a RabbitMQ
 * outage never holds up events; both run the same loop (workers/relay-worker.ts).
 */
export const EVENT_ROW_PREFIX = 'ev-';
const KIND = 'live.event';
/** The outbox payload is TEXT: an event whose note doesn't fit is stored by reference. */
const MAX_INLINE_BYTES = 60_000;
const BATCH_SIZE = 250;

type Row = { id: number; payload: string };
type Payload = { kind: string; user_id: string; type: NoteEventType; data?: unknown; note_id?: string };

/** The outbox row carrying one live event; `json` is `data` serialised, when the caller has it. */
export function eventInsert(userId: string, type: NoteEventType, data: unknown, json?: string): RowInsert {
  const head = `{"kind":"${KIND}","user_id":${JSON.stringify(userId)},"type":"${type}"`;
  let payload = `${head},"data":${json ?? JSON.stringify(data)}}`;
  if (Buffer.byteLength(payload, 'utf8') > MAX_INLINE_BYTES) {
    // The relay reads the note when it publishes (the newest version, which a client reading
    // the note on this event would get anyway).
    payload = `${head},"note_id":${JSON.stringify((data as { id: string }).id)}}`;
  }
  return rowInsert(outbox, {
    jobId: `${EVENT_ROW_PREFIX}${uuidv7().replaceAll('-', '')}`,
    payload,
    priority: 'normal',
    traceparent: null,
    createdAt: new Date(),
    kind: 'event',
  });
}

const lockUnsent = (limit: number): Statement => ({
  sql: `SELECT id, payload FROM outbox WHERE sent_at IS NULL AND kind = 'event'
        ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
  values: [limit],
});

const markSent = (ids: readonly number[], now: Date): Statement => ({
  sql: `UPDATE outbox SET sent_at = ?, publish_attempts = publish_attempts + 1 WHERE id IN (${ids.map(() => '?').join(',')})`,
  values: [now, ...ids],
});

export interface LiveEventRelayDeps {
  config: Config;
  database: Database;
  events: EventPublisher;
  logger: Logger;
  /** Drops the user's cached note reads before their event goes out (a client reading on it gets the new note). */
  invalidateNotes: (userId: string) => Promise<unknown>;
}

/** Publishes event rows: nudged after each commit that wrote some, and polling for stragglers. */
export class LiveEventRelay {
  readonly #worker: RelayWorker;

  constructor(private readonly deps: LiveEventRelayDeps) {
    this.#worker = new RelayWorker(() => this.#publishBatch(), {
      name: 'live-events',
      logger: deps.logger,
      pollMs: deps.config.outboxPollMs,
    });
  }

  /** Idempotent. */
  start(): void {
    this.#worker.start();
  }

  nudge(): void {
    this.#worker.nudge();
  }

  /** Idempotent. Finishes the batch in progress. */
  async stop(): Promise<void> {
    await this.#worker.stop();
  }

  /**
   * One batch, in id order (each user's events keep their order). Stops at the first event Redis
   * refuses: the published ones are marked sent, the rest wait for the next try. READ COMMITTED
   * for the reason the job relay gives (outbox-relay.ts).
   */
  async #publishBatch(): Promise<RelayRound> {
    return this.deps.database.writer.transaction(async (tx): Promise<RelayRound> => {
      const rows = await tx.query<Row>(lockUnsent(BATCH_SIZE));
      if (rows.length === 0) return 'idle';
      const events = rows.map((r) => ({ id: r.id, event: JSON.parse(r.payload) as Payload }));
      const invalidated = new Set<string>();
      const sent: number[] = [];
      let refused = false;
      for (const { id, event } of events) {
        if (!invalidated.has(event.user_id)) {
          invalidated.add(event.user_id);
          await this.deps.invalidateNotes(event.user_id).catch(() => {});
        }
        const json = await this.#dataOf(event);
        try {
          if (json !== null) await this.deps.events.publishOrThrow(event.user_id, event.type, json, id);
        } catch (err) {
          this.deps.logger.warn({ err }, 'live events not published (redis unavailable); they stay in the outbox');
          refused = true;
          break;
        }
        sent.push(id);
      }
      if (sent.length) tx.defer(markSent(sent, new Date()));
      if (refused) return 'wait';
      return sent.length === BATCH_SIZE ? 'more' : 'idle';
    }, 'READ COMMITTED');
  }

  /** The event's data as JSON; null when it referred to a note that is gone (nothing to send). */
  async #dataOf(event: Payload): Promise<string | null> {
    if (event.note_id === undefined) return JSON.stringify(event.data ?? null);
    const row = await findNote(this.deps.database.db, event.user_id, event.note_id);
    return row ? JSON.stringify(toNote(row)) : null;
  }
}
