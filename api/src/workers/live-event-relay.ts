import type { Config } from '@notes/contracts';
import type { Logger } from 'pino';
import { type EventPayload, type EventPublisher, readEventPayload, type StreamEvent } from '../modules/events/index.ts';
import { findNoteViews, type NoteCache, toNote } from '../modules/notes/index.ts';
import type { Database } from '../platform/db/client.ts';
import { liveEvents } from '../platform/db/schema.ts';
import type { Statement, WriteTx } from '../platform/db/sql-writer.ts';
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

const lockUnsent = (limit: number): Statement => ({
  sql: 'SELECT id, payload FROM live_events ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED',
  values: [limit],
});

export interface LiveEventRelayDeps {
  config: Config;
  database: Database;
  events: EventPublisher;
  logger: Logger;
  /**
   * Drops the user's cached note reads before their events go out (a client reading on one gets
   * the new note): the invalidation travels in the publish call, or alone when there is none.
   */
  noteCache: Pick<NoteCache, 'invalidate' | 'nextGeneration'>;
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
   * One batch, in id order (each user's events keep their order), one publish call per user.
   * Stops at the first event Redis refuses: the published ones are deleted (outbox-rows.ts), the
   * rest wait for the next try. READ COMMITTED for the reason the job relay gives (outbox-relay.ts).
   */
  async #publishBatch(): Promise<RelayRound> {
    return this.deps.database.writer.transaction(async (tx): Promise<RelayRound> => {
      const rows = await tx.query<Row>(lockUnsent(BATCH_SIZE));
      if (rows.length === 0) return 'idle';
      const events = rows.map((r) => ({ id: r.id, event: readEventPayload(r.payload) }));
      const notes = await notesOf(tx, events);
      const byUser = new Map<string, StreamEvent[]>();
      for (const { id, event } of events) {
        const json = dataOf(event, notes);
        const mine = byUser.get(event.userId) ?? [];
        byUser.set(event.userId, mine);
        if (json !== null) mine.push({ type: event.type, json, id });
      }
      // Every command goes out in this turn, in order, on the one connection: one pipelined round
      // trip for the batch (issue 13); each user's call sets their note-cache generation first.
      const { noteCache } = this.deps;
      const published = new Map<string, Promise<unknown>>();
      for (const [userId, mine] of byUser) {
        const call = mine.length
          ? this.deps.events.publishOrThrow(userId, mine, noteCache.nextGeneration(userId))
          : noteCache.invalidate(userId);
        published.set(userId, call);
      }
      const settled = await Promise.allSettled(published.values());
      const outcomes = new Map([...published.keys()].map((userId, i) => [userId, settled[i]!]));
      // A call that failed may not have invalidated: the cache's own retry takes that over.
      for (const [userId, outcome] of outcomes)
        if (outcome.status === 'rejected') void noteCache.invalidate(userId).catch(() => {});
      const sent: number[] = [];
      let refused = false;
      for (const { id, event } of events) {
        const outcome = outcomes.get(event.userId)!;
        if (outcome.status === 'rejected') {
          // Events after it that did go out are marked unsent too: their ids make the repeat a no-op.
          this.deps.logger.warn(
            { err: outcome.reason },
            'live events not published (redis unavailable); they stay in the outbox',
          );
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
}

/** A note an event refers to, as JSON, and its owner. */
type NoteJson = { userId: string; json: string };

/**
 * The notes the batch's events refer to, read in one statement by primary key, each rendered as
 * GET /api/notes/:id renders it (toNote) and serialised once however many events refer to it.
 * The batch's transaction reads them (READ COMMITTED: the newest committed version, no lock).
 */
async function notesOf(tx: WriteTx, events: readonly { event: EventPayload }[]): Promise<Map<string, NoteJson>> {
  const ids = new Set<string>();
  for (const { event } of events) if (event.noteId !== null) ids.add(event.noteId);
  const rows = await findNoteViews(tx, [...ids]);
  return new Map(rows.map((row) => [row.id, { userId: row.userId, json: JSON.stringify(toNote(row)) }]));
}

/**
 * The event's data as JSON: as stored (inline, `note.deleted`'s `{id}` or a row an earlier version
 * wrote), or its note's newest version. Null when the note it refers to is gone (deleted since):
 * nothing is sent, and the note's `note.deleted` event, which always follows its others, tells
 * the client (docs/isolation.md, "Live events through the outbox").
 */
function dataOf(event: EventPayload, notes: ReadonlyMap<string, NoteJson>): string | null {
  if (event.noteId === null) return event.dataJson ?? 'null';
  const note = notes.get(event.noteId);
  return note && note.userId === event.userId ? note.json : null;
}
