import { currentTraceparent, DEFAULT_PRIORITY } from '@notes/contracts';
import { uuidv7 } from 'uuidv7';
import type { AppDeps } from '../../app-types.ts';
import { RESULT_RESERVE } from '../../platform/db/schema.ts';
import type { RowInsert, WriteTx } from '../../platform/db/sql-writer.ts';
import { NotFoundError, PreconditionFailedError } from '../../platform/errors/index.ts';
import type { NoteEventType } from '../events/index.ts';
import { eventInsert } from '../events/index.ts';
import {
  type IdempotencyService,
  RETRY,
  WriteClaim,
  type WriteOutcome,
  type WriteRequest,
  type WriteResponse,
} from '../idempotency/index.ts';
import { jobInserts, listJobsForNote, toJob } from '../jobs/index.ts';
import { DEFAULT_LIST_FIELD, type NoteCache, noteField } from './note-cache.ts';
import {
  deleteNote,
  findNote,
  findNoteForUpdate,
  listNotes,
  type NoteRow,
  noteInsert,
  toNote,
  updateNote,
} from './notes-repository.ts';
import {
  type CreateNoteBody,
  DEFAULT_SORT,
  type Job,
  LIST_DEFAULT_LIMIT,
  type ListNotesQuery,
  type Note,
  type NoteList,
  type UpdateNoteBody,
} from './schemas.ts';

/** How a write arrived: what idempotency needs besides the user. */
export type WriteMeta = Omit<WriteRequest, 'userId' | 'body'>;

export const noteLocation = (id: string) => `/api/notes/${id}`;

/**
 * `If-Match` against a note's version (ETag `"<version>"`). Strong comparison (RFC 9110): a weak
 * tag never matches; `*` matches any existing note; a list matches if any member does.
 */
export function ifMatchSatisfied(header: string | undefined, version: number): boolean {
  if (header === undefined) return true;
  const tags = header.split(',').map((t) => t.trim());
  return tags.includes('*') || tags.includes(`"${version}"`);
}

/** A new note as a create writes it: ids and times are made here, so its rows are known up front. */
function newNote(userId: string, input: CreateNoteBody, now: Date): NoteRow {
  return {
    id: uuidv7(),
    userId,
    title: input.title,
    body: input.body ?? '',
    priority: input.priority ?? DEFAULT_PRIORITY,
    status: 'queued',
    version: 1,
    result: null,
    attempts: 0,
    lastError: null,
    createdAt: now,
    updatedAt: now,
    processedAt: null,
    reserve: RESULT_RESERVE,
  };
}

/**
 * What a PATCH changes. Every accepted PATCH is a change: the version goes up and a new
 * note.process job is queued, even when only the priority changed (the job carries the priority,
 * and the old job's result would be recorded against a stale version and discarded). The note
 * goes back to `queued` and its result, attempts and error are cleared, since they described the
 * previous version.
 */
function editOf(current: NoteRow, input: UpdateNoteBody, now: Date) {
  return {
    ...(input.title !== undefined ? { title: input.title } : {}),
    ...(input.body !== undefined ? { body: input.body } : {}),
    ...(input.priority !== undefined ? { priority: input.priority } : {}),
    version: current.version + 1,
    status: 'queued' as const,
    result: null,
    attempts: 0,
    lastError: null,
    processedAt: null,
    reserve: RESULT_RESERVE,
    updatedAt: now,
  };
}

/**
 * The rules of notes (docs/api.md). A write reads as its steps: claim the idempotency key (or
 * answer a repeat), build the rows, commit them in one transaction with the key's fence, the
 * note's job and outbox row and its live event's row (`live_events`), then, after the commit, remember the
 * answer, invalidate the user's read cache and nudge the relays. A commit that fails is handed to
 * the claim, which answers a replay, asks for one more try, or releases the key and throws.
 */
export class NotesService {
  private readonly idempotency: IdempotencyService;
  private readonly cache: NoteCache;

  constructor(
    private readonly deps: Pick<AppDeps, 'config' | 'database' | 'logger' | 'liveEvents' | 'outbox' | 'metrics'> & {
      idempotency: IdempotencyService;
      cache: NoteCache;
    },
  ) {
    this.idempotency = deps.idempotency;
    this.cache = deps.cache;
  }

  /**
   * A create knows its rows and its answer before it runs: its fence goes in complete, and the
   * rows go through group commit, sharing a transaction with concurrent creates.
   */
  async create(userId: string, input: CreateNoteBody, meta: WriteMeta): Promise<WriteOutcome> {
    const claim = await this.idempotency.claim({ ...meta, userId, body: input });
    if (!(claim instanceof WriteClaim)) return claim;
    const row = newNote(userId, input, new Date());
    const { response, event } = this.answer(row, 'note.created', 201, noteLocation(row.id));
    const rows = [noteInsert(row), ...this.jobOf(row).inserts, event];
    for (;;) {
      try {
        await this.deps.database.commits.submit([claim.fence(response), ...rows], claim.groupKey);
        break;
      } catch (err) {
        const next = await claim.failed(err);
        if (next !== RETRY) return next;
      }
    }
    return this.committed(claim, response, userId, row);
  }

  /** A PATCH reads and locks the note first: its fence goes in empty and is completed before the COMMIT. */
  async update(userId: string, id: string, input: UpdateNoteBody, meta: WriteMeta): Promise<WriteOutcome> {
    const claim = await this.idempotency.claim({ ...meta, userId, body: input });
    if (!(claim instanceof WriteClaim)) return claim;
    const done = await claim.transaction(this.deps.database.writer, async (tx) => {
      const current = await this.lockOwned(tx, userId, id, meta.ifMatch);
      const changes = editOf(current, input, new Date());
      const row = { ...current, ...changes };
      tx.defer(updateNote(userId, id, changes));
      tx.counts.move('notes', current.status, row.status);
      const { response, event } = this.answer(row, 'note.updated', 200, null);
      tx.insert(...this.jobOf(row).inserts, event);
      return { response, value: row };
    });
    return done.committed ? this.committed(claim, done.response, userId, done.value) : done.outcome;
  }

  /** Deletes the note; its jobs stay as history (a job of a deleted note is discarded by the pipeline). */
  async remove(userId: string, id: string, meta: WriteMeta): Promise<WriteOutcome> {
    const claim = await this.idempotency.claim({ ...meta, userId, body: undefined });
    if (!(claim instanceof WriteClaim)) return claim;
    const response: WriteResponse = { status: 204, body: null, location: null };
    const done = await claim.transaction(this.deps.database.writer, async (tx) => {
      const current = await this.lockOwned(tx, userId, id, meta.ifMatch);
      tx.defer(deleteNote(userId, id));
      tx.counts.move('notes', current.status, null);
      tx.insert(eventInsert(userId, 'note.deleted', id));
      return { response, value: null };
    });
    return done.committed ? this.committed(claim, response, userId, null) : done.outcome;
  }

  async get(userId: string, id: string): Promise<Note> {
    const cached = await this.cache.read<Note>(userId, noteField(id));
    this.countCache('note', cached.hit);
    if (cached.hit) return cached.value;
    const row = await findNote(this.deps.database.db, userId, id);
    if (!row) throw new NotFoundError('No such note.');
    const note = toNote(row);
    await this.cache.fill(userId, noteField(id), cached.generation, note);
    return note;
  }

  private countCache(cache: 'note' | 'list', hit: boolean): void {
    (hit ? this.deps.metrics.cacheHits : this.deps.metrics.cacheMisses).inc({ cache });
  }

  async list(userId: string, query: ListNotesQuery): Promise<NoteList> {
    // Only the first page of the default listing is cached: it is what a client opens with.
    const cacheable =
      query.limit === LIST_DEFAULT_LIMIT &&
      query.offset === 0 &&
      query.sort === DEFAULT_SORT &&
      !query.status &&
      !query.priority &&
      !query.q &&
      !query.cursor;
    const cached = cacheable ? await this.cache.read<NoteList>(userId, DEFAULT_LIST_FIELD) : null;
    if (cached) this.countCache('list', cached.hit);
    if (cached?.hit) return cached.value;
    const { rows, total, total_exact, nextCursor } = await listNotes(this.deps.database.db, userId, query);
    const page = { data: rows.map(toNote), total, total_exact, next_cursor: nextCursor };
    if (cached) await this.cache.fill(userId, DEFAULT_LIST_FIELD, cached.generation, page);
    return page;
  }

  async jobs(
    userId: string,
    id: string,
    page: { limit: number; offset: number },
  ): Promise<{ data: Job[]; total: number }> {
    if (!(await findNote(this.deps.database.db, userId, id))) throw new NotFoundError('No such note.');
    const { rows, total } = await listJobsForNote(this.deps.database.db, userId, id, page);
    return { data: rows.map(toJob), total };
  }

  /** The caller's note, locked for this transaction; 404 for anyone else's, 412 for a stale If-Match. */
  private async lockOwned(tx: WriteTx, userId: string, id: string, ifMatch: string | undefined): Promise<NoteRow> {
    const row = await findNoteForUpdate(tx, userId, id);
    if (!row) throw new NotFoundError('No such note.');
    if (!ifMatchSatisfied(ifMatch, row.version)) throw new PreconditionFailedError();
    return row;
  }

  /**
   * The note's processing job, written with the note. The trace context is taken here, in the
   * request: the rows may be written from another request's batch (group commit).
   */
  private jobOf(row: NoteRow) {
    return jobInserts(
      {
        kind: 'note.process',
        noteId: row.id,
        noteVersion: row.version,
        userId: row.userId,
        priority: row.priority,
        traceparent: currentTraceparent(),
      },
      row.updatedAt,
    );
  }

  /**
   * The answer and the live event's row (written in the same transaction, events module; the
   * event refers to the note, whose row holds it). The note is serialised once: answer, fence, Redis.
   */
  private answer(
    row: NoteRow,
    event: NoteEventType,
    status: number,
    location: string | null,
  ): { response: WriteResponse; event: RowInsert } {
    const note = toNote(row);
    const json = JSON.stringify(note);
    return { response: { status, location, body: note, json }, event: eventInsert(row.userId, event, row.id) };
  }

  /**
   * After the COMMIT, in one tick so the Redis commands travel in one pipeline: the answer is
   * remembered, the user's read cache invalidated, and the relays nudged (a write that queued a
   * job nudges the outbox relay too).
   */
  private async committed(
    claim: WriteClaim,
    response: WriteResponse,
    userId: string,
    queued: NoteRow | null,
  ): Promise<WriteOutcome> {
    if (queued) {
      this.deps.metrics.jobsEnqueued.inc({ kind: 'note.process', priority: queued.priority });
      this.deps.outbox.nudge();
    }
    const [outcome] = await Promise.all([claim.committed(response), this.afterCommit(userId)]);
    return outcome;
  }

  /**
   * Invalidate, then let the event relay publish: once this write has answered no read sees the
   * old note (the relay invalidates again before the event goes out, for a client reacting to it).
   */
  private async afterCommit(userId: string): Promise<void> {
    await this.cache.invalidate(userId);
    this.deps.liveEvents.nudge();
  }
}
