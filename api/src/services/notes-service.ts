import { DEFAULT_PRIORITY } from '@notes/contracts';
import { uuidv7 } from 'uuidv7';
import type { AppDeps } from '../app.ts';
import type { Tx } from '../db/client.ts';
import { NotFoundError, PreconditionFailedError } from '../errors/index.ts';
import { listJobsForNote, toJob } from '../repositories/jobs-repository.ts';
import {
  deleteNote,
  findNote,
  findNoteForUpdate,
  insertNote,
  listNotes,
  type NoteRow,
  toNote,
  updateNote,
} from '../repositories/notes-repository.ts';
import {
  type CreateNoteBody,
  DEFAULT_SORT,
  type Job,
  LIST_DEFAULT_LIMIT,
  type ListNotesQuery,
  type Note,
  type NoteList,
  type UpdateNoteBody,
} from '../schemas/notes.ts';
import type { NoteEventType } from './events.ts';
import { IdempotencyService, type WriteEffect, type WriteOutcome, type WriteRequest } from './idempotency.ts';
import { enqueueJob } from './job-enqueue.ts';
import { DEFAULT_LIST_FIELD, NoteCache, noteField } from './note-cache.ts';

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

/**
 * The rules of notes (contract section 4). Every write runs through IdempotencyService in one
 * transaction with its fence, its job and outbox row; after the commit it invalidates the user's
 * read cache, nudges the outbox relay and publishes the live event.
 *
 * Every accepted PATCH is a change: the version goes up and a new note.process job is queued,
 * even when only the priority changed (the job carries the priority, and the old job's result
 * would be recorded against a stale version and discarded). The note goes back to `queued` and
 * its result, attempts and error are cleared, since they described the previous version.
 */
export class NotesService {
  private readonly idempotency: IdempotencyService;
  private readonly cache: NoteCache;

  constructor(
    private readonly deps: Pick<AppDeps, 'config' | 'database' | 'redis' | 'logger' | 'events' | 'outbox' | 'metrics'>,
  ) {
    this.idempotency = new IdempotencyService(deps);
    this.cache = NoteCache.for(deps.redis);
  }

  create(userId: string, input: CreateNoteBody, meta: WriteMeta): Promise<WriteOutcome> {
    return this.idempotency.execute({ ...meta, userId, body: input }, async (tx) => {
      const now = new Date();
      const row: NoteRow = {
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
      };
      await insertNote(tx, row);
      return this.enqueued(tx, row, 'note.created', { status: 201, location: noteLocation(row.id) });
    });
  }

  update(userId: string, id: string, input: UpdateNoteBody, meta: WriteMeta): Promise<WriteOutcome> {
    return this.idempotency.execute({ ...meta, userId, body: input }, async (tx) => {
      const current = await this.lockOwned(tx, userId, id, meta.ifMatch);
      const now = new Date();
      const changes = {
        ...(input.title !== undefined ? { title: input.title } : {}),
        ...(input.body !== undefined ? { body: input.body } : {}),
        ...(input.priority !== undefined ? { priority: input.priority } : {}),
        version: current.version + 1,
        status: 'queued' as const,
        result: null,
        attempts: 0,
        lastError: null,
        processedAt: null,
        updatedAt: now,
      };
      await updateNote(tx, userId, id, changes);
      return this.enqueued(tx, { ...current, ...changes }, 'note.updated', { status: 200, location: null });
    });
  }

  /** Deletes the note; its jobs stay as history (a job of a deleted note is discarded by the pipeline). */
  remove(userId: string, id: string, meta: WriteMeta): Promise<WriteOutcome> {
    return this.idempotency.execute({ ...meta, userId, body: undefined }, async (tx) => {
      await this.lockOwned(tx, userId, id, meta.ifMatch);
      await deleteNote(tx, userId, id);
      return {
        response: { status: 204, body: null, location: null },
        afterCommit: () => this.afterCommit(userId, 'note.deleted', { id }),
      };
    });
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
      !query.q;
    const cached = cacheable ? await this.cache.read<NoteList>(userId, DEFAULT_LIST_FIELD) : null;
    if (cached) this.countCache('list', cached.hit);
    if (cached?.hit) return cached.value;
    const { rows, total } = await listNotes(this.deps.database.db, userId, query);
    const page = { data: rows.map(toNote), total };
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
  private async lockOwned(tx: Tx, userId: string, id: string, ifMatch: string | undefined): Promise<NoteRow> {
    const row = await findNoteForUpdate(tx, userId, id);
    if (!row) throw new NotFoundError('No such note.');
    if (!ifMatchSatisfied(ifMatch, row.version)) throw new PreconditionFailedError();
    return row;
  }

  /** Queues the note's processing in the same transaction and describes the answer. */
  private async enqueued(
    tx: Tx,
    row: NoteRow,
    event: NoteEventType,
    answer: { status: number; location: string | null },
  ): Promise<WriteEffect> {
    await enqueueJob(
      tx,
      { kind: 'note.process', noteId: row.id, noteVersion: row.version, userId: row.userId, priority: row.priority },
      row.updatedAt,
    );
    const note = toNote(row);
    return {
      response: { ...answer, body: note },
      afterCommit: async () => {
        this.deps.metrics.jobsEnqueued.inc({ kind: 'note.process', priority: row.priority });
        this.deps.outbox.nudge();
        await this.afterCommit(row.userId, event, note);
      },
    };
  }

  private async afterCommit(userId: string, event: NoteEventType, data: unknown): Promise<void> {
    // Invalidate first: once this write has answered, no read may see the old note.
    await this.cache.invalidate(userId);
    await this.deps.events.publish(userId, event, data);
  }
}
