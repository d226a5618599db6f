import type { Config } from '@notes/contracts';
import type { Logger } from 'pino';
import type { EventPublisher, NoteEventType } from '../modules/events/index.ts';
import { findNote, toNote } from '../modules/notes/index.ts';
import type { Database } from '../platform/db/client.ts';
import { liveEvents } from '../platform/db/schema.ts';
import type { Statement } from '../platform/db/sql-writer.ts';
import { deletePublished } from './outbox-rows.ts';
import { type RelayRound, RelayWorker } from './relay-worker.ts';

/**
 * Publishes the rows of `live_events` (modules/events/event-rows.ts) to the users' Redis streams.
 * Events have their table, jobs the outbox, each with its relay, so a Redis outage never holds up
 * jobs and a RabbitMQ outage never holds up events; both run the same loop (relay-worker.ts).
 * Every row of the table is unpublished (published ones are deleted), so a batch is the first rows
 * by primary key: no secondary index to read or to keep up per event.
 */
const BATCH_SIZE = 250;

type Row = { id: number; payload: string };
type Payload = { kind: string; user_id: string; type: NoteEventType; data?: unknown; note_id?: string };

const lockUnsent = (limit: number): Statement => ({
  sql: 'SELECT id, payload FROM live_events ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED',
  values: [limit],
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
   * refuses: the published ones are deleted (outbox-rows.ts), the rest wait for the next try. READ COMMITTED
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
      if (sent.length) tx.defer(deletePublished(liveEvents, sent));
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
